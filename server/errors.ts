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

/** The thing asked for does not exist. */
export class NotFoundError extends RequestError {
  constructor(what: string, id: string) {
    super(404, 'not_found', `${what} '${id}' not found`);
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
    parts.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': caused by: ');
}
