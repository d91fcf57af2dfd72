import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The smoke config the demo stack writes for one run, with its optional rollback webhook and schedule. */

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Suite settings of the stack's smoke config; the benchmark gives the CLI the same. */
export const SUITE = Object.freeze({ grep: '@critical', retries: 2, workers: 2 });

export interface DemoWebhook {
  readonly name: string;
  readonly url: string;
  /** `whsec_` + base64 of random bytes, as Standard Webhooks secrets are written. */
  readonly secret: string;
}

export interface DemoSchedule {
  readonly name: string;
  /** node-cron syntax; 6 fields means seconds first. */
  readonly cron: string;
  readonly environments: readonly string[];
}

export interface SmokeConfigOptions {
  readonly port: number;
  readonly production: string;
  readonly canary: string;
  /** `runs.concurrency`: runs at the same time. Default 2. */
  readonly runConcurrency?: number;
  readonly webhooks?: readonly DemoWebhook[];
  readonly schedules?: readonly DemoSchedule[];
  /** The benchmark's variants: another suite (`suite.config`, `suite.grep`) and `runs` switches; smoke's defaults when absent. */
  readonly suite?: { readonly config: string; readonly grep?: string };
  readonly runs?: {
    readonly failFast?: boolean;
    readonly baseline?: 'always' | 'on-failure';
    readonly warmBrowser?: boolean;
    readonly warmRunner?: boolean;
  };
}

/** A fresh Standard Webhooks secret: 24 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** A smoke config of the same shape as smoke.config.yaml, for the repo's suite against the two shops. */
export function writeSmokeConfig(dir: string, options: SmokeConfigOptions): string {
  const file = path.join(dir, 'smoke.config.yaml');
  // JSON strings are valid YAML scalars, so paths, URLs and cron fields need no further escaping.
  const q = JSON.stringify;
  const sections = [
    `# Written by the smoke demo for one run; paths are relative to this folder.
service: shop

server:
  host: 127.0.0.1
  port: ${options.port}

suite:
  config: ${q(options.suite?.config ?? path.join(REPO, 'playwright.config.ts'))}
  grep: ${q(options.suite?.grep ?? SUITE.grep)}
  retries: ${SUITE.retries}
  workers: ${SUITE.workers}

runs:
  deadlineSeconds: 300
  concurrency: ${options.runConcurrency ?? 2}
${Object.entries(options.runs ?? {}).filter(([, value]) => value !== undefined).map(([key, value]) => `  ${key}: ${q(value)}\n`).join('')}
storage:
  database: ./data/smoke.db
  artifacts: ./data/artifacts

environments:
  production:
    baseURL: ${q(options.production)}
  canary:
    baseURL: ${q(options.canary)}
    baseline: production
`,
  ];
  if (options.webhooks?.length) {
    // Short backoffs: the demo waits for the delivery, and a retry should come within seconds.
    sections.push(`rollback:
  attemptTimeoutSeconds: 5
  initialBackoffSeconds: 1
  maxBackoffSeconds: 4
  webhooks:
${options.webhooks.map((w) => `    - name: ${q(w.name)}\n      url: ${q(w.url)}\n      secret: ${q(w.secret)}\n`).join('')}`);
  }
  if (options.schedules?.length) {
    sections.push(`schedules:
${options.schedules.map((s) => `  - name: ${q(s.name)}\n    cron: ${q(s.cron)}\n    environments: ${q(s.environments)}\n`).join('')}`);
  }
  writeFileSync(file, sections.join('\n'), { mode: 0o600 });
  return file;
}
