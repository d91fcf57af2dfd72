/** How long a read of the shared store serves scrapes: a burst of scrapes (several Prometheus servers, a dashboard) costs one read. */
export const STORE_READ_TTL_MS = 3_000;

export interface StoreReadOptions {
  /** What the read is, for the log line when it fails. */
  readonly what: string;
  readonly ttlMs?: number;
  /** Milliseconds; injectable for tests. */
  readonly now?: () => number;
  /** Told once when reads start failing, and once when they work again. */
  readonly log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

export interface StoreRead<T> {
  /** The last good value, read again when older than the TTL; undefined until a read has worked. */
  get(): T | undefined;
  /** Takes a value the caller just read from the store itself, as if this had read it now. */
  put(value: T): void;
  /** The next `get` reads: this replica has just written what the value shows. */
  invalidate(): void;
}

/**
 * A cached read of the store for gauges that describe shared state, so every
 * replica exports what the store holds rather than what it heard itself. A
 * read that throws (a disk fault: `StoreUnavailable`, SQLITE_IOERR) keeps the
 * last good value, so /metrics keeps answering, and is not retried before the
 * TTL is up: a failing disk is not hammered once per scrape.
 */
export function cachedStoreRead<T>(read: () => T, options: StoreReadOptions): StoreRead<T> {
  const ttlMs = options.ttlMs ?? STORE_READ_TTL_MS;
  const now = options.now ?? Date.now;
  let value: T | undefined;
  let readAt: number | undefined;
  let failing = false;

  return {
    get() {
      const at = now();
      if (readAt !== undefined && at - readAt < ttlMs) return value;
      readAt = at;
      try {
        value = read();
        if (failing) options.log?.info({ what: options.what }, 'metrics read the store again');
        failing = false;
      } catch (err) {
        if (!failing) options.log?.warn({ err, what: options.what }, 'metrics could not read the store; the last values stay until it answers');
        failing = true;
      }
      return value;
    },
    put(next) {
      value = next;
      readAt = now();
    },
    invalidate() {
      readAt = undefined;
    },
  };
}
