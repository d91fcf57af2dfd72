import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { ManualTimers } from '../testing/manual-timers.ts';
import { StoreUnavailable } from '../errors.ts';
import type { Settlement } from '../store/store.ts';
import { createSettler, type Ending } from './settlement.ts';

/** A store that refuses writes while `full`, and keeps what it accepted. */
function fakeStore() {
  const stored: Settlement[] = [];
  const state = { full: false };
  return {
    state,
    stored,
    async settle(s: Settlement) {
      if (state.full) throw new StoreUnavailable('store how the verification ended', { cause: Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }) });
      stored.push(s);
      return { run: s.run !== undefined, deployment: s.deployment !== undefined };
    },
  };
}

function logCapture() {
  const lines: { msg: string; retryInMs?: number }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { lines, logger };
}

/** Lets every write and announcement the fake store resolved at once run to its end. */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

const ending = (id: string): Ending => ({ run: { id, end: { status: 'done' } }, deployment: { id: `dep-${id}` } });

describe('settler', () => {
  it('stores at once when the store takes writes', async () => {
    const store = fakeStore();
    const landed: string[] = [];
    const timers = new ManualTimers();
    const settler = createSettler({ store, logger: pino({ level: 'silent' }), timers, landed: (e) => landed.push(e.run!.id), recovered: () => assert.fail('never refused') });
    settler.settle(ending('a'));
    await settled();
    assert.deepEqual(landed, ['a']);
    assert.equal(settler.holding, false);
    assert.equal(timers.scheduled, false);
  });

  it('keeps endings the store refuses, retries with doubling capped backoff, logs once per step, lands them in order once writes work', async () => {
    const store = fakeStore();
    const { lines, logger } = logCapture();
    const landed: string[] = [];
    let recovered = 0;
    const timers = new ManualTimers();
    const settler = createSettler({ store, logger, timers, backoff: { firstMs: 100, maxMs: 500 }, landed: (e) => landed.push(e.run!.id), recovered: () => recovered++ });

    store.state.full = true;
    settler.settle(ending('a'));
    await settled();
    settler.settle(ending('b'));
    await settled();
    settler.refused(new Error('a run could not start'));
    await settled();
    assert.equal(settler.holding, true);
    assert.deepEqual(landed, [], 'nobody hears of an ending before it is stored');
    for (let i = 0; i < 4; i++) {
      timers.fire();
      await settled();
    }
    assert.deepEqual(timers.delays, [100, 200, 400, 500, 500]);
    assert.equal(lines.filter((l) => l.msg.startsWith('the store refuses writes')).length, 5, 'one line per backoff step');
    assert.equal(recovered, 0);

    store.state.full = false;
    timers.fire();
    await settled();
    assert.deepEqual(landed, ['a', 'b']);
    assert.deepEqual(store.stored.map((s) => s.run!.id), ['a', 'b']);
    assert.equal(settler.holding, false);
    assert.equal(recovered, 1);

    // The backoff starts over after a recovery.
    store.state.full = true;
    settler.settle(ending('c'));
    await settled();
    assert.equal(timers.delays.at(-1), 100);
  });

  it('retries at once when a write elsewhere shows the store is back', async () => {
    const store = fakeStore();
    const landed: string[] = [];
    const timers = new ManualTimers();
    const settler = createSettler({ store, logger: pino({ level: 'silent' }), timers, landed: (e) => landed.push(e.run!.id), recovered: () => {} });
    store.state.full = true;
    settler.settle(ending('a'));
    await settled();
    store.state.full = false;
    settler.wrote();
    await settled();
    assert.deepEqual(landed, ['a']);
    assert.equal(timers.scheduled, false);
  });

  it('on stop, tries once more and reports what is still not stored', async () => {
    const store = fakeStore();
    const timers = new ManualTimers();
    const settler = createSettler({ store, logger: pino({ level: 'silent' }), timers, landed: () => {}, recovered: () => {} });
    store.state.full = true;
    settler.settle(ending('a'));
    await settled();
    assert.equal(await settler.stop(), 1);
    assert.equal(timers.scheduled, false, 'no retry after stop');

    const other = createSettler({ store, logger: pino({ level: 'silent' }), timers, landed: () => {}, recovered: () => {} });
    other.settle(ending('b'));
    await settled();
    store.state.full = false;
    assert.equal(await other.stop(), 0);
    assert.deepEqual(store.stored.map((s) => s.run!.id), ['b']);
  });

  it('a failing announcement does not put a stored ending back in line', async () => {
    const store = fakeStore();
    const settler = createSettler({
      store,
      logger: pino({ level: 'silent' }),
      timers: new ManualTimers(),
      landed: () => {
        throw new Error('observer bug');
      },
      recovered: () => {},
    });
    settler.settle(ending('a'));
    await settled();
    settler.settle(ending('b'));
    await settled();
    assert.deepEqual(store.stored.map((s) => s.run!.id), ['a', 'b']);
  });

  it('a refusal with nothing held (a run that could not start) still lets stop() end once the store is back', async () => {
    const store = fakeStore();
    const timers = new ManualTimers();
    let recovered = 0;
    const settler = createSettler({ store, logger: pino({ level: 'silent' }), timers, landed: () => {}, recovered: () => recovered++ });
    settler.refused(new Error('a claim could not be stored'));
    timers.fire();
    await settled();
    assert.equal(recovered, 1);
    assert.equal(await settler.stop(), 0, 'stop() resolves: no write loop is left behind');
  });
});
