import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { getTasks } from 'node-cron';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { ScheduleConfig } from '../config/config.ts';
import { NotFoundError, StoreUnavailable } from '../errors.ts';
import type { RunRecord, RunWithResults } from '../verification/records.ts';
import { openStore, type Store } from '../store/store.ts';
import type { RunRequest } from '../verification/verifier.ts';
import type { FlowResult, Verdict } from '../verdict/types.ts';
import { systemClock, type Clock, type CronHandlers, type TimerHandle } from './clock.ts';
import { createScheduler, type SchedulerDeps } from './scheduler.ts';

const logger = pino({ level: 'silent' });
const START = Date.parse('2030-01-01T00:00:00Z');

/** Time that moves only when the test says so; cron ticks are fired by hand. */
class FakeClock implements Clock {
  nowMs = START;
  random = () => 0;
  readonly timers = new Map<number, { at: number; fn: () => void | Promise<void> }>();
  readonly crons: { expression: string; timezone: string; name: string; on: CronHandlers; destroyed: boolean }[] = [];
  private nextId = 1;

  cron(expression: string, timezone: string, name: string, on: CronHandlers) {
    const task = { expression, timezone, name, on, destroyed: false };
    this.crons.push(task);
    return { nextRun: () => (task.destroyed ? null : new Date(this.nowMs + 3_600_000)), destroy: () => void (task.destroyed = true) };
  }
  setTimeout(fn: () => void | Promise<void>, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.nowMs + ms, fn });
    return id;
  }
  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }
  now = () => this.nowMs;

  /** Fires a tick, as node-cron does, with the slot it was scheduled for (by default: now); resolves once the scheduler has dealt with it. */
  async fire(name: string, slot = new Date(this.nowMs)): Promise<void> {
    await this.crons.find((c) => c.name === name && !c.destroyed)!.on.tick(slot);
  }
  /** Delays of the timers pending now, ms. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.nowMs);
  }
  async advance(ms: number): Promise<void> {
    const until = this.nowMs + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.nowMs = due[1].at;
      await due[1].fn();
    }
    this.nowMs = until;
    await settled();
  }
}

/**
 * A verifier that runs nothing: each submitted run stays going until the test
 * finishes it. With a store, its runs are written there, as the real one's
 * are, so other replicas see them open.
 */
class FakeVerifier {
  readonly submitted: (RunRecord & { finish(verdict: Verdict, results?: FlowResult[]): Promise<void> })[] = [];
  readonly open = new Map<string, RunRecord>();
  activeRuns = 0;

  constructor(private readonly store?: Pick<Store, 'createRun' | 'finishRun'>) {}

  async submitRun(request: RunRequest) {
    let resolve!: (run: RunWithResults) => void;
    const finished = new Promise<RunWithResults>((r) => (resolve = r));
    const stored = await this.store?.createRun({
      trigger: request.trigger,
      target: request.environment,
      environments: [request.environment],
      ...(request.schedule !== undefined && { schedule: request.schedule }),
    });
    const run: RunRecord = {
      id: stored?.id ?? `run_${this.submitted.length + 1}`,
      trigger: request.trigger,
      target: request.environment,
      environments: [request.environment],
      ...(request.schedule !== undefined && { schedule: request.schedule }),
      ...(request.grep !== undefined && { grep: request.grep }),
      status: 'queued',
      diagnostics: [],
      createdAt: new Date().toISOString(),
    };
    const { store, open } = this;
    open.set(run.id, run);
    this.submitted.push({
      ...run,
      async finish(verdict, results = []) {
        await store?.finishRun(run.id, { status: 'done', verdict });
        open.delete(run.id);
        resolve({ ...run, status: 'done', verdict, results });
        await settled();
      },
    });
    return { run, finished };
  }
}

const PASS: Verdict = { kind: 'pass', reasons: [], flaky: [] };
const FAIL: Verdict = { kind: 'fail', reasons: ['checkout fails'], failed: [{ flow: 'checkout', environment: 'canary' }] };
const DOUBT: Verdict = { kind: 'inconclusive', reasons: ['canary unreachable'], cause: 'unreachable' };
const failedFlow = (environment: string): FlowResult => ({
  environment,
  flow: 'checkout',
  file: 'checkout.spec.ts',
  outcome: 'failed',
  durationMs: 10,
  retries: 2,
  artifacts: [],
});

const settled = () => new Promise<void>((r) => setImmediate(r));

/** The store as the scheduler reads it, with the fake verifier's runs as the open ones. */
function memoryStore(verifier: FakeVerifier): SchedulerDeps['store'] {
  return { lastFinishedRunOfSchedule: async () => undefined, claimTick: async () => true, openRuns: async () => [...verifier.open.values()] };
}

function setup(schedules: Partial<ScheduleConfig>[], extra: Partial<SchedulerDeps> & { runsIn?: Pick<Store, 'createRun' | 'finishRun'> } = {}) {
  const clock = new FakeClock();
  const { runsIn, ...deps } = extra;
  const verifier = new FakeVerifier(runsIn);
  const registry = new Registry();
  const configs = schedules.map((s, i) => ({ name: `s${i}`, cron: '* * * * *', timezone: 'UTC', environments: ['canary'], jitterSeconds: 0, ...s }));
  const scheduler = createScheduler({
    schedules: configs,
    verifier,
    store: memoryStore(verifier),
    registry,
    logger,
    clock,
    ...deps,
  });
  scheduler.start();
  const allTicks = async (schedule: string) => {
    const metric = (await registry.getSingleMetric('smoke_schedule_ticks_total')!.get()).values;
    const of = (result: string) => metric.find((v) => v.labels.schedule === schedule && v.labels.result === result)?.value;
    return { started: of('started'), skipped: of('skipped'), missed: of('missed'), claimedElsewhere: of('claimed_elsewhere') };
  };
  /** The counts a single replica sees: every tick is its own. */
  const ticks = async (schedule: string) => {
    const { claimedElsewhere: _, ...counts } = await allTicks(schedule);
    return counts;
  };
  return { clock, verifier, registry, scheduler, ticks, allTicks };
}

describe('scheduler', () => {
  it('skips and counts a tick that finds the previous run still going, then starts again once it ends', async () => {
    const { clock, verifier, scheduler, ticks } = setup([{ name: 'nightly' }]);
    assert.deepEqual(await ticks('nightly'), { started: 0, skipped: 0, missed: 0 }, 'series exist before the first tick');
    await clock.fire('nightly');
    assert.equal(verifier.submitted.length, 1);
    assert.equal(verifier.submitted[0]!.trigger, 'schedule');
    assert.equal(verifier.submitted[0]!.schedule, 'nightly');
    await clock.fire('nightly');
    await clock.fire('nightly');
    assert.equal(verifier.submitted.length, 1, 'no second run while the first is going');
    assert.deepEqual(await ticks('nightly'), { started: 1, skipped: 2, missed: 0 });
    assert.deepEqual((await scheduler.list())[0]!.ticks, { started: 1, skipped: 2, missed: 0 });
    assert.equal((await scheduler.list())[0]!.running, true);

    await verifier.submitted[0]!.finish(PASS);
    assert.equal((await scheduler.list())[0]!.running, false);
    await clock.fire('nightly');
    assert.equal(verifier.submitted.length, 2);
    assert.deepEqual(await ticks('nightly'), { started: 2, skipped: 2, missed: 0 });
    scheduler.stop();
  });

  it('counts a tick node-cron could not deliver in time as missed', async () => {
    const { clock, verifier, scheduler, ticks } = setup([{ name: 'nightly' }]);
    clock.crons[0]!.on.missed(new Date(START));
    assert.deepEqual(await ticks('nightly'), { started: 0, skipped: 0, missed: 1 });
    assert.equal((await scheduler.list())[0]!.ticks.missed, 1);
    assert.equal(verifier.submitted.length, 0);
    scheduler.stop();
  });

  it('runs each environment of a schedule and is going until all of them end', async () => {
    const { clock, verifier, scheduler } = setup([{ name: 'both', environments: ['canary', 'staging'], grep: '@checkout' }]);
    await clock.fire('both');
    assert.deepEqual(
      verifier.submitted.map((r) => [r.target, r.grep]),
      [
        ['canary', '@checkout'],
        ['staging', '@checkout'],
      ],
    );
    await verifier.submitted[0]!.finish(PASS);
    await clock.fire('both');
    assert.equal(verifier.submitted.length, 2, 'staging is still going');
    await verifier.submitted[1]!.finish(PASS);
    await clock.fire('both');
    assert.equal(verifier.submitted.length, 4);
    scheduler.stop();
  });

  it('delays a cron start by a random jitter below jitterSeconds, and counts the wait as going', async () => {
    const { clock, verifier, scheduler } = setup([{ name: 'spread', jitterSeconds: 30 }]);
    const delays: number[] = [];
    for (const random of [0.5, 0.999999, 0.1]) {
      clock.random = () => random;
      await clock.fire('spread');
      const [delay] = clock.pending();
      delays.push(delay!);
      const before = verifier.submitted.length;
      await clock.fire('spread');
      assert.equal((await scheduler.list())[0]!.ticks.skipped, delays.length, 'a tick during the wait is skipped');
      await clock.advance(delay! - 1);
      assert.equal(verifier.submitted.length, before, 'nothing starts before the jitter is over');
      await clock.advance(1);
      assert.equal(verifier.submitted.length, before + 1);
      await verifier.submitted.at(-1)!.finish(PASS);
    }
    assert.deepEqual(delays, [15_000, 29_999, 3_000]);
    scheduler.stop();
  });

  it('starts at once when the jitter draw is 0', async () => {
    const { clock, verifier, scheduler } = setup([{ name: 'spread', jitterSeconds: 30 }]);
    clock.random = () => 0;
    await clock.fire('spread');
    assert.deepEqual(clock.pending(), [], 'no timer for a zero delay');
    assert.equal(verifier.submitted.length, 1);
    scheduler.stop();
  });

  it('for every draw in [0, 1), starts exactly once, after a whole number of ms below jitterSeconds', async () => {
    const jitterMs = 2_000;
    // The edges, every 1/200 between them, and draws that floor to 0 and to the last ms.
    const draws = [0, Number.EPSILON, 0.0004999, 0.0005, ...Array.from({ length: 200 }, (_, i) => i / 200), 0.9995, 1 - Number.EPSILON / 2];
    const { clock, verifier, scheduler } = setup([{ name: 'every-draw', jitterSeconds: jitterMs / 1000 }]);
    for (const draw of draws) {
      clock.random = () => draw;
      const before = verifier.submitted.length;
      await clock.fire('every-draw');
      const expected = Math.floor(draw * jitterMs);
      assert.ok(Number.isInteger(expected) && expected >= 0 && expected < jitterMs, `draw ${draw} → ${expected} ms`);
      if (expected === 0) {
        assert.deepEqual(clock.pending(), [], `draw ${draw}: no wait`);
      } else {
        assert.deepEqual(clock.pending(), [expected], `draw ${draw}`);
        assert.equal(verifier.submitted.length, before, `draw ${draw}: not started before the jitter is over`);
        await clock.advance(expected);
      }
      assert.equal(verifier.submitted.length, before + 1, `draw ${draw}: started once`);
      assert.deepEqual(clock.pending(), []);
      await verifier.submitted.at(-1)!.finish(PASS);
    }
    assert.deepEqual((await scheduler.list())[0]!.ticks, { started: draws.length, skipped: 0, missed: 0 });
    scheduler.stop();
  });

  it('re-checks a failing schedule every recheckSeconds until it passes, then keeps to its cron cadence', async () => {
    const { clock, verifier, scheduler, registry } = setup([{ name: 'watch', recheckSeconds: 60 }]);
    await clock.fire('watch');
    await verifier.submitted[0]!.finish(FAIL);
    assert.deepEqual(clock.pending(), [60_000]);
    const status = (await scheduler.list())[0]!;
    assert.equal(status.failing, true);
    assert.equal(status.recheckAt?.getTime(), clock.nowMs + 60_000);
    assert.equal(status.nextRunAt?.getTime(), clock.nowMs + 60_000, 'the re-check comes before the next cron tick');

    await clock.advance(60_000);
    assert.equal(verifier.submitted.length, 2);
    assert.equal(verifier.submitted[1]!.trigger, 'schedule');
    // Not a fail verdict, but a critical flow failed (here on the baseline): still failing.
    await verifier.submitted[1]!.finish(DOUBT, [failedFlow('production')]);
    await clock.advance(60_000);
    assert.equal(verifier.submitted.length, 3);
    // Inconclusive without failures proves nothing: keep re-checking.
    await verifier.submitted[2]!.finish(DOUBT);
    await clock.advance(60_000);
    assert.equal(verifier.submitted.length, 4);
    await verifier.submitted[3]!.finish(PASS);

    assert.deepEqual(clock.pending(), [], 'no re-check once it passes');
    assert.equal((await scheduler.list())[0]!.failing, false);
    assert.equal((await scheduler.list())[0]!.recheckAt, null);
    await clock.advance(3_600_000);
    assert.equal(verifier.submitted.length, 4, 'only cron starts it now');
    await clock.fire('watch');
    assert.equal(verifier.submitted.length, 5);
    const rechecks = (await registry.getSingleMetric('smoke_schedule_rechecks_total')!.get()).values;
    assert.equal(rechecks.find((v) => v.labels.schedule === 'watch')?.value, 3);
    scheduler.stop();
  });

  it('lets a cron tick stand in for a pending re-check', async () => {
    const { clock, verifier, scheduler } = setup([{ name: 'watch', recheckSeconds: 600 }]);
    await clock.fire('watch');
    await verifier.submitted[0]!.finish(FAIL);
    await clock.fire('watch');
    assert.deepEqual(clock.pending(), [], 'the tick cancelled the re-check');
    assert.equal(verifier.submitted.length, 2);
    await clock.advance(600_000);
    assert.equal(verifier.submitted.length, 2);
    scheduler.stop();
  });

  it('does not re-check without recheckSeconds', async () => {
    const { clock, verifier, scheduler } = setup([{ name: 'plain' }]);
    await clock.fire('plain');
    await verifier.submitted[0]!.finish(FAIL);
    assert.deepEqual(clock.pending(), []);
    assert.equal((await scheduler.list())[0]!.failing, true);
    scheduler.stop();
  });

  it('runs a schedule by hand as a manual run, which a tick then does not overlap', async () => {
    const { clock, verifier, scheduler } = setup([{ name: 'nightly' }]);
    await assert.rejects(scheduler.runNow('weekly'), NotFoundError);
    const runs = await scheduler.runNow('nightly');
    assert.deepEqual(
      runs.map((r) => [r.trigger, r.schedule]),
      [['manual', 'nightly']],
    );
    await clock.fire('nightly');
    assert.equal(verifier.submitted.length, 1);
    assert.equal((await scheduler.list())[0]!.ticks.skipped, 1);
    scheduler.stop();
  });

  it('stop() destroys every cron task and clears every timer', async () => {
    const { clock, verifier, scheduler } = setup([
      { name: 'jittery', jitterSeconds: 60 },
      { name: 'failing', recheckSeconds: 30 },
      { name: 'late', recheckSeconds: 30 },
    ]);
    clock.random = () => 0.5;
    await clock.fire('jittery');
    await clock.fire('failing');
    await clock.fire('late');
    assert.equal(verifier.submitted.length, 2);
    await verifier.submitted[0]!.finish(FAIL);
    assert.equal(clock.pending().length, 2, 'the jitter wait and the re-check');
    scheduler.stop();
    assert.deepEqual(clock.pending(), []);
    assert.ok(clock.crons.every((c) => c.destroyed));
    // A run that fails after the stop does not arm a re-check.
    await verifier.submitted[1]!.finish(FAIL);
    assert.deepEqual(clock.pending(), []);
    assert.ok((await scheduler.list()).every((s) => s.nextRunAt === null));
  });

  it('on the real clock, stop() leaves no node-cron task or timer behind', { timeout: 60_000 }, async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const tasksBefore = getTasks().size;
    const timersBefore = timers();
    const verifier = new FakeVerifier();
    const claimed: string[] = [];
    const scheduler = createScheduler({
      schedules: [
        { name: 'every-second', cron: '* * * * * *', timezone: 'UTC', environments: ['canary'], jitterSeconds: 0, recheckSeconds: 10 },
        { name: 'jittery', cron: '* * * * * *', timezone: 'Europe/Paris', environments: ['canary'], jitterSeconds: 3600 },
      ],
      verifier,
      store: { ...memoryStore(verifier), claimTick: async (schedule, slot) => claimed.push(`${schedule} ${slot}`) > 0 },
      registry: new Registry(),
      logger,
      // Real cron and timers; a fixed draw, so 'jittery' always waits (half an hour) and never starts a run.
      clock: { ...systemClock(logger), random: () => 0.5 },
    });
    const startedAt = Date.now();
    scheduler.start();
    assert.equal(getTasks().size, tasksBefore + 2);
    const next = (await scheduler.list())[0]!.nextRunAt!;
    assert.ok(next.getTime() > startedAt && next.getTime() <= Date.now() + 1_000, `next run ${next.toISOString()}`);
    // Let both tick: one run starts and fails (arming a re-check), the other waits out its jitter.
    await until(async () => verifier.submitted.length >= 1 && (await scheduler.list())[1]!.running);
    assert.equal(verifier.submitted[0]!.schedule, 'every-second');
    // node-cron's slot, not the moment it fired: whole seconds, so every replica names the tick alike.
    assert.match(claimed[0]!, /^(every-second|jittery) \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    assert.ok(Date.parse(claimed[0]!.split(' ')[1]!) >= startedAt - 1_000, claimed[0]);
    await verifier.submitted[0]!.finish(FAIL);
    assert.ok((await scheduler.list())[0]!.recheckAt);
    assert.ok(timers() > timersBefore, 'cron, jitter and re-check timers are armed');
    scheduler.stop();
    await settled();
    assert.equal(getTasks().size, tasksBefore);
    assert.equal(timers(), timersBefore);
  });
});

describe('scheduler across replicas sharing one store', () => {
  /** Two replicas: each its own store connection to one SQLite file, registry, verifier and cron. */
  async function replicas(schedule: Partial<ScheduleConfig>) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-ticks-'));
    const file = path.join(dir, 'smoke.db');
    const stores = [await openStore({ kind: 'sqlite', file }), await openStore({ kind: 'sqlite', file })];
    const [a, b] = stores.map((store, i) => setup([schedule], { store, runsIn: store, replica: `replica-${i}` }));
    const close = async () => {
      a!.scheduler.stop();
      b!.scheduler.stop();
      for (const store of stores) await store.close();
      rmSync(dir, { recursive: true, force: true });
    };
    return { a: a!, b: b!, stores, close };
  }

  it('runs each tick once: the replica that claims the slot first runs it, the other counts claimed_elsewhere', async () => {
    const { a, b, stores, close } = await replicas({ name: 'nightly' });
    try {
      assert.deepEqual(await a.allTicks('nightly'), { started: 0, skipped: 0, missed: 0, claimedElsewhere: 0 }, 'series exist before the first tick');
      for (let i = 0; i < 6; i++) {
        const slot = new Date(START + i * 60_000);
        const [first, second] = i % 2 === 0 ? [a, b] : [b, a];
        const before = first.verifier.submitted.length + second.verifier.submitted.length;
        await first.clock.fire('nightly', slot);
        // The other replica's cron fires the same slot a little later in its own time.
        await second.clock.fire('nightly', new Date(slot.getTime() + 250));
        assert.equal(first.verifier.submitted.length + second.verifier.submitted.length, before + 1, `slot ${i}: one run across both`);
        const run = first.verifier.submitted.at(-1)!;
        assert.equal(run.schedule, 'nightly');
        await run.finish(PASS);
      }
      assert.equal(a.verifier.submitted.length, 3);
      assert.equal(b.verifier.submitted.length, 3);
      assert.deepEqual(await a.allTicks('nightly'), { started: 3, skipped: 0, missed: 0, claimedElsewhere: 3 });
      assert.deepEqual(await b.allTicks('nightly'), { started: 3, skipped: 0, missed: 0, claimedElsewhere: 3 });
      // Every slot is taken in the store: a third replica firing it late gets none.
      for (let i = 0; i < 6; i++) assert.equal(await stores[0]!.claimTick('nightly', new Date(START + i * 60_000).toISOString(), 'replica-late'), false);
    } finally {
      await close();
    }
  });

  it('claims the slot before the jitter wait and before looking at its own runs', async () => {
    const { a, b, close } = await replicas({ name: 'spread', jitterSeconds: 60 });
    try {
      a.clock.random = () => 0.5;
      b.clock.random = () => 0.5;
      await a.clock.fire('spread', new Date(START));
      await b.clock.fire('spread', new Date(START));
      assert.deepEqual(a.clock.pending(), [30_000], 'the winner waits out its jitter');
      assert.deepEqual(b.clock.pending(), [], 'the loser waits for nothing');
      await a.clock.advance(30_000);
      assert.equal(a.verifier.submitted.length, 1);
      // The winner's run is still going: it skips the next slot it claims; the other replica does not run it either.
      await a.clock.fire('spread', new Date(START + 60_000));
      await b.clock.fire('spread', new Date(START + 60_000));
      assert.equal(a.verifier.submitted.length + b.verifier.submitted.length, 1);
      assert.deepEqual(await a.allTicks('spread'), { started: 1, skipped: 1, missed: 0, claimedElsewhere: 0 });
      assert.deepEqual(await b.allTicks('spread'), { started: 0, skipped: 0, missed: 0, claimedElsewhere: 2 });
    } finally {
      await close();
    }
  });

  it("skips a tick while the previous run, started by another replica, is still open in the store, and lists it on both", async () => {
    const { a, b, close } = await replicas({ name: 'nightly' });
    try {
      await a.clock.fire('nightly', new Date(START));
      assert.equal(a.verifier.submitted.length, 1);
      // B claims the next slot: it has nothing going itself, but A's run is still open.
      await b.clock.fire('nightly', new Date(START + 60_000));
      await a.clock.fire('nightly', new Date(START + 60_000));
      assert.equal(b.verifier.submitted.length, 0, 'no overlap across replicas');
      assert.deepEqual(await b.allTicks('nightly'), { started: 0, skipped: 1, missed: 0, claimedElsewhere: 0 });
      for (const replica of [a, b]) {
        const [status] = await replica.scheduler.list();
        assert.equal(status!.running, true);
        assert.deepEqual(status!.activeRunIds, [a.verifier.submitted[0]!.id]);
      }

      await a.verifier.submitted[0]!.finish(PASS);
      await b.clock.fire('nightly', new Date(START + 120_000));
      assert.equal(b.verifier.submitted.length, 1, 'once it ended, the next tick runs wherever it is claimed');
      const [onA] = await a.scheduler.list();
      assert.equal(onA!.lastRun?.id, a.verifier.submitted[0]!.id);
      assert.deepEqual(onA!.activeRunIds, [b.verifier.submitted[0]!.id]);
    } finally {
      await close();
    }
  });

  it('counts a claimed tick as missed when the store cannot say whether the previous run is going', async () => {
    const { clock, verifier, ticks, scheduler } = setup([{ name: 'nightly' }], {
      store: {
        lastFinishedRunOfSchedule: async () => undefined,
        claimTick: async () => true,
        openRuns: async () => {
          throw new StoreUnavailable('read the store', { cause: new Error('connection refused') });
        },
      },
    });
    await clock.fire('nightly');
    assert.equal(verifier.submitted.length, 0, 'not run blind: it could overlap its previous run');
    assert.deepEqual(await ticks('nightly'), { started: 0, skipped: 0, missed: 1 });
    await assert.rejects(scheduler.list(), StoreUnavailable);
    scheduler.stop();
  });

  it('counts a tick the store cannot claim as missed, with the cause, and runs nothing', async () => {
    const lines: { level: number; msg: string; err?: { message: string } }[] = [];
    const capture = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    let refuse = true;
    const { clock, verifier, scheduler, ticks } = setup([{ name: 'nightly' }], {
      logger: capture,
      store: {
        lastFinishedRunOfSchedule: async () => undefined,
        openRuns: async () => [],
        claimTick: async () => {
          if (refuse) throw new StoreUnavailable('claim the schedule tick', { cause: new Error('database or disk is full') });
          return true;
        },
      },
    });
    await clock.fire('nightly');
    assert.equal(verifier.submitted.length, 0, 'not run blind: every replica would');
    assert.deepEqual(await ticks('nightly'), { started: 0, skipped: 0, missed: 1 });
    assert.equal((await scheduler.list())[0]!.ticks.missed, 1);
    const warning = lines.find((l) => l.level === 40)!;
    assert.equal(warning.msg, 'schedule tick missed: the store could not record the claim on it');
    assert.match(warning.err!.message, /database or disk is full; could not claim the schedule tick/);
    // Manual runs are not ticks: they need no claim.
    assert.equal((await scheduler.runNow('nightly')).length, 1);
    await verifier.submitted[0]!.finish(PASS);
    refuse = false;
    await clock.fire('nightly', new Date(START + 60_000));
    assert.equal(verifier.submitted.length, 2, 'the next slot runs once the store takes writes again');
    scheduler.stop();
  });
});

/** Polls without a deadline of its own: on a loaded machine a tick may come late; the test's timeout ends a hang. */
async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((r) => setTimeout(r, 20));
}
