import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';

/** Paths pino blanks out wherever they appear in a log object. */
const REDACT = [
  'apiToken',
  'secret',
  'headers',
  '*.apiToken',
  '*.secret',
  '*.headers',
  'token',
  'password',
  '*.token',
  '*.password',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature-256"]',
  'req.headers["webhook-signature"]',
  'res.headers["set-cookie"]',
  'config.server.apiToken',
];

/** Marker that replaces what a log line must not hold. */
export const REDACTED = '<redacted>';

/**
 * Query parameters that may carry a credential. Contained words for the
 * unambiguous ones; short ones only whole, so `keyword` or `zipcode` stay.
 */
const CREDENTIAL_PARAM = /token|secret|passw|auth|signature|session|credential|api[-_]?key|^(?:key|sig|pwd|code)$/i;

/**
 * A request URL fit for a log line: the values of query parameters whose
 * names suggest a credential are replaced, everything else kept as sent,
 * e.g. `/api/v1/deployments?token=<redacted>&wait=30`.
 */
export function redactUrl(url: string): string {
  const start = url.indexOf('?');
  if (start === -1) return url;
  const end = url.indexOf('#', start);
  const query = url.slice(start + 1, end === -1 ? undefined : end);
  const redacted = query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq === -1 ? pair : pair.slice(0, eq);
      return eq !== -1 && CREDENTIAL_PARAM.test(decodeName(rawName)) ? `${rawName}=${REDACTED}` : pair;
    })
    .join('&');
  return `${url.slice(0, start + 1)}${redacted}${end === -1 ? '' : url.slice(end)}`;
}

function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    // Malformed percent-encoding: judge the name as sent.
    return raw;
  }
}

/**
 * JSON lines for machines; colourised lines only when a person watches a
 * terminal (and pino-pretty is installed). `LOG_LEVEL` picks the level.
 */
export function createLogger(env: NodeJS.ProcessEnv = process.env, stream: NodeJS.WritableStream = process.stdout): Logger {
  const options = {
    level: env.LOG_LEVEL ?? 'info',
    base: { service: 'smoke' },
    redact: { paths: REDACT, censor: REDACTED },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if ((stream as NodeJS.WriteStream).isTTY && env.LOG_FORMAT !== 'json' && hasPretty()) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service' } } });
  }
  return pino(options, stream);
}

function hasPretty(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}
