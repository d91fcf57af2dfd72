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
  'req.headers.authorization',
  'config.server.apiToken',
];

/**
 * JSON lines for machines; colourised lines only when a person watches a
 * terminal (and pino-pretty is installed). `LOG_LEVEL` picks the level.
 */
export function createLogger(env: NodeJS.ProcessEnv = process.env, stream: NodeJS.WritableStream = process.stdout): Logger {
  const options = {
    level: env.LOG_LEVEL ?? 'info',
    base: { service: 'smoke' },
    redact: { paths: REDACT, censor: '<redacted>' },
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
