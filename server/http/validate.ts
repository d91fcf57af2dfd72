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

