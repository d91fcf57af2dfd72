import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { valueAt } from '../zod-issues.ts';
import { expandEnv } from './expand.ts';
import { configSchema, type RawConfig } from './schema.ts';
import { Secret } from './secret.ts';

export interface EnvironmentConfig {
  readonly name: string;
  readonly baseURL: string;
  readonly baseline?: string;
  readonly headers: Readonly<Record<string, Secret>>;
  /** Absolute path. */
  readonly storageState?: string;
}

export interface SuiteConfig {
  /** Absolute path of the team's Playwright config, or of a folder of specs. */
  readonly path: string;
  readonly kind: 'config' | 'directory';
  readonly grep: string;
  readonly grepInvert?: string;
  readonly retries: number;
  readonly workers: number;
}

export interface Config {
  /** Absolute path of the file this came from; relative paths in it resolve against its folder. */
  readonly file: string;
  readonly service: string;
  readonly server: {
    readonly host: string;
    readonly port: number;
    readonly publicUrl?: string;
    readonly apiToken?: Secret;
  };
  readonly suite: SuiteConfig;
  readonly runs: {
    readonly deadlineSeconds: number;
    readonly concurrency: number;
    readonly graceSeconds: number;
    readonly reachabilityTimeoutSeconds: number;
    readonly resumeAttempts: number;
  };
  readonly storage: { readonly database: string; readonly artifacts: string };
  readonly environments: Readonly<Record<string, EnvironmentConfig>>;
}

export const DEFAULT_CONFIG_FILE = './smoke.config.yaml';

/** Reads, expands and validates the config file once; throws ConfigError listing every problem. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${absolute}: ${(err as NodeJS.ErrnoException).code ?? err}`, [], {
      cause: err,
    });
  }
  return parseConfig(text, absolute, env);
}

/** Validates config text as if it were the file `file` (which need not exist). */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let document: unknown;
  try {
    document = parseYaml(text, { prettyErrors: true }) ?? {};
  } catch (err) {
    const detail = err instanceof YAMLParseError ? err.message.split('\n')[0] : String(err);
    throw new ConfigError(`${file} is not valid YAML: ${detail}`, [String(detail)], { cause: err });
  }
  if (typeof document !== 'object' || Array.isArray(document)) {
    throw new ConfigError(`${file}: the top level must be a mapping of keys (service, server, suite, environments, …)`);
  }
  const expanded = expandEnv(document, env);
  const result = configSchema.safeParse(expanded);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => formatIssue(issue, expanded));
    throw new ConfigError(`invalid config ${file}:\n  ${issues.join('\n  ')}`, issues);
  }
  return finish(result.data, file);
}

function finish(raw: RawConfig, file: string): Config {
  const dir = path.dirname(file);
  const suitePath = path.resolve(dir, raw.suite.config);
  const environments: Record<string, EnvironmentConfig> = {};
  for (const [name, env] of Object.entries(raw.environments)) {
    environments[name] = Object.freeze({
      name,
      baseURL: env.baseURL,
      ...(env.baseline !== undefined && { baseline: env.baseline }),
      headers: Object.freeze(Object.fromEntries(Object.entries(env.headers).map(([k, v]) => [k, new Secret(v)]))),
      ...(env.storageState !== undefined && { storageState: path.resolve(dir, env.storageState) }),
    });
  }
  return deepFreeze({
    file,
    service: raw.service,
    server: {
      host: raw.server.host,
      port: raw.server.port,
      ...(raw.server.publicUrl !== undefined && { publicUrl: raw.server.publicUrl.replace(/\/+$/, '') }),
      ...(raw.server.apiToken !== undefined && { apiToken: new Secret(raw.server.apiToken) }),
    },
    suite: {
      path: suitePath,
      kind: isDirectory(suitePath) ? 'directory' : 'config',
      grep: raw.suite.grep,
      ...(raw.suite.grepInvert !== undefined && { grepInvert: raw.suite.grepInvert }),
      retries: raw.suite.retries,
      workers: raw.suite.workers,
    },
    runs: { ...raw.runs },
    storage: {
      database: path.resolve(dir, raw.storage.database),
      artifacts: path.resolve(dir, raw.storage.artifacts),
    },
    environments,
  });
}

function formatIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const key = issue.path.map(String).join('.') || '(top level)';
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${issue.path.length ? `${key}.` : ''}${k}: unknown key (check its spelling)`).join('\n  ');
  }
  if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) return `${key}: is required`;
  if (issue.code === 'invalid_key') return `${key}: ${issue.issues[0]?.message ?? issue.message}`;
  return `${key}: ${issue.message}`;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    // A missing suite is reported by the runner on first use, with the runner's own words.
    return false;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof Secret) && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
