import type { Logger } from 'pino';
import { PRUNED_KINDS, type PrunedKind, type StorageKind, type StorageMetrics } from '../metrics/storage-metrics.ts';
import type { Store } from '../store/store.ts';
import { removeRunFolders, runFolders, staleFolders, type Removal } from './folders.ts';
import { measureArtifacts } from './storage-size.ts';

const DAY_MS = 86_400_000;
/**
 * How long a claim on a cron tick is kept, whatever retentionDays says: it
 * only has to outlive that tick on every replica (seconds apart, a minute at
 * most when one runs late), and a day keeps even an every-second schedule
 * to 86,400 rows.
 */
const TICK_CLAIM_MS = DAY_MS;

/** What a pass works on; the pruner builds it from its own dependencies. */
export interface PassContext {
  readonly retentionDays: number;
  readonly artifactsDir: string;
  /** Its sections, narrowed to what a pass calls, so a test can hand in a fake of any of them. */
  readonly store: PassStore;
  readonly metrics: StorageMetrics;
  readonly logger: Logger;
  readonly batchSize: number;
  /** Epoch ms the pass counts ages from. */
  readonly nowMs: number;
  /** Aborted when the service shuts down: the pass ends at its next batch. */
  readonly signal: AbortSignal;
}

export interface PassStore extends Pick<Store, 'retention' | 'sizeBytes'> {
  readonly outbox: Pick<Store['outbox'], 'pruneDelivered'>;
  readonly gateDeliveries: Pick<Store['gateDeliveries'], 'prune'>;
  readonly githubStatuses: Pick<Store['githubStatuses'], 'prune'>;
}

export interface PassReport {
  readonly pruned: Readonly<Record<PrunedKind, number>>;
  /** Absent when measuring failed or the pass was stopped first. */
  readonly bytes?: Readonly<Record<StorageKind, number>>;
  /** What went wrong, one line each; the next pass tries again. */
  readonly failures: readonly string[];
  /** False when the service shut down during it. */
  readonly completed: boolean;
}

/**
 * One pass: with `prune`, deletes delivered signals, claims on cron ticks
 * over a day old, settled GitHub statuses and gate deliveries past their
 * retention, old runs with their results and folders, done deployments
 * nothing points at any more, and run folders left without a row; then (also
 * without `prune`) measures what is kept. Each step that fails is logged with
 * its cause and leaves the others to run; nothing here throws.
 *
 * Every replica sharing a store runs its own passes. Each delete is of rows
 * that match its condition when it runs, so two replicas pruning at once
 * only find less to do; the later batch deletes nothing.
 */
export async function runPass(ctx: PassContext, prune: boolean): Promise<PassReport> {
  const { store, metrics, logger, batchSize, nowMs, signal } = ctx;
  const beforeMs = nowMs - ctx.retentionDays * DAY_MS;
  const before = new Date(beforeMs).toISOString();
  const pruned = Object.fromEntries(PRUNED_KINDS.map((k) => [k, 0])) as Record<PrunedKind, number>;
  const failures: string[] = [];

  const count = (kind: PrunedKind, n: number) => {
    pruned[kind] += n;
    if (n > 0) metrics.pruned(kind, n);
    return n;
  };
  const step = async <T>(what: string, work: () => Promise<T> | T): Promise<T | undefined> => {
    if (signal.aborted) return undefined;
    try {
      return await work();
    } catch (err) {
      if (signal.aborted) return undefined;
      failures.push(`could not ${what}: ${(err as Error).message}`);
      logger.error({ err }, `retention could not ${what}; the next pass tries again`);
      return undefined;
    }
  };
  /** Repeats a batch until one comes back short (or the service stops), with a turn of the event loop between. */
  const batches = async (batch: () => Promise<number>) => {
    while (!signal.aborted) {
      if ((await batch()) < batchSize) return;
      await turn();
    }
  };
  const removed = (removal: Removal) => {
    count('artifact_folders', removal.removed);
    for (const { folder, err } of removal.failures) {
      failures.push(`could not remove ${folder}: ${(err as Error).message}`);
      logger.error({ err, folder }, 'retention could not remove a run folder; the next pass tries again');
    }
  };

  if (prune) {
    await step('prune delivered signals', () => batches(async () => count('signals', await store.outbox.pruneDelivered(before, batchSize))));
    const claimsBefore = new Date(nowMs - TICK_CLAIM_MS).toISOString();
    await step('forget old tick claims', () => batches(() => store.retention.pruneTickClaims(claimsBefore, batchSize)));
    // Before deployments: a remembered delivery keeps its deployment.
    await step('forget old gate deliveries', () => store.gateDeliveries.prune(nowMs));
    // Here, not only when the gate tracks a new one: a gate gone quiet would keep them forever.
    await step('forget settled GitHub statuses', () => store.githubStatuses.prune(nowMs));
    const keep = await step('find the runs and deployments to keep', () => store.retention.kept());
    if (keep) {
      await step('prune old runs', () =>
        batches(async () => {
          // Rows first: a folder whose removal fails is found again as one without a row.
          const ids = await store.retention.pruneRuns(before, keep, batchSize);
          count('runs', ids.length);
          removed(await removeRunFolders(ctx.artifactsDir, ids));
          return ids.length;
        }),
      );
      await step('prune old deployments', () => batches(async () => count('deployments', await store.retention.pruneDeployments(before, keep, batchSize))));
    }
    await step('remove folders of runs no longer stored', async () => {
      const folders = await runFolders(ctx.artifactsDir);
      for (let i = 0; i < folders.length && !signal.aborted; i += batchSize) {
        const chunk = folders.slice(i, i + batchSize);
        const existing = await store.retention.existingRuns(chunk);
        removed(await removeRunFolders(ctx.artifactsDir, await staleFolders(ctx.artifactsDir, chunk.filter((id) => !existing.has(id)), beforeMs)));
        await turn();
      }
    });
  }
  // Apart, so a database that cannot answer still lets the folder's sizes through, and the other way round.
  const database = await step('measure the database', async () => {
    const size = await store.sizeBytes();
    metrics.measured({ database: size });
    return size;
  });
  const files = await step('measure the artifacts folder', async () => {
    const measurement = await measureArtifacts(ctx.artifactsDir, signal);
    metrics.measured(measurement.bytes);
    if (measurement.unreadable > 0) logger.warn({ unreadable: measurement.unreadable }, 'retention could not read some of the artifacts folder; sizes leave them out');
    return measurement.bytes;
  });
  const bytes: Record<StorageKind, number> | undefined = database !== undefined && files ? { database, ...files } : undefined;
  return { pruned, ...(bytes && { bytes }), failures, completed: !signal.aborted };
}

/** One turn of the event loop: timers, I/O and requests waiting behind a batch run before the next. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
