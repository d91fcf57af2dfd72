import type { RequestHandler, RequestParamHandler } from 'express';
import { z } from 'zod';
import { RequestError } from '../errors.ts';
import { valueAt } from '../zod-issues.ts';

/** Parses `input` or throws a 400 naming the first offending field. */
export function validate<T extends z.ZodType>(schema: T, input: unknown, what: string): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const field = issue.keys[0]!;
    throw new RequestError(400, 'unknown_field', `${what}: unknown field '${field}'`, field);
  }
  const field = issue.path.map(String).join('.');
  if (!field) throw new RequestError(400, 'invalid_body', `${what} must be a JSON object`);
  const missing = issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined;
  const message = missing ? `${field} is required` : `${field}: ${issue.message}`;
  throw new RequestError(400, missing ? 'missing_field' : 'invalid_field', `${what}: ${message}`, field || undefined);
}

/** A short printable identifier: versions, service names, idempotency keys. */
export const label = (max: number) =>
  z
    .string({ error: 'must be a string' })
    .min(1, { error: 'must not be empty' })
    .max(max, { error: `must be at most ${max} characters` })
    .regex(/^[\x21-\x7e]+$/, { error: 'must be printable ASCII without spaces' });

/**
 * Parses a query string. A key given twice arrives as an array; it is refused
 * by name here, as "expected string" would not tell the caller what they did.
 */
export function validateQuery<T extends z.ZodObject>(schema: T, query: unknown): z.output<T> {
  const entries = Object.entries((query ?? {}) as Record<string, unknown>);
  const repeated = entries.find(([key, value]) => Array.isArray(value) && Object.hasOwn(schema.shape, key))?.[0];
  if (repeated !== undefined) throw new RequestError(400, 'repeated_field', `query: '${repeated}' is given more than once; give it once`, repeated);
  return validate(schema, query, 'query');
}

/** For routes that take no query at all: a stray key is more likely a typo than something to ignore. */
export const noQuery = z.strictObject({});

/** A whole number in range, as a query string carries it; `unit` (plural) reads after the number in messages. */
export const wholeNumber = (min: number, max: number, unit?: string) => {
  const of = unit ? ` ${unit}` : '';
  return z
    .string()
    .regex(/^\d+$/, { error: `must be a whole number${unit ? ` of ${unit}` : ''}` })
    .transform(Number)
    .pipe(z.number().min(min, { error: `must be at least ${min}${of}` }).max(max, { error: `must be at most ${max}${of}` }));
};

/** Ids the store makes look like `dep_mi5x3k0a1b2c3d4e5f6`; allow more than that, but never slashes, spaces or control characters. */
const ID = /^[A-Za-z0-9_-]{1,100}$/;

/** A path id as `pathParam` accepts it, for route docs. */
export const idParam = z.string().regex(ID).describe('An id smoke gave the record, e.g. `dep_mi5x3k0a1b2c3d4e5f6` or `run_…`.');

/**
 * Refuses a path id that no record can have, naming the parameter, before a
 * lookup would echo it back in a 404 (it may be kilobytes, or hold a NUL).
 */
export function pathParam(field: string, pattern: RegExp = ID, rule = 'must be letters, digits, _ or - (at most 100)'): RequestParamHandler {
  return (_req, _res, next, value: string) => {
    if (!pattern.test(value)) throw new RequestError(400, 'invalid_field', `path: ${field} ${rule}`, field);
    next();
  };
}

/**
 * Answers 405 with `Allow` for a path that exists under other methods, so a
 * wrong verb is told apart from a wrong path. Mount it after the path's routes.
 */
export function methodNotAllowed(allowed: readonly string[]): RequestHandler {
  const allow = allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed;
  return (req, res) => {
    res.set('Allow', allow.join(', '));
    throw new RequestError(405, 'method_not_allowed', `${req.method} is not allowed here; use ${allowed.join(' or ')}`);
  };
}
