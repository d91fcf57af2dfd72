/**
 * The few error kinds the service distinguishes. Each carries a message
 * written for the person who has to act on it, and keeps its cause.
 */

/** The config file is missing or invalid; start-up stops with `issues` listed. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly issues: readonly string[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A request the API refuses: maps to a 4xx with `field` naming what is wrong. */
export class RequestError extends Error {
  override readonly name = 'RequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Domain errors: what the verifier, scheduler, gates and store refuse or
 * cannot do, in their own words. Only `server/http/errors.ts` turns them into
 * statuses and codes. `field` names the input at fault, in the caller's terms.
 */

/** The thing asked for does not exist. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
  constructor(
    readonly what: string,
    readonly id: string,
    options?: ErrorOptions,
  ) {
    super(`${what} '${id}' not found`, options);
  }
}

/** A request names an environment the config does not have. */
export class UnknownEnvironment extends Error {
  override readonly name = 'UnknownEnvironment';
  constructor(
    readonly environment: string,
    known: readonly string[],
    readonly field = 'environment',
    options?: ErrorOptions,
  ) {
    super(`environment '${environment}' is not in the config (known: ${known.join(', ')})`, options);
  }
}

/** An idempotency key already used for a different deployment. */
export class IdempotencyConflict extends Error {
  override readonly name = 'IdempotencyConflict';
  constructor(
    message: string,
    readonly field = 'deploymentId',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** The same conflict, named by the field the caller used for the key. */
  as(field: string): IdempotencyConflict {
    return new IdempotencyConflict(this.message, field, { cause: this });
  }
}

/** Work refused because the service is stopping; it is worth retrying once it is back. */
export class ShuttingDown extends Error {
  override readonly name = 'ShuttingDown';
  constructor(options?: ErrorOptions) {
    super('the service is shutting down; try again once it is back', options);
  }
}

/** The database cannot answer or refuses writes (disk full, read-only, I/O error, locked, PostgreSQL down): nothing was written. */
export class StoreUnavailable extends Error {
  override readonly name = 'StoreUnavailable';
  constructor(
    /** What the service was doing, e.g. `record a flow result`. */
    readonly action: string,
    options: ErrorOptions & { cause: unknown },
  ) {
    super(
      `the store is unavailable: ${describeError(options.cause)}; could not ${action}. The service retries on its own once the database answers again (free space on its disk or make it writable; for PostgreSQL, check that it is up and reachable)`,
      options,
    );
  }
}

/** The service itself could not do its job (store, browser, runner): never the deploy's fault. */
export class ServiceFault extends Error {
  override readonly name = 'ServiceFault';
}

/** Message of any thrown value, with its causes, for logs and stored errors. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    const message = current instanceof Error ? current.message : String(current);
    // A message that already quotes its cause (StoreUnavailable does) is not repeated.
    if (!parts.at(-1)?.includes(message)) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': caused by: ');
}
