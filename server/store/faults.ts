import { StoreUnavailable } from '../errors.ts';

/**
 * SQLite result codes (better-sqlite3 puts them in `code`, extended codes
 * included) that mean the database cannot take writes right now, as opposed
 * to a bad query: full disk, read-only file or mount, I/O failure, a lock
 * held past the busy timeout, a file that cannot be opened or is damaged.
 */
const UNAVAILABLE_CODES = /^SQLITE_(FULL|IOERR|READONLY|BUSY|LOCKED|CANTOPEN|CORRUPT|NOTADB)(_|$)/;

/** True for an error SQLite raises when the database cannot be written. */
export function isWriteFault(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNAVAILABLE_CODES.test(code);
}

/**
 * The error as a `StoreUnavailable` when it is one or SQLite's way of saying
 * the same; modules that still keep tables in the store's file (signals, gate
 * deliveries) raise SQLite's own errors, so the HTTP layer asks here too.
 */
export function asStoreUnavailable(err: unknown, action = 'complete the request'): StoreUnavailable | undefined {
  if (err instanceof StoreUnavailable) return err;
  return isWriteFault(err) ? new StoreUnavailable(action, { cause: err }) : undefined;
}

/** Runs a write, turning SQLite's write faults into `StoreUnavailable` naming what was being written. */
export function writing<T>(action: string, write: () => T): T {
  try {
    return write();
  } catch (err) {
    throw asStoreUnavailable(err, action) ?? err;
  }
}
