import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createDeliveries } from '../gates/deliveries.ts';
import { createStorageMetrics } from '../metrics/storage-metrics.ts';
import { createOutbox } from '../signals/outbox.ts';
import type { StoreRetention } from '../store/retention.ts';
import { openStore, type Store } from '../store/store.ts';
import { BATCH_SIZE, createPruner, type PrunerDeps } from './pruner.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2027-03-01T12:00:00.000Z');
/** The i-th old run's time: 90 days ago, a second apart. */
const old = (i: number) => new Date(NOW - 90 * DAY + i * 1000).toISOString();

/** Timers a test fires by hand; `now` fixed. */
class FakeClock {
  readonly timers = new Map<number, { fn: () => void; ms: number }>();
  private next = 1;
  at = NOW;
  now = () => this.at;
  setTimeout = (fn: () => void, ms: number) => {
    const id = this.next++;
    this.timers.set(id, { fn, ms });
    return id;
  };
  clearTimeout = (id: unknown) => void this.timers.delete(id as number);
  /** Fires the only pending timer, saying how long it was set for. */
  fire(): number {
    assert.equal(this.timers.size, 1, 'exactly one timer pending');
    const [id, timer] = [...this.timers][0]!;
    this.timers.delete(id);
    timer.fn();
    return timer.ms;
  }
}

const open: { stores: Store[]; dirs: string[] } = { stores: [], dirs: [] };
afterEach(() => {
  open.stores.splice(0).forEach((s) => s.close());
  open.dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function rig({ retention, ...overrides }: Partial<PrunerDeps> & { retention?: Partial<StoreRetention> } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-pruner-'));
  open.dirs.push(dir);
  const database = path.join(dir, 'smoke.db');
  const store = openStore(database);
  open.stores.push(store);
  const registry = new Registry();
  const lines: { level: number; msg: string; err?: { message: string } }[] = [];
  const clock = new FakeClock();
  const deps: PrunerDeps = {
    retentionDays: 30,
    databaseFile: database,
    artifactsDir: path.join(dir, 'artifacts'),
    store: { retention: { ...store.retention, ...retention } },
    outbox: createOutbox(store.db),
    deliveries: createDeliveries(store.db),
    metrics: createStorageMetrics(registry),
    logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }),
    clock,
    ...overrides,
  };
  return { store, registry, lines, clock, deps, pruner: createPruner(deps), artifacts: deps.artifactsDir };
}

/** Old finished scheduled runs written straight to the table: the store's own insert is one at a time. */
function oldRuns(store: Store, count: number): string[] {
  const insertRun = store.db.prepare(
    `INSERT INTO runs (id, seq, trigger, target, environments_json, schedule, status, verdict, created_at, finished_at)
     VALUES (?, ?, 'schedule', 'production', '["production"]', 'nightly', 'done', 'pass', ?, ?)`,
  );
  const insertResult = store.db.prepare(
    `INSERT INTO flow_results (run_id, environment, flow, file, outcome, duration_ms, retries, artifacts_json, recorded_at)
     VALUES (?, 'production', 'checkout', 'shop.spec.ts', 'passed', 10, 0, '[]', ?)`,
  );
  const ids = Array.from({ length: count }, (_, i) => `run_old${i.toString(36).padStart(5, '0')}`);
  store.db.transaction(() => ids.forEach((id, i) => (insertRun.run(id, i + 1, old(i), old(i)), insertResult.run(id, old(i)))))();
  return ids;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Polls between turns of the event loop: a pass is a chain of file-system calls, done when it is done. */
async function waitUntil(probe: () => boolean | Promise<boolean>, turns = 10_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.fail('the condition never held');
}

describe('pruner', () => {
  it('prunes a large history in batches, with the event loop turning between every two', async () => {
    const calls: number[] = [];
    let turns = 0;
    let running = true;
    // A witness that runs once per turn of the event loop, as a waiting HTTP request would.
    const witness = () => {
      turns++;
      if (running) setImmediate(witness);
    };
    const r = rig({
      retention: {
        pruneRuns: (...args) => {
          calls.push(turns);
          return r.store.retention.pruneRuns(...args);
        },
      },
    });
    const runs = 20_000;
    const ids = oldRuns(r.store, runs);
    // A few hundred folders are enough to make each batch remove some.
    for (const id of ids.filter((_, i) => i % 50 === 0)) {
      mkdirSync(path.join(r.artifacts, id, 'target'), { recursive: true });
      writeFileSync(path.join(r.artifacts, id, 'target', 'trace.zip'), 'x');
    }
    setImmediate(witness);
    const report = await r.pruner.runOnce();
    running = false;

    assert.deepEqual(report.failures, []);
    // Every run but the newest (of its target and schedule, and the newest pass).
    assert.equal(report.pruned.runs, runs - 1);
    assert.equal(report.pruned.artifact_folders, runs / 50);
    assert.deepEqual(r.store.db.prepare('SELECT id FROM runs').pluck().all(), [ids.at(-1)]);
    assert.equal(r.store.db.prepare('SELECT COUNT(*) FROM flow_results').pluck().get(), 1);
    assert.equal(calls.length, Math.floor((runs - 1) / BATCH_SIZE) + 1, 'one call per batch, the last one short');
    for (let i = 1; i < calls.length; i++) assert.ok(calls[i]! > calls[i - 1]!, `the event loop turned between batch ${i} and ${i + 1}: ${calls.join(',')}`);
    assert.deepEqual(readdirSync(r.artifacts), []);
  });

  it('forgets claims on cron ticks older than a day, in batches, whatever retentionDays says', async () => {
    const r = rig({ retentionDays: 3650 });
    // One claim a minute back from now, two batches and a bit past a day; the newest day of them stays.
    const claims = 24 * 60 + 1 + BATCH_SIZE * 2 + 5;
    r.store.db.transaction(() => {
      for (let i = 0; i < claims; i++) r.store.claimTick('pulse', new Date(NOW - i * 60_000).toISOString());
    })();
    const report = await r.pruner.runOnce();
    assert.deepEqual(report.failures, []);
    const left = r.store.db.prepare('SELECT slot FROM tick_claims ORDER BY slot').pluck().all() as string[];
    assert.equal(left.length, 24 * 60 + 1, 'the last day, both ends included');
    assert.equal(left[0], new Date(NOW - DAY).toISOString());
    assert.equal(r.store.claimTick('pulse', new Date(NOW).toISOString()), false, 'a recent tick is still claimed');
    await r.pruner.stop();
  });

  it('prunes soon after start and then every prune interval, measuring in between; never two passes at once', async () => {
    const r = rig({ startDelayMs: 5_000, measureIntervalMs: 300_000, pruneIntervalMs: 3_600_000 });
    const passes = () => r.lines.filter((l) => l.msg === 'retention pass done').length;
    const databaseBytes = async () => (await r.registry.getSingleMetric('smoke_storage_bytes')!.get()).values.find((v) => v.labels.kind === 'database')!.value;
    r.pruner.start();
    assert.equal(r.clock.fire(), 5_000);
    const joined = r.pruner.runOnce();
    assert.equal(r.pruner.runOnce(), joined, 'a pass under way is joined, not doubled');
    await joined;
    await settle();
    assert.equal(passes(), 1);
    assert.ok((await databaseBytes()) > 0, 'the first pass measured');

    // Five minutes on: measured again, not pruned.
    r.clock.at += 300_000;
    r.store.db.exec('CREATE TABLE grow (x); INSERT INTO grow VALUES (zeroblob(100000))');
    const before = await databaseBytes();
    assert.equal(r.clock.fire(), 300_000);
    await waitUntil(async () => (await databaseBytes()) > before);
    await settle();
    assert.equal(passes(), 1);

    // An hour after the last prune: pruned again.
    r.clock.at += 3_600_000;
    assert.equal(r.clock.fire(), 300_000);
    await waitUntil(() => passes() === 2);
    await settle();
    assert.equal(r.clock.timers.size, 1);
    await r.pruner.stop();
    assert.equal(r.clock.timers.size, 0, 'stop clears the timer');
  });

  it('measures soon after a run ends, once for a burst of runs, never later than already due', async () => {
    const r = rig({ startDelayMs: 5_000, measureIntervalMs: 300_000, measureAfterRunMs: 10_000 });
    const ended = () => r.pruner.observer.runFinished?.({} as never, { status: 'done', durationMs: 1 });
    r.pruner.start();
    ended();
    assert.equal([...r.clock.timers.values()][0]!.ms, 5_000, 'the first pass is due sooner than 10 s: left as it is');
    assert.equal(r.clock.fire(), 5_000);
    ended(); // while that pass is under way: it re-arms sooner than the measure interval
    await waitUntil(() => r.clock.timers.size === 1);
    assert.equal([...r.clock.timers.values()][0]!.ms, 10_000);
    r.clock.at += 10_000;
    r.clock.fire();
    await waitUntil(() => r.clock.timers.size === 1);
    assert.equal([...r.clock.timers.values()][0]!.ms, 300_000, 'back to the regular interval');
    ended();
    ended();
    assert.equal(r.clock.timers.size, 1, 'a burst arms one timer');
    assert.equal([...r.clock.timers.values()][0]!.ms, 10_000);
    await r.pruner.stop();
  });

  it('stops at the next batch when the service shuts down, and starts no more passes', async () => {
    let stopping: Promise<void> | undefined;
    const r = rig({
      retention: {
        pruneRuns: (...args) => {
          stopping ??= r.pruner.stop();
          return r.store.retention.pruneRuns(...args);
        },
      },
    });
    oldRuns(r.store, BATCH_SIZE * 3);
    r.pruner.start();
    r.clock.fire();
    const report = await r.pruner.runOnce();
    await stopping;
    await settle();
    assert.equal(report.completed, false);
    assert.equal(report.pruned.runs, BATCH_SIZE);
    assert.equal(report.bytes, undefined, 'no sizes measured from a stopped pass');
    assert.equal(r.clock.timers.size, 0);
  });

  it('logs a failure with its cause, carries on with the other steps, and tries again next pass', async () => {
    let broken = true;
    const r = rig({
      retention: {
        pruneRuns: (...args) => {
          if (broken) throw new Error('database disk image is malformed');
          return r.store.retention.pruneRuns(...args);
        },
      },
    });
    oldRuns(r.store, 3);
    const crashed = path.join(r.artifacts, 'run_leftbehind');
    mkdirSync(crashed, { recursive: true });
    utimesSync(crashed, new Date(NOW - 40 * DAY), new Date(NOW - 40 * DAY));

    const first = await r.pruner.runOnce();
    assert.deepEqual(first.failures, ['could not prune old runs: database disk image is malformed']);
    assert.equal(first.pruned.artifact_folders, 1, 'the other steps ran');
    assert.ok(first.bytes);
    const logged = r.lines.find((l) => l.msg.startsWith('retention could not prune old runs'));
    assert.equal(logged?.err?.message, 'database disk image is malformed');
    const lastPass = async () => (await r.registry.getSingleMetric('smoke_storage_last_prune_timestamp_seconds')!.get()).values[0]!.value;
    assert.equal(await lastPass(), 0, 'a pass with a failure is not a success');

    broken = false;
    const second = await r.pruner.runOnce();
    assert.deepEqual(second.failures, []);
    assert.equal(second.pruned.runs, 2);
    assert.equal(await lastPass(), NOW / 1000);
  });

  it('has every storage series from the start', async () => {
    const r = rig();
    const exposition = await r.registry.metrics();
    for (const kind of ['database', 'artifacts', 'reports']) assert.match(exposition, new RegExp(`^smoke_storage_bytes\\{kind="${kind}"\\} 0$`, 'm'));
    for (const kind of ['runs', 'deployments', 'signals', 'artifact_folders']) assert.match(exposition, new RegExp(`^smoke_storage_pruned_total\\{kind="${kind}"\\} 0$`, 'm'));
  });
});
