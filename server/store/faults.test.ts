import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { StoreUnavailable } from '../errors.ts';
import { connectSqlite } from './connection.ts';
import { asStoreUnavailable, isWriteFault } from './faults.ts';
import { migrateSqlite } from './migrate.ts';
import { composeStore } from './open.ts';

const tempDb = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'smoke-faults-')), 'smoke.db');
const coded = (code: string, message = code) => Object.assign(new Error(message), { code });

/** A SQLite store over a connection the test holds, to make it full or read-only (settings of that connection). */
function sqliteStore() {
  const file = tempDb();
  const { db, raw } = connectSqlite(file);
  migrateSqlite(raw);
  return { store: composeStore(db, 'sqlite', file, file), raw };
}

describe('store faults', () => {
  const cases: [what: string, err: unknown, unavailable: boolean][] = [
    ['SQLITE_FULL', coded('SQLITE_FULL'), true],
    ['SQLITE_IOERR', coded('SQLITE_IOERR'), true],
    ['SQLITE_IOERR_WRITE', coded('SQLITE_IOERR_WRITE'), true],
    ['SQLITE_IOERR_FSYNC', coded('SQLITE_IOERR_FSYNC'), true],
    ['SQLITE_READONLY', coded('SQLITE_READONLY'), true],
    ['SQLITE_READONLY_DBMOVED', coded('SQLITE_READONLY_DBMOVED'), true],
    ['SQLITE_BUSY', coded('SQLITE_BUSY'), true],
    ['SQLITE_CANTOPEN', coded('SQLITE_CANTOPEN'), true],
    ['SQLITE_CORRUPT', coded('SQLITE_CORRUPT'), true],
    ['SQLITE_CONSTRAINT_UNIQUE', coded('SQLITE_CONSTRAINT_UNIQUE'), false],
    ['SQLITE_ERROR', coded('SQLITE_ERROR'), false],
    ['SQLITE_FULLY_MADE_UP', coded('SQLITE_FULLY_MADE_UP'), false],
    ['ENOSPC', coded('ENOSPC'), false],
    ['PostgreSQL 08006 connection failure', coded('08006'), true],
    ['PostgreSQL 08001 cannot connect', coded('08001'), true],
    ['PostgreSQL 53100 disk full', coded('53100'), true],
    ['PostgreSQL 53300 too many connections', coded('53300'), true],
    ['PostgreSQL 57P01 admin shutdown', coded('57P01'), true],
    ['PostgreSQL 57P03 cannot connect now', coded('57P03'), true],
    ['PostgreSQL 58030 I/O error', coded('58030'), true],
    ['PostgreSQL 25006 read-only transaction', coded('25006'), true],
    ['PostgreSQL 57014 statement timeout', coded('57014'), true],
    ['PostgreSQL 23505 unique violation', coded('23505'), false],
    ['PostgreSQL 42P01 undefined table', coded('42P01'), false],
    ['PostgreSQL 0800 (too short)', coded('0800'), false],
    ['ECONNREFUSED', coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'), true],
    ['ECONNRESET', coded('ECONNRESET'), true],
    ['a refused connect to every address', Object.assign(new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')], ''), { code: undefined }), true],
    ['pg: Connection terminated unexpectedly', new Error('Connection terminated unexpectedly'), true],
    ['pg pool: connect timeout', new Error('timeout exceeded when trying to connect'), true],
    ['pg: Query read timeout', new Error('Query read timeout'), true],
    ['a fault as the cause', new Error('wrapped', { cause: coded('57P01') }), true],
    ['a bad query', new Error('syntax error at or near "SELEC"'), false],
  ];
  for (const [what, err, unavailable] of cases) {
    it(`${what} ${unavailable ? 'means' : 'does not mean'} the store is unavailable`, () => {
      assert.equal(isWriteFault(err), unavailable);
      const wrapped = asStoreUnavailable(err, 'record a flow result');
      assert.equal(wrapped instanceof StoreUnavailable, unavailable);
      if (wrapped) {
        assert.match(wrapped.message, /^the store is unavailable: .*; could not record a flow result/);
        assert.equal(wrapped.cause, err);
      }
    });
  }

  it('a SQLite database that cannot grow refuses results and the readiness probe with StoreUnavailable, and takes them again once it can', async () => {
    const { store, raw } = sqliteStore();
    const { run } = await store.createDeployment({ service: 'shop', environment: 'canary', version: '1' });
    const result = { environment: 'canary', flow: 'f', file: 'f.spec.ts', outcome: 'passed' as const, durationMs: 1, retries: 0, error: 'x'.repeat(8_000), artifacts: [] };
    await store.probeWrite();
    // SQLite's own limit on the file's pages: every write that needs a new page fails with the real SQLITE_FULL.
    raw.pragma('max_page_count = 1');
    // Pages already free in the file (the probe's own, say) are used first; then writes fail.
    let refusal: unknown;
    for (let i = 0; i < 20 && !refusal; i++) await store.recordFlowResult(run!.id, { ...result, flow: `f${i}` }).catch((err: unknown) => (refusal = err));
    assert.ok(refusal instanceof StoreUnavailable, 'a full database refuses a result');
    assert.match(refusal.message, /^the store is unavailable: database or disk is full; could not record a flow result/);
    await assert.rejects(store.probeWrite(), StoreUnavailable, 'the probe needs more than what is left');
    let claimRefused: unknown;
    for (let i = 0; i < 200 && !claimRefused; i++) {
      await store.claimTick(`schedule-${'x'.repeat(500)}-${i}`, '2030-01-01T00:00:00.000Z').catch((err: unknown) => (claimRefused = err));
    }
    assert.ok(claimRefused instanceof StoreUnavailable, 'a full database refuses a tick claim');
    assert.match(claimRefused.message, /could not claim the schedule tick/);
    await store.ping(); // Reads still work: which is why readiness must write.
    raw.pragma('max_page_count = 1073741823');
    await store.probeWrite();
    await store.recordFlowResult(run!.id, { ...result, flow: 'f0' });
    assert.ok((await store.getRun(run!.id))!.results.some((r) => r.flow === 'f0'));
    await store.close();
  });

  it('a read-only SQLite database refuses every write with StoreUnavailable', async () => {
    const { store, raw } = sqliteStore();
    raw.pragma('query_only = 1');
    await assert.rejects(store.createDeployment({ service: 'shop', environment: 'canary', version: '1' }), (err: Error) => err instanceof StoreUnavailable && /record the deployment/.test(err.message));
    await assert.rejects(store.probeWrite(), StoreUnavailable);
    await assert.rejects(store.claimTick('nightly', '2030-01-01T00:00:00.000Z'), (err: Error) => err instanceof StoreUnavailable && /claim the schedule tick/.test(err.message));
    await assert.rejects(store.claimNextRun('smoke-0', 1000), StoreUnavailable);
    assert.equal((await store.listDeployments({ limit: 10 })).length, 0);
    await store.close();
  });
});
