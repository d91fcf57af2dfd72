/** The value a zod issue's path points at in the raw input: zod 4 issues do not carry it, and "missing" reads better than "expected string". */
export function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
