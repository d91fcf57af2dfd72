import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cachedStoreRead } from './store-read.ts';

/** A read the test answers by hand, counting how often it was asked. */
function manualRead<T>() {
  const pending: { resolve(value: T): void; reject(err: unknown): void }[] = [];
  return {
    pending,
    read: () => new Promise<T>((resolve, reject) => void pending.push({ resolve, reject })),
  };
}

function logCapture() {
  const lines: { level: 'warn' | 'info'; msg: string }[] = [];
  return { lines, log: { warn: (_: object, msg: string) => void lines.push({ level: 'warn', msg }), info: (_: object, msg: string) => void lines.push({ level: 'info', msg }) } };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('cachedStoreRead', () => {
  it('shares one read between gets that come while it is on its way', async () => {
    const { pending, read } = manualRead<number>();
    const cache = cachedStoreRead(read, { what: 'test', now: () => 0 });
    const gets = [cache.get(), cache.get(), cache.get()];
    await turn();
    assert.equal(pending.length, 1, 'one read for three gets');
    pending[0]!.resolve(7);
    assert.deepEqual(await Promise.all(gets), [7, 7, 7]);
    assert.equal(await cache.get(), 7, 'served from the cache within the TTL');
    assert.equal(pending.length, 1);
  });

  it('reads again once the TTL is up, and after invalidate', async () => {
    let now = 0;
    let reads = 0;
    const cache = cachedStoreRead(async () => ++reads, { what: 'test', now: () => now, ttlMs: 3_000 });
    assert.equal(await cache.get(), 1);
    now = 2_999;
    assert.equal(await cache.get(), 1);
    now = 3_000;
    assert.equal(await cache.get(), 2);
    cache.invalidate();
    assert.equal(await cache.get(), 3);
  });

  it('answers with the last value when the store is slower than the wait, and keeps the read going for later', async () => {
    let now = 0;
    const { pending, read } = manualRead<string>();
    const { lines, log } = logCapture();
    const cache = cachedStoreRead(read, { what: 'test', now: () => now, ttlMs: 1_000, waitMs: 5, log });
    cache.put('old');

    now = 1_000;
    // This read does not answer while the scrapes wait: each gives the last value after waitMs.
    assert.equal(await cache.get(), 'old');
    now = 5_000;
    assert.equal(await cache.get(), 'old');
    assert.equal(pending.length, 1, 'a slow read is not piled on: later gets share it');
    assert.deepEqual(lines.map((l) => l.level), ['warn'], 'warned once while slow');

    pending[0]!.resolve('new');
    await turn();
    assert.equal(await cache.get(), 'new', 'the slow read filled the cache when it landed');
    assert.deepEqual(lines.map((l) => l.level), ['warn', 'info']);
  });

  it('keeps the last value and warns once while reads fail, and says so when they work again', async () => {
    let now = 0;
    let failing = false;
    const { lines, log } = logCapture();
    const cache = cachedStoreRead(
      async () => {
        if (failing) throw new Error('connection refused');
        return now;
      },
      { what: 'test', now: () => now, ttlMs: 1_000, log },
    );
    assert.equal(await cache.get(), 0);
    failing = true;
    for (const at of [1_000, 2_000, 3_000]) {
      now = at;
      assert.equal(await cache.get(), 0);
    }
    assert.deepEqual(lines.map((l) => l.level), ['warn']);
    failing = false;
    now = 4_000;
    assert.equal(await cache.get(), 4_000);
    assert.deepEqual(lines.map((l) => l.level), ['warn', 'info']);
  });

  it('is undefined until a read has worked', async () => {
    const cache = cachedStoreRead(() => Promise.reject(new Error('down')), { what: 'test', now: () => 0 });
    assert.equal(await cache.get(), undefined);
  });

  it('does not let a read that started before invalidate or put overwrite what came after', async () => {
    const { pending, read } = manualRead<string>();
    const cache = cachedStoreRead(read, { what: 'test', now: () => 0 });
    const stale = cache.get();
    await turn();
    cache.put('written here');
    pending[0]!.resolve('read before the write');
    await stale;
    assert.equal(await cache.get(), 'written here');

    cache.invalidate();
    const next = cache.get();
    await turn();
    assert.equal(pending.length, 2, 'invalidate starts a read of its own');
    pending[1]!.resolve('fresh');
    assert.equal(await next, 'fresh');
  });
});
