import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { valueAt } from '../zod-issues.ts';
import { expandEnv, references } from './expand.ts';
import { configSchema, type RawConfig } from './schema.ts';
import { Secret } from '../values/secret.ts';
import { rollbackConfig, type RollbackConfig } from '../signals/config.ts';
import { gatesConfig, type GatesConfig } from '../gates/config.ts';

/** How much of the suite the baseline runs: all of it beside the target, or only what failed there. */
export type BaselineMode = 'always' | 'on-failure';

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

export interface ScheduleConfig {
  readonly name: string;
  /** 5 fields, or 6 with seconds first; read in `timezone`. */
  readonly cron: string;
  /** IANA name as Intl spells it. */
  readonly timezone: string;
  /** One run per environment per tick, each with its baseline beside it. */
  readonly environments: readonly string[];
  /** Overrides the suite's grep. */
  readonly grep?: string;
  /** Upper bound of the random delay before a cron start, seconds; 0 for none. */
  readonly jitterSeconds: number;
  /** Interval of re-runs after a failing run, seconds, until one passes. */
  readonly recheckSeconds?: number;
}

export interface Config {
  /** Absolute path of the file this came from; relative paths in it resolve against its folder. */
  readonly file: string;
  readonly service: string;
  readonly server: {
    readonly host: string;
    readonly port: number;
    /** This replica's name on its runs and in its logs: the configured one, or `<hostname>-<pid>`. */
    readonly instanceId: string;
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
    readonly leaseSeconds: number;
    readonly failFast: boolean;
    readonly baseline: BaselineMode;
    readonly warmBrowser: boolean;
    readonly warmRunner: boolean;
  };
  readonly storage: {
    /** The SQLite file; unused when `postgres` is set. */
    readonly database: string;
    /** The PostgreSQL URL every replica shares; it carries a password. */
    readonly postgres?: Secret;
    readonly artifacts: string;
    /** Whole days a finished run, a done deployment and a delivered signal are kept. */
    readonly retentionDays: number;
  };
  /** By name; a Map so a name from a request can never reach `Object.prototype`. */
  readonly environments: ReadonlyMap<string, EnvironmentConfig>;
  readonly schedules: readonly ScheduleConfig[];
  readonly rollback: RollbackConfig;
  readonly gates: GatesConfig;
}

export const DEFAULT_CONFIG_FILE = './smoke.config.yaml';

/** What the default `server.instanceId` is made of; the running process unless a test says otherwise. */
export interface Machine {
  readonly hostname: string;
  readonly pid: number;
}

const THIS_MACHINE: Machine = { hostname: os.hostname(), pid: process.pid };

/** Reads, expands and validates the config file once; throws ConfigError listing every problem. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env, machine: Machine = THIS_MACHINE): Config {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${absolute}: ${(err as NodeJS.ErrnoException).code ?? err}`, [], {
      cause: err,
    });
  }
  return parseConfig(text, absolute, env, machine);
}

/** Validates config text as if it were the file `file` (which need not exist). */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env, machine: Machine = THIS_MACHINE): Config {
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
    const issues = result.error.issues.map((issue) => formatIssue(issue, expanded, document));
    throw new ConfigError(`invalid config ${file}:\n  ${issues.join('\n  ')}`, issues);
  }
  return finish(result.data, file, machine);
}

function finish(raw: RawConfig, file: string, machine: Machine): Config {
  const dir = path.dirname(file);
  const suitePath = path.resolve(dir, raw.suite.config);
  const environments = new Map<string, EnvironmentConfig>();
  for (const [name, env] of Object.entries(raw.environments)) {
    environments.set(name, Object.freeze({
      name,
      baseURL: env.baseURL,
      ...(env.baseline !== undefined && { baseline: env.baseline }),
      headers: Object.freeze(Object.fromEntries(Object.entries(env.headers).map(([k, v]) => [k, new Secret(v)]))),
      ...(env.storageState !== undefined && { storageState: path.resolve(dir, env.storageState) }),
    }));
  }
  return deepFreeze({
    file,
    service: raw.service,
    server: {
      host: raw.server.host,
      port: raw.server.port,
      instanceId: raw.server.instanceId ?? defaultInstanceId(machine),
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
      ...(raw.storage.postgres !== undefined && { postgres: new Secret(raw.storage.postgres) }),
      artifacts: path.resolve(dir, raw.storage.artifacts),
      retentionDays: raw.storage.retentionDays,
    },
    environments,
    schedules: raw.schedules.map(
      (s): ScheduleConfig => ({
        name: s.name,
        cron: s.cron,
        timezone: s.timezone,
        environments: s.environments,
        ...(s.grep !== undefined && { grep: s.grep }),
        jitterSeconds: s.jitterSeconds,
        ...(s.recheckSeconds !== undefined && { recheckSeconds: s.recheckSeconds }),
      }),
    ),
    rollback: rollbackConfig(raw.rollback),
    gates: gatesConfig(raw.gates),
  });
}

/**
 * `<hostname>-<pid>`: unique among replicas on one host and across hosts; a
 * hostname outside the `instanceId` rule (spaces, non-ASCII) is made to fit.
 */
function defaultInstanceId({ hostname, pid }: Machine): string {
  const host = hostname.replace(/[^\x21-\x7e]+/g, '-').slice(0, 100) || 'smoke';
  return `${host}-${pid}`;
}

/** `written` is the file before `${VAR}` expansion, so an issue can name the variable its value came from. */
function formatIssue(issue: z.core.$ZodIssue, input: unknown, written: unknown): string {
  const source = valueAt(written, issue.path);
  // The variables' names, never their values nor the rest of the text: either may be a secret.
  const names = typeof source === 'string' ? references(source) : [];
  return `${describeIssue(issue, input)}${names.length > 0 ? ` (set by ${names.join(', ')})` : ''}`;
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const key = keyOf(issue.path, input) || '(top level)';
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${issue.path.length ? `${key}.` : ''}${k}: unknown key (check its spelling)`).join('\n  ');
  }
  if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) return `${key}: is required`;
  if (issue.code === 'invalid_key') return `${key}: ${issue.issues[0]?.message ?? issue.message}`;
  return `${key}: ${issue.message}`;
}

/**
 * `schedules[0] (nightly).cron`: list items by index, and by their `name`
 * when they have one, since that is what a reader looks for in the file.
 */
function keyOf(issuePath: readonly PropertyKey[], input: unknown): string {
  let key = '';
  issuePath.forEach((segment, i) => {
    if (typeof segment !== 'number') {
      key += `${key ? '.' : ''}${String(segment)}`;
      return;
    }
    const name = (valueAt(input, issuePath.slice(0, i + 1)) as { name?: unknown } | undefined)?.name;
    key += `[${segment}]${typeof name === 'string' && name ? ` (${name})` : ''}`;
  });
  return key;
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
