/** How long a read of the shared store serves scrapes: a burst of scrapes (several Prometheus servers, a dashboard) costs one read. */
export const STORE_READ_TTL_MS = 3_000;

/**
 * How long a scrape waits for a read of the store before it answers with the
 * last values, ms: well inside Prometheus's default 10 s scrape timeout, so a
 * slow or hung database (PostgreSQL cut off until its 30 s statement
 * timeout) never makes /metrics itself fail. The read goes on and fills the
 * cache when it lands.
 */
export const STORE_READ_WAIT_MS = 2_000;

export interface StoreReadOptions {
  /** What the read is, for the log line when it fails. */
  readonly what: string;
  readonly ttlMs?: number;
  /** How long `get` waits for a read before it answers with the last value; {@link STORE_READ_WAIT_MS} unless a test says otherwise. */
  readonly waitMs?: number;
  /** Milliseconds; injectable for tests. */
  readonly now?: () => number;
  /** Told once when reads start failing (or are too slow), and once when they work again. */
  readonly log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

export interface StoreRead<T> {
  /**
   * The last good value, read again when older than the TTL; undefined until
   * a read has worked. Never rejects: a read that fails or outlasts the wait
   * leaves the last good value.
   */
  get(): Promise<T | undefined>;
  /** Takes a value the caller just read from the store itself, as if this had read it now. */
  put(value: T): void;
  /** The next `get` reads: this replica has just written what the value shows. */
  invalidate(): void;
}

/**
 * A cached read of the store for gauges that describe shared state, so every
 * replica exports what the store holds rather than what it heard itself.
 * Single-flight: concurrent `get`s (the gauges of one scrape, prom-client
 * collects them in parallel, or two scrapes at once) share one read. A read
 * that rejects (a disk fault, PostgreSQL down: `StoreUnavailable`) keeps the
 * last good value, so /metrics keeps answering, and is not retried before the
 * TTL is up: a failing database is not hammered once per scrape.
 */
export function cachedStoreRead<T>(read: () => Promise<T>, options: StoreReadOptions): StoreRead<T> {
  const ttlMs = options.ttlMs ?? STORE_READ_TTL_MS;
  const waitMs = options.waitMs ?? STORE_READ_WAIT_MS;
  const now = options.now ?? Date.now;
  let value: T | undefined;
  /** When the value landed, or when the read that failed to give one started; undefined: read at the next `get`. */
  let readAt: number | undefined;
  let failing = false;
  // A read started before a write this replica made (invalidate, put) must not overwrite what came after it.
  let generation = 0;
  let appliedGeneration = -1;
  let inFlight: { readonly generation: number; readonly landed: Promise<void> } | undefined;

  function trouble(what: object, msg: string): void {
    if (!failing) options.log?.warn({ ...what, what: options.what }, msg);
    failing = true;
  }

  function start(): Promise<void> {
    const mine = generation;
    readAt = now();
    const landed = Promise.resolve()
      .then(read)
      .then(
        (next) => {
          if (mine >= appliedGeneration) {
            value = next;
            appliedGeneration = mine;
            // Served for the TTL from when it landed: a slow store is not asked again the moment it answers.
            if (mine === generation) readAt = now();
          }
          if (failing) options.log?.info({ what: options.what }, 'metrics read the store again');
          failing = false;
        },
        (err: unknown) => trouble({ err }, 'metrics could not read the store; the last values stay until it answers'),
      )
      .finally(() => {
        if (inFlight?.landed === landed) inFlight = undefined;
      });
    inFlight = { generation: mine, landed };
    return landed;
  }

  async function waitAtMost(landed: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const outlasted = new Promise<'slow'>((resolve) => {
      timer = setTimeout(() => resolve('slow'), waitMs);
    });
    try {
      const how = await Promise.race([landed, outlasted]);
      if (how === 'slow') trouble({ waitMs }, 'metrics waited too long for the store; the last values stay until it answers');
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async get() {
      const fresh = readAt !== undefined && now() - readAt < ttlMs;
      if (fresh) {
        // Within the TTL: a read still on its way (the first, or a slow one) is shared, not repeated.
        if (inFlight && inFlight.generation === generation) await waitAtMost(inFlight.landed);
        return value;
      }
      const landed = inFlight && inFlight.generation === generation ? inFlight.landed : start();
      await waitAtMost(landed);
      return value;
    },
    put(next) {
      generation += 1;
      value = next;
      appliedGeneration = generation;
      readAt = now();
    },
    invalidate() {
      generation += 1;
      readAt = undefined;
    },
  };
}
