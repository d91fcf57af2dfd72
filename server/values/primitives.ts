import { z } from 'zod';

/** Building blocks shared by the sections of the config schema. */

/** Names of environments, schedules, webhooks: safe as file names, metric labels and URL parts. */
export const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const NAME_RULE = 'must be lower-case letters, digits, - or _';

export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A whole number, also when it arrives as a string from `${VAR}` expansion. */
export const count = (min: number, max: number) =>
  z.preprocess(
    (value) => (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value),
    z
      .number({ error: 'must be a whole number' })
      .int({ error: 'must be a whole number' })
      .min(min, { error: `must be at least ${min}` })
      .max(max, { error: `must be at most ${max}` }),
  );

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
