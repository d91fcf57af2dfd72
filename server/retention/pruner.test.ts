import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { StoreUnavailable } from '../errors.ts';
import { createStorageMetrics } from '../metrics/storage-metrics.ts';
import type { StoreRetention } from '../store/retention.ts';
import { openStore, type Store } from '../store/store.ts';
import type { PassStore } from './pass.ts';
import { createPruner, type PrunerDeps } from './pruner.ts';

const DAY = 86_400_000;
/** The pruner's "now": 90 days after the runs the tests write (the store stamps them with the real clock). */
const NOW = Date.now() + 90 * DAY;
/** Rows per batch in these tests: a few dozen rows make several batches. */
const BATCH = 10;

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
afterEach(async () => {
  for (const store of open.stores.splice(0)) await store.close();
  open.dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** The store's sections as a pass calls them, with any of them swapped for a test's own. */
function passStore(store: Store, swap: { retention?: Partial<StoreRetention>; sections?: Partial<PassStore> }): PassStore {
  const real = store.retention;
  return {
    retention: {
      kept: () => real.kept(),
      pruneRuns: (...args) => real.pruneRuns(...args),
      pruneDeployments: (...args) => real.pruneDeployments(...args),
      pruneTickClaims: (...args) => real.pruneTickClaims(...args),
      existingRuns: (...args) => real.existingRuns(...args),
      ...swap.retention,
    },
    sizeBytes: () => store.sizeBytes(),
    outbox: store.outbox,
    gateDeliveries: store.gateDeliveries,
    githubStatuses: store.githubStatuses,
    ...swap.sections,
  };
}

async function rig({ retention, sections, ...overrides }: Partial<PrunerDeps> & { retention?: Partial<StoreRetention>; sections?: Partial<PassStore> } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-pruner-'));
  open.dirs.push(dir);
  const store = await openStore({ kind: 'sqlite', file: path.join(dir, 'smoke.db') });
  open.stores.push(store);
  const registry = new Registry();
  const lines: { level: number; msg: string; err?: { message: string } }[] = [];
  const clock = new FakeClock();
  const deps: PrunerDeps = {
    retentionDays: 30,
    artifactsDir: path.join(dir, 'artifacts'),
    store: passStore(store, { ...(retention && { retention }), ...(sections && { sections }) }),
    metrics: createStorageMetrics(registry),
    logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }),
    clock,
    batchSize: BATCH,
    ...overrides,
  };
  return { store, registry, lines, clock, deps, pruner: createPruner(deps), artifacts: deps.artifactsDir };
}

/** Finished scheduled runs, each with a passed flow, written now: 90 days old to the pruner. */
async function oldRuns(store: Store, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const run = (await store.createRun({ trigger: 'schedule', target: 'production', environments: ['production'], schedule: 'nightly' }))!;
    await store.recordFlowResult(run.id, { environment: 'production', flow: 'checkout', file: 'shop.spec.ts', outcome: 'passed', durationMs: 10, retries: 0, artifacts: [] });
    await store.finishRun(run.id, { status: 'done', verdict: { kind: 'pass', reasons: [], flaky: [] } });
    ids.push(run.id);
  }
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
    const r = await rig({
      retention: {
        pruneRuns: (...args) => {
          calls.push(turns);
          return r.store.retention.pruneRuns(...args);
        },
      },
    });
    const runs = 6 * BATCH + 1;
    const ids = await oldRuns(r.store, runs);
    // Enough folders to make each batch remove some; none for the newest run, which stays.
    for (const id of ids.filter((_, i) => i % 5 === 0 && i < runs - 1)) {
      mkdirSync(path.join(r.artifacts, id, 'target'), { recursive: true });
      writeFileSync(path.join(r.artifacts, id, 'target', 'trace.zip'), 'x');
    }
    setImmediate(witness);
    const report = await r.pruner.runOnce();
    running = false;

    assert.deepEqual(report.failures, []);
    // Every run but the newest (of its target and schedule, and the newest pass).
    assert.equal(report.pruned.runs, runs - 1);
    assert.equal(report.pruned.artifact_folders, (runs - 1) / 5);
    assert.deepEqual((await r.store.listRuns({ limit: runs })).map((run) => run.id), [ids.at(-1)]);
    assert.equal((await r.store.getRun(ids.at(-1)!))!.results.length, 1);
    assert.equal(calls.length, Math.floor((runs - 1) / BATCH) + 1, 'one call per batch, the last one short');
    for (let i = 1; i < calls.length; i++) assert.ok(calls[i]! > calls[i - 1]!, `the event loop turned between batch ${i} and ${i + 1}: ${calls.join(',')}`);
    assert.deepEqual(readdirSync(r.artifacts), []);
  });

  it('forgets claims on cron ticks older than a day, in batches, whatever retentionDays says', async () => {
    const r = await rig({ retentionDays: 3650 });
    // One claim an hour back from now, two batches and a bit past a day; the newest day of them stays.
    const inADay = 24 + 1;
    const slots = Array.from({ length: inADay + BATCH * 2 + 5 }, (_, i) => new Date(NOW - i * 3_600_000).toISOString());
    for (const slot of slots) assert.equal(await r.store.claimTick('pulse', slot), true);
    const report = await r.pruner.runOnce();
    assert.deepEqual(report.failures, []);
    // Claiming again tells which claims are left: a forgotten one is taken anew.
    const takenAgain = [];
    for (const slot of slots) takenAgain.push(await r.store.claimTick('pulse', slot));
    assert.deepEqual(takenAgain, slots.map((_, i) => i >= inADay), 'the last day is kept, both ends included; the rest forgotten');
    await r.pruner.stop();
  });

  it('prunes soon after start and then every prune interval, measuring in between; never two passes at once', async () => {
    let size = 4_096;
    const r = await rig({ startDelayMs: 5_000, measureIntervalMs: 300_000, pruneIntervalMs: 3_600_000, sections: { sizeBytes: async () => size } });
    const passes = () => r.lines.filter((l) => l.msg === 'retention pass done').length;
    const databaseBytes = async () => (await r.registry.getSingleMetric('smoke_storage_bytes')!.get()).values.find((v) => v.labels.kind === 'database')!.value;
    r.pruner.start();
    assert.equal(r.clock.fire(), 5_000);
    const joined = r.pruner.runOnce();
    assert.equal(r.pruner.runOnce(), joined, 'a pass under way is joined, not doubled');
    await joined;
    await settle();
    assert.equal(passes(), 1);
    assert.equal(await databaseBytes(), 4_096, 'the first pass measured');

    // Five minutes on: measured again, not pruned.
    r.clock.at += 300_000;
    size = 104_096;
    assert.equal(r.clock.fire(), 300_000);
    await waitUntil(async () => (await databaseBytes()) === 104_096);
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
    const r = await rig({ startDelayMs: 5_000, measureIntervalMs: 300_000, measureAfterRunMs: 10_000 });
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
    const r = await rig({
      retention: {
        pruneRuns: (...args) => {
          stopping ??= r.pruner.stop();
          return r.store.retention.pruneRuns(...args);
        },
      },
    });
    await oldRuns(r.store, BATCH * 3);
    r.pruner.start();
    r.clock.fire();
    const report = await r.pruner.runOnce();
    await stopping;
    await settle();
    assert.equal(report.completed, false);
    assert.equal(report.pruned.runs, BATCH);
    assert.equal(report.bytes, undefined, 'no sizes measured from a stopped pass');
    assert.equal(r.clock.timers.size, 0);
  });

  it('logs a failure with its cause, carries on with the other steps, and tries again next pass', async () => {
    let broken = true;
    const r = await rig({
      retention: {
        pruneRuns: async (...args) => {
          if (broken) throw new Error('database disk image is malformed');
          return r.store.retention.pruneRuns(...args);
        },
      },
    });
    await oldRuns(r.store, 3);
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

  it('measures the artifacts folder when the database cannot say its size, and both once it can', async () => {
    let databaseDown = true;
    const r = await rig({
      sections: {
        sizeBytes: async () => {
          if (databaseDown) throw new StoreUnavailable('read the database size', { cause: new Error('connection refused') });
          return 8_192;
        },
      },
    });
    // Not a run's folder: no pass removes it.
    mkdirSync(path.join(r.artifacts, 'shared'), { recursive: true });
    writeFileSync(path.join(r.artifacts, 'shared', 'notes.txt'), Buffer.alloc(300));
    const bytes = async () => Object.fromEntries((await r.registry.getSingleMetric('smoke_storage_bytes')!.get()).values.map((v) => [v.labels.kind, v.value]));

    const first = await r.pruner.runOnce();
    assert.equal(first.failures.length, 1);
    assert.match(first.failures[0]!, /^could not measure the database: /);
    assert.equal(first.bytes, undefined, 'no full measurement to report');
    assert.deepEqual(await bytes(), { database: 0, artifacts: 300, reports: 0 });

    databaseDown = false;
    const second = await r.pruner.runOnce();
    assert.deepEqual(second.failures, []);
    assert.deepEqual(second.bytes, { database: 8_192, artifacts: 300, reports: 0 });
    assert.deepEqual(await bytes(), second.bytes);
  });

  it('forgets settled GitHub statuses and old gate deliveries on every pruning pass', async () => {
    const asked: string[] = [];
    const r = await rig({
      sections: {
        githubStatuses: { prune: async (nowMs) => (asked.push(`statuses ${nowMs}`), 0) },
        gateDeliveries: { prune: async (nowMs) => (asked.push(`deliveries ${nowMs}`), 0) },
      },
    });
    const report = await r.pruner.runOnce();
    assert.deepEqual(report.failures, []);
    assert.deepEqual(asked.sort(), [`deliveries ${NOW}`, `statuses ${NOW}`]);
  });

  it('has every storage series from the start', async () => {
    const r = await rig();
    const exposition = await r.registry.metrics();
    for (const kind of ['database', 'artifacts', 'reports']) assert.match(exposition, new RegExp(`^smoke_storage_bytes\\{kind="${kind}"\\} 0$`, 'm'));
    for (const kind of ['runs', 'deployments', 'signals', 'artifact_folders']) assert.match(exposition, new RegExp(`^smoke_storage_pruned_total\\{kind="${kind}"\\} 0$`, 'm'));
  });
});
