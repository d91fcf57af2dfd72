import { ConfigError } from '../errors.ts';

const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of a parsed YAML
 * tree, so secrets can stay in the environment (a Kubernetes Secret) rather
 * than in the file. `$$` is a literal `$`. An unset variable without a default
 * is an error naming the key that refers to it.
 */
export function expandEnv(node: unknown, env: NodeJS.ProcessEnv, path: string[] = []): unknown {
  if (typeof node === 'string') return expandString(node, env, path);
  if (Array.isArray(node)) return node.map((item, i) => expandEnv(item, env, [...path, String(i)]));
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) out[key] = expandEnv(value, env, [...path, key]);
    return out;
  }
  return node;
}

function expandString(value: string, env: NodeJS.ProcessEnv, path: string[]): string {
  const missing: string[] = [];
  const result = value.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$$') return '$';
    const found = env[name!];
    if (found !== undefined && found !== '') return found;
    if (fallback !== undefined) return fallback;
    missing.push(name!);
    return match;
  });
  if (missing.length > 0) {
    const key = path.join('.') || '(root)';
    const issue = `${key}: environment variable ${missing.join(', ')} is not set (use \${${missing[0]}:-default} for a default)`;
    throw new ConfigError(issue, [issue]);
  }
  return result;
}

/** The variables a string refers to, as `${NAME}` (no defaults: they may hold secrets). */
export function references(value: string): string[] {
  return [...value.matchAll(REFERENCE)].filter(([match]) => match !== '$$').map(([, name]) => `\${${name}}`);
}
