import { validateDetailed } from 'node-cron';
import { z } from 'zod';
import { checkGateEnvironments, gatesSchema } from '../gates/config.ts';
import { rollbackSchema } from '../signals/config.ts';
import { count, HEADER_NAME, httpUrl, NAME } from '../values/primitives.ts';

/**
 * The config file's shape, with every default and unit beside its key. The
 * README's config reference mirrors this file; keep them in step.
 */

const environment = z.strictObject({
  /** Where the environment answers; relative URLs in the flows resolve against it. */
  baseURL: httpUrl,
  /** Another environment to run side by side as the baseline when this one is deployed. */
  baseline: z.string({ error: 'must name another environment' }).optional(),
  /** Extra HTTP headers for every request of the flows (auth, routing to the canary). */
  headers: z
    .record(
      z.string().regex(HEADER_NAME, { error: 'must be a valid HTTP header name' }),
      z.string({ error: 'must be a string' }).max(8192, { error: 'must be at most 8192 characters' }),
    )
    .default({}),
  /** Playwright storage state file (cookies, local storage) for signed-in flows. */
  storageState: z.string().min(1).optional(),
});

/** Checked without ever quoting the value: it carries a password. */
const postgresUrl = z.string({ error: 'must be a postgres:// URL' }).superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a URL such as postgres://user:password@host:5432/database' });
    return;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    ctx.addIssue({ code: 'custom', message: `must start with postgres:// or postgresql://, not ${url.protocol}//` });
  } else if (!url.hostname && !url.searchParams.has('host')) {
    ctx.addIssue({ code: 'custom', message: 'must name a host (postgres://user:password@host:5432/database)' });
  }
});

/** A label for logs, JSON and pages: printable ASCII, no spaces, at most 128. */
const INSTANCE_ID = /^[\x21-\x7e]{1,128}$/;

const CRON_FORMAT = 'use 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first';

const cronExpression = z.string({ error: 'must be a cron expression' }).superRefine((expression, ctx) => {
  const { valid, errors } = validateDetailed(expression);
  if (valid) return;
  const first = errors[0];
  const detail = !first ? '' : first.field === 'expression' ? ` (${first.message})` : ` (bad ${first.field} field '${first.value}')`;
  ctx.addIssue({ code: 'custom', message: `'${expression}' is not a valid cron expression${detail}; ${CRON_FORMAT}` });
});

/** An IANA zone name, stored as Intl spells it (`utc` becomes `UTC`). */
const timeZone = z.string({ error: 'must be an IANA time zone such as Europe/Paris or UTC' }).transform((zone, ctx) => {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    ctx.addIssue({ code: 'custom', message: `'${zone}' is not a known time zone (use an IANA name such as Europe/Paris or UTC)` });
    return z.NEVER;
  }
});

const schedule = z.strictObject({
  /** Names the schedule in the API, metrics and runs; lower-case like environment names, unique. */
  name: z.string({ error: 'must be a name' }).regex(NAME, { error: 'must be lower-case letters, digits, - or _ (at most 63)' }),
  /** When to run: 5 cron fields, or 6 with seconds first, read in `timezone`. */
  cron: cronExpression,
  /** Environments to check on each tick, one run each; an environment's baseline runs beside it. */
  environments: z
    .array(z.string({ error: 'must name an environment' }), { error: 'must be a list of environment names' })
    .min(1, { error: 'must list at least one environment' }),
  /** Overrides `suite.grep` for this schedule's runs. Default: `suite.grep`. */
  grep: z.string().min(1, { error: 'must not be empty' }).optional(),
  /** Each cron start waits a random 0..jitterSeconds first, so schedules on the same minute spread out. Default 0. */
  jitterSeconds: count(0, 3600).default(0),
  /** Time zone the cron expression is read in (IANA name). Default UTC, which has no daylight-saving gaps. */
  timezone: timeZone.default('UTC'),
  /** After a failing run, run again every this many seconds until it passes, then back to the cron cadence. Default: unset, wait for the next tick. */
  recheckSeconds: count(10, 86_400).optional(),
});

export const configSchema = z
  .strictObject({
    /** Default `service` of a deployment when the request names none. */
    service: z.string().min(1).max(128).regex(NAME, { error: 'must be lower-case letters, digits, - or _' }).default('app'),
    server: z
      .strictObject({
        host: z.string().min(1).default('0.0.0.0'),
        /** Often `${SMOKE_PORT}`, so replicas can share one file; digits only. */
        port: count(0, 65535).default(8080),
        /**
         * Names this replica on every run it starts (`replica` in the API and
         * on pages) and in its logs; often `${POD_NAME}`. Default: `<hostname>-<pid>`,
         * resolved at load.
         */
        instanceId: z
          .string({ error: 'must be a string' })
          .regex(INSTANCE_ID, { error: 'must be 1 to 128 printable characters without spaces, such as a pod or host name' })
          .optional(),
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
        /** Playwright workers per run, split evenly between the canary and its baseline (at least one each). */
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
        /** Times an interrupted verification (crash, kill -9, a replica lost) is re-run before it is judged inconclusive. */
        resumeAttempts: count(0, 5).default(1),
        /**
         * Seconds a replica holds a run it claimed without renewing it (it
         * renews every few seconds while the run goes on). A replica killed
         * mid-run leaves it to another replica once this runs out.
         */
        leaseSeconds: count(5, 3600).default(30),
        /**
         * A deploy's `fail` is final at its first confirmed regression (failed
         * on the target after its retries, passed on the baseline): stored and
         * signalled at once. true: the rest of the run is cancelled; false: it
         * runs on only to complete the report.
         */
        failFast: z.boolean({ error: 'must be true or false' }).default(true),
        /**
         * always: the baseline runs every flow beside the target. on-failure:
         * the target runs first with every worker, the baseline only the flows
         * that failed there (same verdicts, about half the browser work on a
         * good deploy).
         */
        baseline: z.enum(['always', 'on-failure'], { error: "must be 'always' or 'on-failure'" }).default('on-failure'),
        /**
         * Keep one Chromium running in the service; each run's workers connect
         * to it instead of launching their own. Only for Chromium projects
         * without launch options of their own.
         */
        warmBrowser: z.boolean({ error: 'must be true or false' }).default(true),
        /**
         * Keep one Playwright runner process started ahead of the next run,
         * with Node, Playwright and the team's config loaded.
         */
        warmRunner: z.boolean({ error: 'must be true or false' }).default(true),
      })
      .default({
        deadlineSeconds: 300,
        concurrency: 2,
        graceSeconds: 10,
        reachabilityTimeoutSeconds: 10,
        resumeAttempts: 1,
        leaseSeconds: 30,
        failFast: true,
        baseline: 'on-failure',
        warmBrowser: true,
        warmRunner: true,
      }),
    storage: z
      .strictObject({
        /** SQLite file: deployments, runs, flow results, verdicts. Unused when `postgres` is set. */
        database: z.string().min(1).default('./data/smoke.db'),
        /**
         * PostgreSQL URL (`postgres://user:pass@host:5432/db`, often
         * `${DATABASE_URL}`): the store every replica shares, instead of the
         * SQLite file. Empty counts as unset, so `${DATABASE_URL:-}` lets one
         * config serve both. Default: none (SQLite, one replica).
         */
        postgres: z.preprocess((value) => (value === '' ? undefined : value), postgresUrl.optional()),
        /** Folder of screenshots and traces of failed flows, one subfolder per run (with its Playwright HTML report). */
        artifacts: z.string().min(1).default('./data/artifacts'),
        /**
         * Days a finished run (with its flow results, artifacts and report), a
         * done deployment and a delivered signal are kept. Never pruned: the
         * newest run of each environment and schedule, open runs and
         * deployments, signals not delivered. Default 30.
         */
        retentionDays: count(1, 3650).default(30),
      })
      .default({ database: './data/smoke.db', artifacts: './data/artifacts', retentionDays: 30 }),
    environments: z
      .record(z.string().regex(NAME, { error: 'environment names must be lower-case letters, digits, - or _' }), environment)
      .refine((envs) => Object.keys(envs).length > 0, { error: 'must define at least one environment' }),
    /** Synthetic monitoring: runs of the suite on a cron cadence, judged like deploys. Default: none. */
    schedules: z.array(schedule, { error: 'must be a list of schedules' }).default([]),
    /** Signed webhooks told about verdicts: a rollback request on fail, optionally pass and inconclusive too. */
    rollback: rollbackSchema,
    /** Endpoints that Flagger, Argo Rollouts and GitHub call to start verifications and ask for verdicts. */
    gates: gatesSchema,
  })
  .superRefine((config, ctx) => {
    checkGateEnvironments(config.gates, Object.keys(config.environments), ctx);
    for (const [name, env] of Object.entries(config.environments)) {
      if (env.baseline === undefined) continue;
      const path = ['environments', name, 'baseline'];
      if (env.baseline === name) ctx.addIssue({ code: 'custom', path, message: 'must name another environment, not itself' });
      else if (!Object.hasOwn(config.environments, env.baseline))
        ctx.addIssue({
          code: 'custom',
          path,
          message: `names '${env.baseline}', which is not an environment (known: ${Object.keys(config.environments).join(', ')})`,
        });
    }
    const firstWithName = new Map<string, number>();
    config.schedules.forEach((schedule, i) => {
      const earlier = firstWithName.get(schedule.name);
      if (earlier !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['schedules', i, 'name'], message: `'${schedule.name}' is already the name of schedules[${earlier}]; names must be unique` });
      } else firstWithName.set(schedule.name, i);
      schedule.environments.forEach((name, j) => {
        const path = ['schedules', i, 'environments', j];
        if (!Object.hasOwn(config.environments, name)) {
          ctx.addIssue({
            code: 'custom',
            path,
            message: `names '${name}', which is not an environment (known: ${Object.keys(config.environments).join(', ')})`,
          });
        } else if (schedule.environments.indexOf(name) !== j) ctx.addIssue({ code: 'custom', path, message: `lists '${name}' twice` });
      });
    });
  });

export type RawConfig = z.output<typeof configSchema>;
