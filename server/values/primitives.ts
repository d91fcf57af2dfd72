import { z } from 'zod';

/** Building blocks shared by the sections of the config schema. */

/** Names of environments, schedules, webhooks: safe as file names, metric labels and URL parts. */
export const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const NAME_RULE = 'must be lower-case letters, digits, - or _';

export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * A whole number in [min, max], also when it arrives as a string from
 * `${VAR}` expansion (`port: ${SMOKE_PORT}`): digits only, so `80abc` or
 * `1e3` is refused rather than read as far as it goes. One message for every
 * way it can be wrong, naming the range and what was given.
 */
export const count = (min: number, max: number) => {
  const error = (issue: { input?: unknown }) => `must be a whole number from ${min} to ${max}, not ${shown(issue.input)}`;
  return z.preprocess(
    (value) => (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value),
    z.number({ error }).int({ error }).min(min, { error }).max(max, { error }),
  );
};

/** A given value as an error message quotes it: short, and never more than a line. */
function shown(value: unknown): string {
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`.replace(/[\r\n]/g, ' ');
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return 'empty';
  return Array.isArray(value) ? 'a list' : 'a mapping';
}

export const httpUrl = z
  .string({ error: 'must be an http(s) URL' })
  .refine((value) => isHttpUrl(value), { error: 'must be an http(s) URL' });

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
