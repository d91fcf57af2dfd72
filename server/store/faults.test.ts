import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { StoreUnavailable } from '../errors.ts';
import { asStoreUnavailable, isWriteFault } from './faults.ts';
import { openStore } from './store.ts';

const tempDb = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'smoke-faults-')), 'smoke.db');
const sqliteError = (code: string) => Object.assign(new Error(code), { code });

describe('store write faults', () => {
  const cases: [code: string, unavailable: boolean][] = [
    ['SQLITE_FULL', true],
    ['SQLITE_IOERR', true],
    ['SQLITE_IOERR_WRITE', true],
    ['SQLITE_IOERR_FSYNC', true],
    ['SQLITE_READONLY', true],
    ['SQLITE_READONLY_DBMOVED', true],
    ['SQLITE_BUSY', true],
    ['SQLITE_CANTOPEN', true],
    ['SQLITE_CORRUPT', true],
    ['SQLITE_CONSTRAINT_UNIQUE', false],
    ['SQLITE_ERROR', false],
    ['SQLITE_FULLY_MADE_UP', false],
    ['ENOSPC', false],
  ];
  for (const [code, unavailable] of cases) {
    it(`${code} ${unavailable ? 'means' : 'does not mean'} the store cannot write`, () => {
      assert.equal(isWriteFault(sqliteError(code)), unavailable);
      const wrapped = asStoreUnavailable(sqliteError(code), 'record a flow result');
      assert.equal(wrapped instanceof StoreUnavailable, unavailable);
      if (wrapped) {
        assert.match(wrapped.message, new RegExp(`^the store cannot write: ${code}; could not record a flow result`));
        assert.equal((wrapped.cause as Error).message, code);
      }
    });
  }

  it('a database that cannot grow refuses results and the readiness probe with StoreUnavailable, and takes them again once it can', () => {
    const store = openStore(tempDb());
    const { run } = store.createDeployment({ service: 'shop', environment: 'canary', version: '1' });
    const result = { environment: 'canary', flow: 'f', file: 'f.spec.ts', outcome: 'passed' as const, durationMs: 1, retries: 0, error: 'x'.repeat(8_000), artifacts: [] };
    store.probeWrite();
    // SQLite's own limit on the file's pages: every write that needs a new page fails with the real SQLITE_FULL.
    store.db.pragma('max_page_count = 1');
    // Pages already free in the file (the probe's own, say) are used first; then writes fail.
    let refusal: unknown;
    for (let i = 0; i < 20 && !refusal; i++) {
      try {
        store.recordFlowResult(run!.id, { ...result, flow: `f${i}` });
      } catch (err) {
        refusal = err;
      }
    }
    assert.ok(refusal instanceof StoreUnavailable, 'a full database refuses a result');
    assert.match(refusal.message, /^the store cannot write: database or disk is full; could not record a flow result/);
    assert.throws(() => store.probeWrite(), StoreUnavailable, 'the probe needs more than what is left');
    let claimRefused: unknown;
    for (let i = 0; i < 200 && !claimRefused; i++) {
      try {
        store.claimTick(`schedule-${'x'.repeat(500)}-${i}`, '2030-01-01T00:00:00.000Z');
      } catch (err) {
        claimRefused = err;
      }
    }
    assert.ok(claimRefused instanceof StoreUnavailable, 'a full database refuses a tick claim');
    assert.match(claimRefused.message, /could not claim the schedule tick/);
    assert.doesNotThrow(() => store.ping(), 'reads still work: which is why readiness must write');
    store.db.pragma('max_page_count = 1073741823');
    store.probeWrite();
    store.recordFlowResult(run!.id, { ...result, flow: 'f0' });
    assert.ok(store.getRun(run!.id)!.results.some((r) => r.flow === 'f0'));
    store.close();
  });

  it('a read-only database refuses every write with StoreUnavailable', () => {
    const store = openStore(tempDb());
    store.db.pragma('query_only = 1');
    assert.throws(() => store.createDeployment({ service: 'shop', environment: 'canary', version: '1' }), (err: Error) => err instanceof StoreUnavailable && /record the deployment/.test(err.message));
    assert.throws(() => store.probeWrite(), StoreUnavailable);
    assert.throws(() => store.claimTick('nightly', '2030-01-01T00:00:00.000Z'), (err: Error) => err instanceof StoreUnavailable && /claim the schedule tick/.test(err.message));
    assert.equal(store.listDeployments({ limit: 10 }).length, 0);
    store.close();
  });

  it('settles a run and its deployment in one transaction: both or neither', () => {
    const store = openStore(tempDb());
    const { deployment, run } = store.createDeployment({ service: 'shop', environment: 'canary', version: '1' });
    store.markRunRunning(run!.id);
    assert.equal(store.getDeployment(deployment.id)!.status, 'running', 'starting the run starts its deployment');
    const verdict = { kind: 'inconclusive' as const, cause: 'service' as const, reasons: ['r'] };
    store.db.exec(`CREATE TEMP TRIGGER refuse BEFORE UPDATE ON deployments BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    assert.throws(() => store.settle({ run: { id: run!.id, end: { status: 'done', verdict } }, deployment: { id: deployment.id, verdict } }));
    assert.equal(store.getRun(run!.id)!.status, 'running', 'the run is not finished without its deployment');
    store.db.exec('DROP TRIGGER refuse');
    assert.deepEqual(store.settle({ run: { id: run!.id, end: { status: 'done', verdict } }, deployment: { id: deployment.id, verdict } }), { run: true, deployment: true });
    assert.deepEqual(store.settle({ run: { id: run!.id, end: { status: 'done', verdict } }, deployment: { id: deployment.id, verdict } }), { run: false, deployment: false }, 'a second ending changes nothing');
    assert.deepEqual(store.getDeployment(deployment.id)!.verdict, verdict);
    store.close();
  });
});
