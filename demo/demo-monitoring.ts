import type { VerdictKind } from '../server/verdict/types.ts';
import { verdictColour, type Colours } from './demo-print.ts';
import { poll } from './demo-stack.ts';

/**
 * The demo's look at synthetic monitoring and metrics, through the API a
 * dashboard or an on-call engineer would use: GET /api/v1/schedules, the
 * scheduled run, and an excerpt of GET /metrics.
 */

/** Longest the demo waits for a scheduled run to finish, ms: two 15-second ticks and a run. */
export const SCHEDULE_WAIT_MS = 40_000;

/** The fields of `GET /api/v1/schedules` the demo prints. */
export interface ScheduleView {
  readonly name: string;
  readonly cron: string;
  readonly timezone: string;
  readonly environments: readonly string[];
  readonly nextRunAt: string | null;
  readonly running: boolean;
  readonly lastRun: {
    readonly id: string;
    readonly environment: string;
    readonly trigger: string;
    readonly verdict: VerdictKind | null;
    readonly finishedAt: string | null;
    readonly link: string;
  } | null;
  readonly ticks: { readonly started: number; readonly skipped: number; readonly missed: number };
}

export interface ScheduledRun {
  readonly verdict: VerdictKind | null;
  readonly reasons: readonly string[];
}

async function getJson(url: string, signal?: AbortSignal): Promise<unknown> {
  const response = await fetch(url, { signal });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
  return response.json();
}

async function getSchedule(smokeUrl: string, name: string, signal?: AbortSignal): Promise<ScheduleView | undefined> {
  const body = (await getJson(`${smokeUrl}/api/v1/schedules`, signal)) as { schedules?: ScheduleView[] };
  if (!Array.isArray(body.schedules)) throw new Error(`unexpected answer of GET /api/v1/schedules: ${JSON.stringify(body).slice(0, 300)}`);
  return body.schedules.find((s) => s.name === name);
}

/**
 * The schedule once a scheduled run of it has been judged, or as it stands
 * after SCHEDULE_WAIT_MS; with that run's verdict and reasons when there is one.
 */
export async function waitForScheduledRun(
  smokeUrl: string,
  name: string,
  signal?: AbortSignal,
): Promise<{ schedule: ScheduleView | undefined; run: ScheduledRun | undefined }> {
  let schedule: ScheduleView | undefined;
  await poll(SCHEDULE_WAIT_MS, signal, async () => {
    schedule = await getSchedule(smokeUrl, name, signal);
    return schedule?.lastRun?.trigger === 'schedule' && schedule.lastRun.verdict !== null ? true : undefined;
  });
  const last = schedule?.lastRun;
  const run = last?.trigger === 'schedule' ? ((await getJson(last.link, signal)) as ScheduledRun) : undefined;
  return { schedule, run };
}

export function formatSchedule(c: Colours, schedule: ScheduleView, run: ScheduledRun | undefined, now = Date.now()): string {
  const lines = [`  ${c.bold(schedule.name)}  ${schedule.cron} ${c.dim(`(${schedule.timezone})`)} → ${schedule.environments.join(', ')}`];
  if (schedule.nextRunAt) {
    const inMs = Date.parse(schedule.nextRunAt) - now;
    lines.push(`    next run   ${clock(schedule.nextRunAt)} ${c.dim(`(in ${Math.max(0, Math.round(inMs / 1000))} s)`)}`);
  }
  const last = schedule.lastRun;
  if (last?.trigger === 'schedule') {
    const verdict = verdictColour(c, last.verdict)((last.verdict ?? 'no verdict').toUpperCase());
    const finished = last.finishedAt ? `, finished ${clock(last.finishedAt)}` : '';
    lines.push(`    last run   ${c.bold(verdict)} on ${last.environment} ${c.dim(`(${last.id}${finished})`)}`);
    for (const reason of run?.reasons ?? []) lines.push(`               - ${reason}`);
  } else {
    lines.push(`    last run   ${c.yellow('none finished yet')}`);
  }
  const { started, skipped, missed } = schedule.ticks;
  const why = skipped > 0 ? c.dim(' (a tick is skipped while the previous run is still queued or running)') : '';
  lines.push(`    ticks      ${started} started, ${skipped} skipped, ${missed} missed${why}`);
  return lines.join('\n');
}

/** Local wall-clock time of an ISO instant, to the second. */
function clock(iso: string): string {
  return new Date(iso).toLocaleTimeString('en-GB', { hour12: false });
}

/** The families the demo quotes: per-flow success, verdicts, and the deployed version. */
export const METRIC_FAMILIES = ['smoke_flow_success', 'smoke_verdicts_total', 'smoke_deployment_info'] as const;

export interface MetricsExcerpt {
  /** Sample lines of METRIC_FAMILIES, in exposition order. */
  readonly lines: readonly string[];
  readonly missing: readonly string[];
  /** Families in the exposition that the excerpt leaves out. */
  readonly otherFamilies: number;
}

export async function fetchMetricsExcerpt(smokeUrl: string, signal?: AbortSignal): Promise<MetricsExcerpt> {
  const response = await fetch(`${smokeUrl}/metrics`, { signal });
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
  return metricsExcerpt(await response.text());
}

export function metricsExcerpt(exposition: string): MetricsExcerpt {
  const wanted = new Set<string>(METRIC_FAMILIES);
  const lines: string[] = [];
  const families = new Set<string>();
  for (const line of exposition.split('\n')) {
    const type = /^# TYPE (\S+)/.exec(line);
    if (type) families.add(type[1]!);
    if (line === '' || line.startsWith('#')) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (name && wanted.has(name)) lines.push(line);
  }
  const missing = METRIC_FAMILIES.filter((f) => !lines.some((l) => l.startsWith(`${f}{`) || l.startsWith(`${f} `)));
  return { lines, missing, otherFamilies: [...families].filter((f) => !wanted.has(f)).length };
}

export function formatMetrics(c: Colours, excerpt: MetricsExcerpt): string {
  const lines = excerpt.lines.map((line) => `  ${line}`);
  for (const family of excerpt.missing) lines.push(`  ${c.red(`✗ no ${family} series`)}`);
  lines.push(c.dim(`  … and ${excerpt.otherFamilies} more families (durations, results by outcome, run times, webhook deliveries)`));
  lines.push('', '  Grafana dashboard  deploy/grafana/smoke.json', '  Prometheus rules   deploy/prometheus/smoke-rules.yml (alerts such as SmokeCriticalFlowFailing)');
  return lines.join('\n');
}
