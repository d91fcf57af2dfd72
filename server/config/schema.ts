import { z } from 'zod';

/**
 * The config file's shape, with every default and unit beside its key. The
 * README's config reference mirrors this file; keep them in step.
 */

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** A whole number, also when it arrives as a string from `${VAR}` expansion. */
const count = (min: number, max: number) =>
  z.preprocess(
    (value) => (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value),
    z
      .number({ error: 'must be a whole number' })
      .int({ error: 'must be a whole number' })
      .min(min, { error: `must be at least ${min}` })
      .max(max, { error: `must be at most ${max}` }),
  );

const httpUrl = z
  .string({ error: 'must be an http(s) URL' })
  .refine((value) => isHttpUrl(value), { error: 'must be an http(s) URL' });

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const environment = z.strictObject({
  /** Where the environment answers; relative URLs in the flows resolve against it. */
  baseURL: httpUrl,
  /** Another environment to run side by side as the baseline when this one is deployed. */
  baseline: z.string({ error: 'must name another environment' }).optional(),
  /** Extra HTTP headers for every request of the flows (auth, routing to the canary). */
  headers: z
    .record(
      z.string().regex(headerName, { error: 'must be a valid HTTP header name' }),
      z.string({ error: 'must be a string' }).max(8192, { error: 'must be at most 8192 characters' }),
    )
    .default({}),
  /** Playwright storage state file (cookies, local storage) for signed-in flows. */
  storageState: z.string().min(1).optional(),
});

export const configSchema = z
  .strictObject({
    /** Default `service` of a deployment when the request names none. */
    service: z.string().min(1).max(128).regex(NAME, { error: 'must be lower-case letters, digits, - or _' }).default('app'),
    server: z
      .strictObject({
        host: z.string().min(1).default('0.0.0.0'),
        port: count(0, 65535).default(8080),
        /** Absolute base of links in API answers and webhooks; relative links when unset. */
        publicUrl: httpUrl.optional(),
        /** When set, every /api call needs `Authorization: Bearer <token>`. */
        apiToken: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
      })
      .default({ host: '0.0.0.0', port: 8080 }),
    suite: z
      .strictObject({
        /** The team's Playwright config file, or a folder of specs. */
        config: z.string().min(1).default('./playwright.config.ts'),
        /** Which tests are critical-path flows (matched against title and tags). */
        grep: z.string().min(1).default('@critical'),
        grepInvert: z.string().min(1).optional(),
        /** Retries per flow; a flow that passes only on a retry is flaky, not failed. */
        retries: count(0, 10).default(2),
        /** Playwright workers per run (canary and baseline share them). */
        workers: count(1, 64).default(2),
      })
      .default({ config: './playwright.config.ts', grep: '@critical', retries: 2, workers: 2 }),
    runs: z
      .strictObject({
        /** Seconds a run may take before it is cancelled and judged inconclusive. */
        deadlineSeconds: count(5, 86_400).default(300),
        /** Runs at the same time; the rest queue. */
        concurrency: count(1, 32).default(2),
        /** Seconds a cancelled runner gets to close its browsers before it is killed. */
        graceSeconds: count(1, 120).default(10),
        /** Seconds to wait for an environment to answer at all before its flows run. */
        reachabilityTimeoutSeconds: count(1, 120).default(10),
        /** Times an interrupted verification (crash, kill -9) is re-run after a restart before it is judged inconclusive. */
        resumeAttempts: count(0, 5).default(1),
      })
      .default({ deadlineSeconds: 300, concurrency: 2, graceSeconds: 10, reachabilityTimeoutSeconds: 10, resumeAttempts: 1 }),
    storage: z
      .strictObject({
        /** SQLite file: deployments, runs, flow results, verdicts. */
        database: z.string().min(1).default('./data/smoke.db'),
        /** Folder of screenshots and traces of failed flows, one subfolder per run. */
        artifacts: z.string().min(1).default('./data/artifacts'),
      })
      .default({ database: './data/smoke.db', artifacts: './data/artifacts' }),
    environments: z
      .record(z.string().regex(NAME, { error: 'environment names must be lower-case letters, digits, - or _' }), environment)
      .refine((envs) => Object.keys(envs).length > 0, { error: 'must define at least one environment' }),
  })
  .superRefine((config, ctx) => {
    for (const [name, env] of Object.entries(config.environments)) {
      if (env.baseline === undefined) continue;
      const path = ['environments', name, 'baseline'];
      if (env.baseline === name) ctx.addIssue({ code: 'custom', path, message: 'must name another environment, not itself' });
      else if (!(env.baseline in config.environments))
        ctx.addIssue({
          code: 'custom',
          path,
          message: `names '${env.baseline}', which is not an environment (known: ${Object.keys(config.environments).join(', ')})`,
        });
    }
  });

export type RawConfig = z.output<typeof configSchema>;

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
