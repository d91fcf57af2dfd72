/**
 * Retention: what one pruning pass over a large history costs, and whether
 * the service keeps answering while it runs (the figures the README's
 * "Storage and retention" section quotes).
 *
 *   node --import tsx bench/retention.ts [--runs 100000]
 *
 * In a temp folder: a real SQLite store (`openStore`) holding N runs over
 * half a year with real artifact folders, written through the store's own
 * methods (bench/retention-history.ts: about 10 ms a run, each write its
 * own transaction, so a large history takes minutes to write); the
 * real app (`createApp`) on 127.0.0.1:0 over that store, asked for a page
 * every 10 ms by a client in a worker thread (bench/retention-load.ts); then
 * one pass through the real `createPruner(...).runOnce()` with the real batch
 * size. Event-loop delay and request latency are measured in a window before
 * the pass and during it, side by side in the same process. Prints figures;
 * asserts nothing. Stops by itself: a pass still going at the deadline is
 * stopped (and said so). Nothing leaves the loopback interface.
 */
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createRegistry } from '../server/metrics/registry.ts';
import { createStorageMetrics, STORAGE_KINDS, type StorageKind } from '../server/metrics/storage-metrics.ts';
import { BATCH_SIZE, createPruner, type PassReport } from '../server/retention/pruner.ts';
import { measureArtifacts } from '../server/retention/storage-size.ts';
import { openStore, type Store } from '../server/store/store.ts';
import { loadAverage, median } from './machine.ts';
import { buildApp, writeBenchConfig } from './retention-app.ts';
import { HISTORY_DAYS, SCHEDULE, writeHistory, type History } from './retention-history.ts';
import { startLoad, type Answer } from './retention-load.ts';

const MIN_RUNS = 500;
const MAX_RUNS = 1_000_000;
/** Written at about 400 runs a second through the store's methods (2 cores): under a minute by default. */
const DEFAULT_RUNS = 20_000;
const USAGE = `usage: node --import tsx bench/retention.ts [--runs N]

  --runs N   runs in the history, ${MIN_RUNS} to ${MAX_RUNS} (default ${DEFAULT_RUNS}; the history is written
             through the store at about 400 runs a second, so 100000 takes about 4 minutes)
`;
const RETENTION_DAYS = 30;
/** The loopback client's cadence, ms. */
const REQUEST_INTERVAL_MS = 10;
/** Requests before the measured windows: the first render of each page compiles its code paths. */
const WARM_UP_MS = 1_000;
/** The window before the pass that the pass is compared with, ms. */
const BEFORE_MS = 3_000;
/** A pass still going after this long is stopped, ms: the benchmark always ends. */
const PASS_DEADLINE_MS = 90_000;

class BenchError extends Error {
  override name = 'BenchError';
}

const print = (text = '') => process.stdout.write(`${text}\n`);

async function main(argv: string[]): Promise<number> {
  let runs: number;
  try {
    const { values } = parseArgs({ args: argv, options: { runs: { type: 'string', default: String(DEFAULT_RUNS) }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      print(USAGE);
      return 0;
    }
    runs = Number(values.runs.replace(/[_,]/g, ''));
    if (!Number.isInteger(runs) || runs < MIN_RUNS || runs > MAX_RUNS) throw new BenchError(`--runs must be a whole number from ${MIN_RUNS} to ${MAX_RUNS}, not "${values.runs}"`);
  } catch (err) {
    process.stderr.write(`retention: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  try {
    await bench(runs);
    return 0;
  } catch (err) {
    process.stderr.write(`retention failed: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

/**
 * Calls to one store method: when each started and how long until it
 * answered, ms. On SQLite the statement itself holds the event loop (the
 * driver is synchronous underneath), so this is close to the time the loop
 * was held.
 */
class Calls {
  readonly starts: number[] = [];
  readonly durations: number[] = [];
  /** Wraps an asynchronous function so each call is timed. */
  time<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args) => {
      const start = performance.now();
      try {
        return await fn(...args);
      } finally {
        this.starts.push(start);
        this.durations.push(performance.now() - start);
      }
    };
  }
}

async function bench(runs: number): Promise<void> {
  const cpus = os.cpus();
  print(`node ${process.version} on ${os.platform()}/${os.arch()}, ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`);
  print(`load average at start: ${loadAverage()}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-bench-retention-'));
  let store: Store | undefined;
  let server: Server | undefined;
  try {
    const config = writeBenchConfig(dir, SCHEDULE, RETENTION_DAYS);
    const { database, artifacts } = config.storage;
    store = await openStore({ kind: 'sqlite', file: database });
    const writeStart = performance.now();
    const history = await writeHistory(store, artifacts, runs, RETENTION_DAYS);
    // The history was written relative to this; runOnce sets no timer.
    const nowMs = history.nowMs;
    printHistory(history, performance.now() - writeStart);
    await printReads(store);
    const measured = async (s: Store) => ({ database: await s.sizeBytes(), ...(await measureArtifacts(artifacts)).bytes });
    const before = { bytes: await measured(store), files: databaseFiles(database), folders: readdirSync(artifacts).length };

    const logger = pino({ level: 'silent' });
    const registry = createRegistry();
    server = buildApp({ config, store, registry, logger }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // The overview, the schedules page, the page a rollback message links to, and the API.
    const paths = ['/', '/schedules', `/deployments/${history.newestDeployment}`, '/api/v1/runs?limit=20'];
    for (const p of paths) {
      const response = await fetch(url + p);
      if (!response.ok) throw new BenchError(`GET ${p} answered ${response.status} before the pass: the benchmark's history does not fit the app`);
    }

    const calls = { kept: new Calls(), runs: new Calls(), deployments: new Calls(), signals: new Calls() };
    const { retention, outbox } = store;
    const pruner = createPruner({
      retentionDays: RETENTION_DAYS,
      artifactsDir: artifacts,
      store: {
        retention: {
          kept: calls.kept.time(() => retention.kept()),
          pruneRuns: calls.runs.time((...args) => retention.pruneRuns(...args)),
          pruneDeployments: calls.deployments.time((...args) => retention.pruneDeployments(...args)),
          pruneTickClaims: (...args) => retention.pruneTickClaims(...args),
          existingRuns: (...args) => retention.existingRuns(...args),
        },
        outbox: { pruneDelivered: calls.signals.time((...args) => outbox.pruneDelivered(...args)) },
        gateDeliveries: store.gateDeliveries,
        githubStatuses: store.githubStatuses,
        sizeBytes: () => store!.sizeBytes(),
      },
      metrics: createStorageMetrics(registry),
      logger,
      clock: { now: () => nowMs, setTimeout: () => undefined, clearTimeout: () => undefined },
    });

    const load = startLoad(url, paths, REQUEST_INTERVAL_MS);
    const delay = monitorEventLoopDelay({ resolution: 1 });
    await sleep(WARM_UP_MS);
    load.phase('before');
    delay.enable();
    await sleep(BEFORE_MS);
    delay.disable();
    const delayBefore = loopDelay(delay);
    delay.reset();

    load.phase('during');
    delay.enable();
    const passStart = performance.now();
    let stopped = false;
    const deadline = setTimeout(() => {
      stopped = true;
      void pruner.stop();
    }, PASS_DEADLINE_MS);
    const report = await pruner.runOnce();
    clearTimeout(deadline);
    const passMs = performance.now() - passStart;
    delay.disable();
    const delayDuring = loopDelay(delay);
    load.phase('after');
    const answers = await load.stop();

    const after = { bytes: await gauge(registry), files: databaseFiles(database), folders: existsSync(artifacts) ? readdirSync(artifacts).length : 0 };
    printPass({ report, calls, passMs, passStart, stopped });
    print(
      `removed: ${n(report.pruned.runs)} runs with their flow results, ${n(report.pruned.deployments)} deployments,` +
        ` ${n(report.pruned.signals)} delivered signals, ${n(report.pruned.artifact_folders)} run folders (folders on disk: ${n(before.folders)} → ${n(after.folders)})`,
    );
    if (report.failures.length) print(`failures: ${report.failures.join('; ')}`);
    printSideBySide(delayBefore, delayDuring, answers);
    print(`\nsmoke_storage_bytes before → after the pass:`);
    for (const kind of STORAGE_KINDS) print(`  ${kind.padEnd(9)} ${mib(before.bytes[kind])} → ${after.bytes ? mib(after.bytes[kind]) : 'not measured'}`);
    print(
      `database file before → after: ${mib(before.files.main)} + WAL ${mib(before.files.wal)} → ${mib(after.files.main)} + WAL ${mib(after.files.wal)}` +
        ` (SQLite reuses the freed pages for new rows; the file does not shrink without VACUUM)`,
    );
    print(`load average at end: ${loadAverage()}`);
  } finally {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server?.closeAllConnections();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The store reads behind every /metrics scrape (the shared gauges) and behind
 * a restart, timed on this history: the median of 5 calls each.
 */
async function printReads(store: Store): Promise<void> {
  const time = async (read: () => Promise<unknown>) => {
    const took: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      await read();
      took.push(performance.now() - start);
    }
    return median(took);
  };
  const reads = {
    latestFlowOutcomes: await time(() => store.latestFlowOutcomes()),
    lastFinishedRuns: await time(() => store.lastFinishedRuns()),
    latestDeployments: await time(() => store.latestDeployments()),
  };
  print(`reads of every scrape: ${Object.entries(reads).map(([name, ms]) => `${name} ${(ms ?? 0).toFixed(2)} ms`).join(', ')}`);
}

function printHistory(h: History, writeMs: number): void {
  print(
    `\nhistory: ${n(h.runs)} runs over ${HISTORY_DAYS} days (${n(h.olderThanWindow)} ended more than ${RETENTION_DAYS} days ago), ` +
      `${n(h.deployments)} canary deployments, ${n(h.flowResults)} flow results, ${n(h.signals)} rollback signals (${n(h.undeliveredSignals)} never delivered), ` +
      `${n(h.folders)} run folders (${n(h.reports)} with a report) and ${n(h.orphans)} left without a run; written in ${secs(writeMs)}`,
  );
}

interface PassFigures {
  readonly report: PassReport;
  readonly calls: Record<'kept' | 'runs' | 'deployments' | 'signals', Calls>;
  readonly passMs: number;
  readonly passStart: number;
  readonly stopped: boolean;
}

function printPass({ report, calls, passMs, passStart, stopped }: PassFigures): void {
  print(`\npass: batch size ${BATCH_SIZE}, retention ${RETENTION_DAYS} days; ${report.completed ? 'completed' : stopped ? `STOPPED at the ${PASS_DEADLINE_MS / 1000} s deadline` : 'not completed'} in ${secs(passMs)}`);
  print(`  work out what to keep (indexed lookups, hold the event loop): ${ms(calls.kept.durations[0])}`);
  const runs = calls.runs;
  // A batch of runs: its transaction, then its folders removed asynchronously, then a turn of the event loop.
  const whole = runs.starts.slice(1).map((start, i) => start - runs.starts[i]!);
  print(`  run batches: ${runs.durations.length}; transaction (holds the event loop) ${spread(runs.durations)}`);
  if (whole.length) print(`    whole batch (transaction, folder removal, a turn of the event loop): ${spread(whole)}`);
  print(`  signal batches: ${calls.signals.durations.length}; transaction ${spread(calls.signals.durations)}`);
  print(`  deployment batches: ${calls.deployments.durations.length}; transaction ${spread(calls.deployments.durations)}`);
  const lastWrite = Math.max(...[calls.deployments, calls.runs].map((c) => (c.starts.at(-1) ?? passStart) + (c.durations.at(-1) ?? 0)));
  print(`  then folders left without a run, and measuring the data folder: ${ms(passStart + passMs - lastWrite)}`);
}

function printSideBySide(before: LoopDelay, during: LoopDelay, answers: readonly Answer[]): void {
  const of = (phase: string) => answers.filter((a) => a.phase === phase);
  const [b, d] = [of('before'), of('during')];
  const ok = (list: readonly Answer[]) => list.filter((a) => a.status >= 200 && a.status < 300).map((a) => a.ms);
  const rows: [string, string, string][] = [
    ['event-loop delay p99', ms(before.p99), ms(during.p99)],
    ['event-loop delay max', ms(before.max), ms(during.max)],
    ['requests answered (every 10 ms)', `${ok(b).length} of ${b.length}`, `${ok(d).length} of ${d.length}`],
    ['request latency p50', ms(percentile(ok(b), 50)), ms(percentile(ok(d), 50))],
    ['request latency p99', ms(percentile(ok(b), 99)), ms(percentile(ok(d), 99))],
    ['request latency max', ms(max(ok(b))), ms(max(ok(d)))],
  ];
  print(`\n${''.padEnd(34)}${'before the pass'.padStart(18)}${'during the pass'.padStart(18)}`);
  for (const [label, x, y] of rows) print(`${label.padEnd(34)}${x.padStart(18)}${y.padStart(18)}`);
  print('(event-loop delay: monitorEventLoopDelay with a 1 ms timer, so an idle loop reads about 1 ms; requests: GET /, /schedules, a deployment page, /api/v1/runs in turn, from a worker thread)');
  const failed = d.filter((a) => a.status < 200 || a.status >= 300);
  if (failed.length) print(`requests that failed during the pass: ${failed.length} (${[...new Set(failed.map((a) => `${a.path} → ${a.status || 'no answer'}`))].join(', ')})`);
}

interface LoopDelay {
  readonly p99: number;
  readonly max: number;
}

/** The histogram's figures in ms (it records ns). */
function loopDelay(h: IntervalHistogram): LoopDelay {
  return { p99: h.percentile(99) / 1e6, max: h.max / 1e6 };
}

async function gauge(registry: ReturnType<typeof createRegistry>): Promise<Record<StorageKind, number> | undefined> {
  const metric = registry.getSingleMetric('smoke_storage_bytes');
  if (!metric) return undefined;
  return Object.fromEntries((await metric.get()).values.map((v) => [v.labels.kind, v.value])) as Record<StorageKind, number>;
}

/** The SQLite file and its write-ahead log on disk, bytes. */
function databaseFiles(database: string): { main: number; wal: number } {
  const size = (file: string) => (existsSync(file) ? statSync(file).size : 0);
  return { main: size(database), wal: size(`${database}-wal`) };
}

/** Nearest rank; undefined for none. */
function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function max(values: readonly number[]): number | undefined {
  return values.length ? Math.max(...values) : undefined;
}

function spread(values: readonly number[]): string {
  return values.length ? `median ${ms(median(values))}, p99 ${ms(percentile(values, 99))}, max ${ms(max(values))}` : 'none';
}

function ms(value: number | undefined): string {
  if (value === undefined) return 'n/a';
  return value < 10 ? `${value.toFixed(1)} ms` : `${value.toFixed(0)} ms`;
}

const n = (x: number) => x.toLocaleString('en');
const secs = (value: number) => `${(value / 1000).toFixed(1)} s`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`retention: unexpected failure: ${String(err)}\n`);
    process.exit(1);
  },
);
