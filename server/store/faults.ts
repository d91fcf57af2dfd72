import { StoreUnavailable } from '../errors.ts';

/**
 * SQLite result codes (better-sqlite3 puts them in `code`, extended codes
 * included) that mean the database cannot take writes right now, as opposed
 * to a bad query: full disk, read-only file or mount, I/O failure, a lock
 * held past the busy timeout, a file that cannot be opened or is damaged.
 */
const SQLITE_CODES = /^SQLITE_(FULL|IOERR|READONLY|BUSY|LOCKED|CANTOPEN|CORRUPT|NOTADB)(_|$)/;

/**
 * PostgreSQL SQLSTATEs that mean the server cannot serve us right now, as
 * opposed to a bad query: 08 connection exceptions, 53 insufficient resources
 * (disk full, out of memory, too many connections), 58 system errors (I/O),
 * 57P01-57P03 shutting down or not accepting connections yet, 57014 a query
 * cancelled by `statement_timeout` (a server too slow to answer), 25006 a
 * read-only transaction (a standby, or `default_transaction_read_only`).
 */
const POSTGRES_CODES = /^(08|53|58)...$|^57P0[123]$|^57014$|^25006$/;

/** Socket errors from reaching PostgreSQL over the network. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/**
 * What `pg` and its pool throw without a code when the server goes away or
 * never answers: a connection ended under a query, a connect or query past
 * its timeout, a client left broken by an earlier connection error.
 */
const POSTGRES_CLIENT_MESSAGES = /^Connection terminated|timeout exceeded when trying to connect|^Query read timeout|Client has encountered a connection error and is not queryable|^Client was closed and is not queryable/;

/** How deep a chain of causes (and an AggregateError's errors) is searched. */
const MAX_DEPTH = 4;

/**
 * True for an error that says the database cannot be used right now: SQLite
 * cannot write (full, read-only, I/O error, locked), or PostgreSQL is down,
 * unreachable or refusing. False for a bad query or a constraint.
 */
export function isWriteFault(err: unknown, depth = 0): boolean {
  if (err === null || typeof err !== 'object' || depth > MAX_DEPTH) return false;
  const { code, message, cause, errors } = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && (SQLITE_CODES.test(code) || POSTGRES_CODES.test(code) || NETWORK_CODES.has(code))) return true;
  if (typeof message === 'string' && POSTGRES_CLIENT_MESSAGES.test(message)) return true;
  // Node's connect to a name with several addresses fails with an AggregateError of each attempt.
  if (Array.isArray(errors) && errors.some((e) => isWriteFault(e, depth + 1))) return true;
  return isWriteFault(cause, depth + 1);
}

/**
 * The error as a `StoreUnavailable` when it is one or a database's way of
 * saying the same, naming what the service was doing; the HTTP layer asks
 * here too, so a fault that escaped a store method still maps to a 503.
 */
export function asStoreUnavailable(err: unknown, action = 'complete the request'): StoreUnavailable | undefined {
  if (err instanceof StoreUnavailable) return err;
  return isWriteFault(err) ? new StoreUnavailable(action, { cause: err }) : undefined;
}

/** Runs a write, turning the database's faults into `StoreUnavailable` naming what was being written. */
export async function writing<T>(action: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    throw asStoreUnavailable(err, action) ?? err;
  }
}

/**
 * Runs a read the same way: PostgreSQL down fails reads as well as writes,
 * and a request reading through it should get the same clear 503.
 */
export const reading: <T>(action: string, read: () => Promise<T>) => Promise<T> = writing;
