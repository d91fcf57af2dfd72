import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * What smoke keeps: the database (the SQLite file with its write-ahead log,
 * or the PostgreSQL database); the screenshots, traces and other files flows
 * left; the runs' Playwright HTML reports (with the blob reports they are
 * merged from).
 */
export type StorageKind = 'database' | 'artifacts' | 'reports';
export const STORAGE_KINDS = Object.keys({ database: 1, artifacts: 1, reports: 1 } satisfies Record<StorageKind, 1>) as StorageKind[];

/** What a retention pass removes. */
export type PrunedKind = 'runs' | 'deployments' | 'signals' | 'artifact_folders';
export const PRUNED_KINDS = Object.keys({ runs: 1, deployments: 1, signals: 1, artifact_folders: 1 } satisfies Record<PrunedKind, 1>) as PrunedKind[];

export interface StorageMetrics {
  /** Bytes kept, as the last pass measured them; a kind left out (its measuring failed) keeps its last value. */
  measured(bytes: Readonly<Partial<Record<StorageKind, number>>>): void;
  pruned(kind: PrunedKind, count: number): void;
  /** A pass ended without a failure, at `atMs` (epoch ms). */
  passSucceeded(atMs: number): void;
}

/**
 * Registers the storage families with every series present from the start
 * (bytes 0 until the first pass measures them, a few seconds after start-up):
 * sizes are measured by the retention pass, not on every scrape, because
 * walking a large artifacts folder takes a while.
 */
export function createStorageMetrics(registry: Registry): StorageMetrics {
  const bytes = new Gauge({
    name: 'smoke_storage_bytes',
    help: 'Bytes kept by kind: database (the SQLite file with its write-ahead log, or the PostgreSQL database), artifacts (screenshots, traces), reports (Playwright HTML reports); measured by each retention pass.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const pruned = new Counter({
    name: 'smoke_storage_pruned_total',
    help: 'Items removed by retention (storage.retentionDays) by kind: runs, deployments, signals, artifact_folders.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const lastPass = new Gauge({
    name: 'smoke_storage_last_prune_timestamp_seconds',
    help: 'Unix time the last retention pass completed without a failure; 0 before the first.',
    registers: [registry],
  });
  for (const kind of STORAGE_KINDS) bytes.set({ kind }, 0);
  for (const kind of PRUNED_KINDS) pruned.inc({ kind }, 0);
  lastPass.set(0);

  return {
    measured: (sizes) => {
      for (const kind of STORAGE_KINDS) {
        const size = sizes[kind];
        if (size !== undefined) bytes.set({ kind }, size);
      }
    },
    pruned: (kind, count) => pruned.inc({ kind }, count),
    passSucceeded: (atMs) => lastPass.set(atMs / 1000),
  };
}
