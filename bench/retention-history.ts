import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Store } from '../server/store/store.ts';
import type { Verdict } from '../server/verdict/types.ts';

/**
 * A long history for the retention benchmark, written through the store's
 * own methods (no module outside `server/store/` writes its tables), shaped
 * like a service that has run for half a year: canary deploys with
 * production as their baseline, a nightly schedule on production, ~5 flow
 * results per run, a signal per failed deploy, and artifact folders (some
 * with a Playwright report) for a few runs, each folder aged like its run.
 *
 * The store stamps runs and deployments with the real clock, so the history
 * is written in two parts with the retention cutoff between them: first the
 * runs older than the window, then the clock moves past the cutoff, then
 * the runs inside the window. The pass's "now" is the cutoff plus
 * `retentionDays` (`History.nowMs`). Signals and folders carry their
 * notional times, which the store takes as given.
 */

const DAY_MS = 86_400_000;
/** How far back the history goes; with 30 days kept, five sixths of it is older than the window. */
export const HISTORY_DAYS = 180;
/** One run in this many is a canary deploy with its own deployment; the rest are the nightly schedule. */
const DEPLOY_EVERY = 4;
/** One deployment in this many fails and requests a rollback (a signal). */
const FAIL_EVERY = 10;
/** One failed deploy's signal in this many was never delivered (dead): kept, however old. */
const DEAD_SIGNAL_EVERY = 50;
/** One run in this many has an artifacts folder; one in REPORT_EVERY also a Playwright HTML report. */
const FOLDER_EVERY = 20;
const REPORT_EVERY = 80;
/** One folder with no run row (a crash between deleting a row and its folder) per this many runs. */
const ORPHAN_EVERY = 1_000;
/** File sizes in a run folder, bytes: small, as the pass's cost is per folder and per file, not per byte. */
const FILES = { 'target/screenshot.png': 4_096, 'target/trace.zip': 16_384 } as const;
const REPORT_FILES = { 'report/index.html': 2_048, 'report/data/trace.zip': 8_192 } as const;
const FLOWS = ['checkout', 'search', 'login', 'cart', 'account'] as const;
export const SCHEDULE = 'nightly';

export interface History {
  readonly runs: number;
  readonly deployments: number;
  readonly flowResults: number;
  readonly signals: number;
  readonly undeliveredSignals: number;
  readonly folders: number;
  readonly reports: number;
  readonly orphans: number;
  /** Runs that ended before the retention window. */
  readonly olderThanWindow: number;
  /** The newest deployment: its page is what a rollback message links to. */
  readonly newestDeployment: string;
  /** The retention pass's "now", epoch ms: the runs written first are older than its window, the rest inside it. */
  readonly nowMs: number;
}

/** Writes `runs` runs, the oldest first (their order is time order, as in the service). */
export async function writeHistory(store: Store, artifactsDir: string, runs: number, retentionDays: number): Promise<History> {
  const pass = { kind: 'pass', reasons: [], flaky: [] } as const satisfies Verdict;
  const fail = { kind: 'fail', reasons: ['checkout failed on canary'], failed: [{ flow: 'checkout', environment: 'canary' }] } as const satisfies Verdict;
  const counts = { deployments: 0, flowResults: 0, signals: 0, undeliveredSignals: 0, folders: 0, reports: 0, orphans: 0, olderThanWindow: 0 };
  let newestDeployment = '';
  const folders: { id: string; atMs: number; report: boolean }[] = [];
  /** Runs written before the cutoff: as many as end before the window in a history of HISTORY_DAYS. */
  const older = Math.round((runs * (HISTORY_DAYS - retentionDays)) / HISTORY_DAYS);
  /** The notional "now" of the older part: its times end at the real clock, before the cutoff. */
  let notionalNowMs = Date.now() + retentionDays * DAY_MS;
  let nowMs = notionalNowMs;

  for (let i = 0; i < runs; i++) {
    if (i === older) {
      const cutoffMs = await clockPast(Date.now());
      nowMs = notionalNowMs = cutoffMs + retentionDays * DAY_MS;
    }
    const spreadMs = notionalNowMs - HISTORY_DAYS * DAY_MS + ((i + 0.5) * HISTORY_DAYS * DAY_MS) / runs;
    // On the side of the window its run was written on, whatever the rounding of `older`.
    const windowStartMs = notionalNowMs - retentionDays * DAY_MS;
    const atMs = i < older ? Math.min(spreadMs, windowStartMs - 1) : Math.max(spreadMs, windowStartMs);
    const deploy = i % DEPLOY_EVERY === 0;
    const failed = deploy && (i / DEPLOY_EVERY) % FAIL_EVERY === FAIL_EVERY - 1;
    const target = deploy ? 'canary' : 'production';
    let runId: string;
    let deploymentId: string | undefined;
    if (deploy) {
      const { deployment, run } = await store.createDeployment({ service: 'shop', environment: 'canary', baseline: 'production', version: `v${i}` });
      deploymentId = deployment.id;
      runId = run!.id;
      await store.markRunRunning(runId, 'bench');
      counts.deployments++;
      newestDeployment = deployment.id;
    } else {
      runId = (await store.createRun({ trigger: 'schedule', target, environments: [target], schedule: SCHEDULE }))!.id;
    }
    for (const [f, flow] of FLOWS.entries()) {
      // A deploy runs three flows on the canary and two on its baseline; the schedule all five on production.
      const environment = deploy && f >= 3 ? 'production' : target;
      const broken = failed && flow === 'checkout';
      await store.recordFlowResult(runId, {
        environment,
        flow,
        file: 'shop.spec.ts',
        outcome: broken ? 'failed' : 'passed',
        durationMs: 800 + ((i * 7 + f * 131) % 2_000),
        retries: broken ? 2 : 0,
        ...(broken && { error: 'expect(locator).toBeVisible() failed' }),
        artifacts: [],
      });
      counts.flowResults++;
    }
    const verdict = failed ? fail : pass;
    if (deploymentId) await store.settle({ run: { id: runId, end: { status: 'done', verdict } }, deployment: { id: deploymentId, verdict } });
    else await store.finishRun(runId, { status: 'done', verdict });
    if (deploymentId && failed) {
      const dead = counts.signals % DEAD_SIGNAL_EVERY === DEAD_SIGNAL_EVERY - 1;
      const signal = await store.outbox.enqueue({ deploymentId, webhook: 'deployer', event: 'deployment.rollback_requested', payload: '{}', nowMs: atMs, expiresAtMs: atMs + DAY_MS });
      const attempt = { atMs, statusCode: dead ? 500 : 204, statusClass: dead ? '5xx' : '2xx', latencyMs: 12, ...(dead && { error: 'HTTP 500' }) } as const;
      await store.outbox.record(signal!.id, attempt, dead ? { status: 'dead', error: 'HTTP 500' } : { status: 'delivered' });
      counts.signals++;
      if (dead) counts.undeliveredSignals++;
    }
    if (i < older) counts.olderThanWindow++;
    if (i % FOLDER_EVERY === 0) folders.push({ id: runId, atMs, report: i % REPORT_EVERY === 0 });
    if (i % ORPHAN_EVERY === ORPHAN_EVERY - 1) folders.push({ id: `run_orphan${key(i)}`, atMs, report: false });
  }

  for (const folder of folders) {
    const files: Record<string, number> = { ...FILES, ...(folder.report && REPORT_FILES) };
    for (const [file, bytes] of Object.entries(files)) {
      const at = path.join(artifactsDir, folder.id, file);
      mkdirSync(path.dirname(at), { recursive: true });
      writeFileSync(at, Buffer.alloc(bytes, 1));
    }
    const when = new Date(folder.atMs);
    utimesSync(path.join(artifactsDir, folder.id), when, when);
    if (folder.id.startsWith('run_orphan')) counts.orphans++;
    else counts.folders++;
    if (folder.report) counts.reports++;
  }
  return { runs, ...counts, newestDeployment, nowMs };
}

/** Waits until the clock is past `ms` (whole milliseconds, as the store writes times); returns the cutoff between before and after. */
async function clockPast(ms: number): Promise<number> {
  const cutoffMs = ms + 1;
  while (Date.now() <= cutoffMs) await new Promise((resolve) => setImmediate(resolve));
  return cutoffMs;
}

/** An orphan folder's tail: base 36, padded so names sort in the order they were written. */
function key(i: number): string {
  return i.toString(36).padStart(6, '0');
}
