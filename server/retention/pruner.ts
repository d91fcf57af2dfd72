import type { Clock } from '../scheduler/clock.ts';
import type { RunObserver } from '../verification/observer.ts';
import { runPass, type PassContext, type PassReport } from './pass.ts';

export type { PassReport } from './pass.ts';

/** Rows per transaction: small enough that a batch holds the event loop for a few milliseconds, not seconds. */
export const BATCH_SIZE = 200;
/** The first pass: soon after start-up, so the sizes are known and a long-stopped service sheds its backlog. */
const START_DELAY_MS = 5_000;
/** Between the starts of two pruning passes. */
const PRUNE_INTERVAL_MS = 3_600_000;
/** Between the end of one pass and the next; passes between prunes only measure, so the sizes stay fresh. */
const MEASURE_INTERVAL_MS = 300_000;
/** After a run ends its artifacts are on disk: measured this soon after, not at the next regular pass. */
const MEASURE_AFTER_RUN_MS = 10_000;

export interface PrunerDeps extends Omit<PassContext, 'batchSize' | 'nowMs' | 'signal'> {
  readonly clock: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>;
  readonly batchSize?: number;
  readonly startDelayMs?: number;
  readonly pruneIntervalMs?: number;
  readonly measureIntervalMs?: number;
  readonly measureAfterRunMs?: number;
}

export interface Pruner {
  /** A first pass after a short delay; then a pass every measure interval, pruning when the prune interval has passed. */
  start(): void;
  /** Runs a pruning pass now, or joins the one under way: never two passes at once. */
  runOnce(): Promise<PassReport>;
  /** Ends the timer and the pass under way at its next batch; resolves once it has. */
  stop(): Promise<void>;
  /** Brings the next pass forward when a run has ended, so `smoke_storage_bytes` follows the artifacts it wrote. */
  readonly observer: RunObserver;
}

/**
 * Keeps the data folder bounded (storage.retentionDays) and measured
 * (`smoke_storage_bytes`), off the request path: one pass at a time, in
 * small batches (see `runPass`).
 */
export function createPruner(deps: PrunerDeps): Pruner {
  const { logger, clock } = deps;
  const pruneIntervalMs = deps.pruneIntervalMs ?? PRUNE_INTERVAL_MS;
  const measureAfterRunMs = deps.measureAfterRunMs ?? MEASURE_AFTER_RUN_MS;
  const stopping = new AbortController();
  let timer: unknown;
  /** When the armed timer fires, epoch ms. */
  let dueMs: number | undefined;
  /** A run ended while a pass was under way: the next pass comes soon, not at the regular interval. */
  let measureSoon = false;
  let current: { readonly prune: boolean; readonly done: Promise<PassReport> } | undefined;
  let lastPruneMs: number | undefined;

  function startPass(prune: boolean): Promise<PassReport> {
    if (current && (current.prune || !prune)) return current.done;
    // A measuring pass is under way: the pruning one follows it.
    if (current) return current.done.then(() => startPass(prune));
    const nowMs = clock.now();
    if (prune) lastPruneMs = nowMs;
    const ctx = { ...deps, batchSize: deps.batchSize ?? BATCH_SIZE, nowMs, signal: stopping.signal };
    const done = runPass(ctx, prune).then((report) => {
      if (prune) {
        if (report.completed && report.failures.length === 0) deps.metrics.passSucceeded(clock.now());
        logger.info({ ...report, failures: report.failures.length, retentionDays: deps.retentionDays }, 'retention pass done');
      }
      return report;
    });
    current = { prune, done: done.finally(() => (current = undefined)) };
    return current.done;
  }

  function schedule(ms: number): void {
    if (stopping.signal.aborted) return;
    if (timer !== undefined) clock.clearTimeout(timer);
    dueMs = clock.now() + ms;
    timer = clock.setTimeout(() => {
      timer = undefined;
      dueMs = undefined;
      const prune = lastPruneMs === undefined || clock.now() - lastPruneMs >= pruneIntervalMs;
      startPass(prune)
        .catch((err: unknown) => logger.error({ err }, 'retention pass failed unexpectedly; the next pass tries again'))
        .finally(() => {
          schedule(measureSoon ? measureAfterRunMs : (deps.measureIntervalMs ?? MEASURE_INTERVAL_MS));
          measureSoon = false;
        });
    }, ms);
  }

  return {
    start: () => schedule(deps.startDelayMs ?? START_DELAY_MS),
    observer: {
      runFinished() {
        // Only ever earlier, so a burst of runs measures once. With no timer
        // armed, the timer's own pass is under way and re-arms it when done.
        if (dueMs === undefined) measureSoon = true;
        else if (dueMs > clock.now() + measureAfterRunMs) schedule(measureAfterRunMs);
      },
    },
    runOnce: () => startPass(true),
    async stop() {
      stopping.abort();
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      await current?.done.catch(() => undefined);
    },
  };
}
