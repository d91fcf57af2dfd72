import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, link, mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { SuiteConfig } from '../config/config.ts';
import { describeError } from '../errors.ts';
import { blobFolder } from './blob.ts';
import { mergeReports } from './merge-reports.ts';
import { resolvePlaywrightCli } from './runner.ts';

/** Longest a merge may take before it is killed; a big report of traces merges in seconds. */
export const MERGE_DEADLINE_MS = 120_000;
/** Merges at once, service-wide: each takes a core for a second or more, which the runs' browsers need. */
const MAX_MERGES = 1;
/** How long a failed merge is answered from memory before it is tried again (it may have failed for want of CPU or disk). */
const RETRY_FAILED_AFTER_MS = 10 * 60_000;
/** Failed runs remembered at most; the oldest are forgotten first. */
const REMEMBERED_FAILURES = 1_000;
const TEMP_PREFIX = '.report-';

/**
 * The run's Playwright HTML report: `<storage.artifacts>/<runId>/report/`,
 * ready when its `index.html` is there (it is renamed into place whole).
 */
export function reportFolder(artifactsDir: string, runId: string): string {
  return path.join(artifactsDir, runId, 'report');
}

export type ReportState =
  | { readonly kind: 'ready'; readonly folder: string }
  /** The run is still running: its report can only be merged once its last blob is written. */
  | { readonly kind: 'pending' }
  /** There is none and will be none (for now): why, for a person. */
  | { readonly kind: 'none'; readonly reason: string };

export interface Reports {
  /** The run's HTML report, merged from its blobs on first ask; one merge per run however many ask at once. */
  ensure(runId: string, runFinished: boolean): Promise<ReportState>;
  /** Kills the merges under way and waits for them; later asks get 'none'. */
  close(): Promise<void>;
}

export interface ReportsDeps {
  readonly artifactsDir: string;
  /** The suite the runs run: its own Playwright merges, as it wrote the blobs. */
  readonly suite: SuiteConfig;
  readonly logger: Logger;
  readonly mergeDeadlineMs?: number;
  /** Milliseconds; for when a failed merge is tried again. */
  readonly now?: () => number;
}

/**
 * Builds HTML reports lazily: synthetic monitoring runs every minute, and
 * 1,440 reports a day that nobody opens would cost a CPU-second each, where a
 * blob costs little. Built with Playwright's own `merge-reports`, so the
 * report is exactly the one developers know, trace viewer included, with
 * the target and baseline projects of every invocation side by side.
 */
export function createReports(deps: ReportsDeps): Reports {
  const cli = resolvePlaywrightCli(deps.suite);
  const deadlineMs = deps.mergeDeadlineMs ?? MERGE_DEADLINE_MS;
  const now = deps.now ?? Date.now;
  const logger = deps.logger;
  const building = new Map<string, Promise<ReportState>>();
  const failures = new Map<string, { reason: string; at: number }>();
  const slots = new Slots(MAX_MERGES);
  const stop = new AbortController();

  async function build(runId: string): Promise<ReportState> {
    const runFolder = path.join(deps.artifactsDir, runId);
    const blobs = await listBlobs(blobFolder(runFolder));
    if (blobs.length === 0) return none(NO_BLOB);
    const release = await slots.acquire();
    const temp = path.join(runFolder, `${TEMP_PREFIX}${randomUUID()}`);
    const log = logger.child({ runId });
    try {
      if (stop.signal.aborted) return none(SHUTTING_DOWN);
      await removeStaleTemps(runFolder);
      const input = path.join(temp, 'blobs');
      await mkdir(input, { recursive: true });
      // Merging unpacks each blob's attachments beside it: into the temp copy, never the kept blobs.
      for (const blob of blobs) await linkOrCopy(path.join(blobFolder(runFolder), blob), path.join(input, blob));
      const startedAt = now();
      const output = path.join(temp, 'report');
      await mergeReports({ cli, input, output, cwd: temp, title: `smoke run ${runId}`, deadlineMs, signal: stop.signal });
      if (!existsSync(path.join(output, 'index.html'))) throw new Error('Playwright merge-reports ended without writing index.html');
      const folder = reportFolder(deps.artifactsDir, runId);
      // A folder without index.html is no report (written by hand, or by another tool): make room.
      await rm(folder, { recursive: true, force: true });
      await rename(output, folder);
      log.info({ blobs: blobs.length, ms: now() - startedAt }, 'built the Playwright HTML report');
      // The report holds all they held (traces a third time on disk otherwise); it is what is served from now on.
      await rm(blobFolder(runFolder), { recursive: true, force: true }).catch((err: unknown) => {
        log.warn({ err: describeError(err) }, 'could not remove the merged blob reports; retention removes them with the run');
      });
      return { kind: 'ready', folder };
    } catch (err) {
      if (stop.signal.aborted) return none(SHUTTING_DOWN);
      const reason = `could not build the Playwright HTML report: ${describeError(err)}`;
      log.error({ err: describeError(err) }, 'could not build the Playwright HTML report');
      remember(runId, reason);
      return none(reason);
    } finally {
      await rm(temp, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }).catch((err: unknown) => {
        log.warn({ err: describeError(err), temp }, 'could not remove a report temp folder; the next merge of this run removes it');
      });
      release();
    }
  }

  function remember(runId: string, reason: string): void {
    failures.delete(runId);
    failures.set(runId, { reason, at: now() });
    if (failures.size > REMEMBERED_FAILURES) failures.delete(failures.keys().next().value!);
  }

  return {
    async ensure(runId, runFinished) {
      if (!isRunId(runId)) return none(`'${runId}' is not a run id`);
      const folder = reportFolder(deps.artifactsDir, runId);
      if (existsSync(path.join(folder, 'index.html'))) return { kind: 'ready', folder };
      if (!runFinished) return { kind: 'pending' };
      if (stop.signal.aborted) return none(SHUTTING_DOWN);
      const failed = failures.get(runId);
      if (failed && now() - failed.at < RETRY_FAILED_AFTER_MS) return none(failed.reason);
      let pending = building.get(runId);
      if (!pending) {
        pending = build(runId).finally(() => building.delete(runId));
        building.set(runId, pending);
      }
      return pending;
    },
    async close() {
      stop.abort();
      await Promise.allSettled([...building.values()]);
    },
  };
}

const NO_BLOB =
  'this run has no Playwright report: it ended before Playwright finished (cancelled, unreachable environment, or the runner failed)';
const SHUTTING_DOWN = 'the service is shutting down';

function none(reason: string): ReportState {
  return { kind: 'none', reason };
}

/** One path segment, as the store makes them: never `..` or a path that leaves the artifacts folder. */
function isRunId(runId: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(runId);
}

async function listBlobs(folder: string): Promise<string[]> {
  try {
    return (await readdir(folder)).filter((name) => name.endsWith('.zip')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`could not list the blob reports in ${folder}`, { cause: err });
  }
}

/** Temp folders of merges this service no longer runs (it died mid-merge): one merge per run at a time, so any found is stale. */
async function removeStaleTemps(runFolder: string): Promise<void> {
  for (const name of await readdir(runFolder)) {
    if (name.startsWith(TEMP_PREFIX)) await rm(path.join(runFolder, name), { recursive: true, force: true });
  }
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch {
    // A file system without hard links.
    await copyFile(from, to);
  }
}

/** A counting semaphore: `acquire` resolves with the function that frees the slot. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free -= 1;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free += 1;
    };
  }
}
