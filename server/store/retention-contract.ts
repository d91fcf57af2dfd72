import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { FlowResult, Verdict } from '../verdict/types.ts';
import { FAIL, PASS, result } from '../testing/history-fixtures.ts';
import type { Store } from './store.ts';

/** A lease no test outlives. */
const HELD = 86_400_000;

/** After every row this test wrote: the store stamps rows with its own clock. */
const FUTURE = '2999-01-01T00:00:00.000Z';

/** Retention's part of `sectionsContract`. */
export function retentionContract(store: () => Promise<Store>): void {
  it('keeps what the metrics and pages read back, prunes the rest in batches, and deployments once nothing points at them', async () => {
    const s = await store();
    const ids: Record<string, string> = {};
    const deploy = async (name: string, environment: string, verdict: Verdict | undefined, results: FlowResult[] = []) => {
      const { deployment, run } = await s.createDeployment({ service: 'shop', environment, version: name });
      ids[name] = deployment.id;
      ids[`${name}.run`] = run!.id;
      await s.markRunRunning(run!.id, 'replica-1', HELD);
      for (const r of results) await s.recordFlowResult(run!.id, r);
      if (verdict) await s.settle({ run: { id: run!.id, end: { status: 'done', verdict } }, deployment: { id: deployment.id, verdict } });
    };
    const runOf = async (name: string, target: string, schedule: string | undefined, end?: { verdict?: Verdict; status?: 'done' | 'interrupted' }, results: FlowResult[] = []) => {
      const run = (await s.createRun({ trigger: schedule ? 'schedule' : 'manual', target, environments: [target], ...(schedule && { schedule }) }))!;
      ids[name] = run.id;
      for (const r of results) await s.recordFlowResult(run.id, r);
      if (end) await s.finishRun(run.id, { status: end.status ?? 'done', ...(end.verdict && { verdict: end.verdict }) });
    };

    // Oldest first: "newest" is by creation order.
    await deploy('old-fail', 'canary', FAIL, [result('canary', 'checkout', 'failed')]);
    await deploy('old-signalled', 'canary', FAIL);
    await deploy('old-gated', 'canary', PASS);
    await deploy('staging-only', 'staging', PASS, [result('staging', 'checkout', 'passed')]);
    await deploy('open', 'canary', undefined);
    await runOf('nightly-1', 'production', 'nightly', { verdict: PASS });
    await runOf('nightly-2', 'production', 'nightly', { verdict: PASS });
    await runOf('nightly-3', 'production', 'nightly', { verdict: FAIL });
    await runOf('manual-old', 'canary', undefined, { status: 'interrupted' });
    await runOf('queued-old', 'staging', undefined);
    await runOf('staging-decided', 'staging', undefined, { verdict: FAIL }, [result('staging', 'search', 'failed')]);
    await runOf('staging-skipped', 'staging', undefined, { verdict: { kind: 'inconclusive', reasons: ['no flow ran'], cause: 'no-flows' } }, [result('staging', 'search', 'skipped')]);
    await deploy('new', 'canary', PASS, [result('canary', 'checkout', 'passed')]);
    await s.outbox.enqueue({ deploymentId: ids['old-signalled']!, webhook: 'deployer', event: 'deployment.rollback_requested', payload: '{}', nowMs: Date.now(), expiresAtMs: Date.now() + HELD });
    await s.gateDeliveries.record('github', 'delivery-1', ids['old-gated']!, Date.now());

    const before = {
      latestDeployments: await s.latestDeployments(),
      lastFinishedRuns: await s.lastFinishedRuns(),
      latestFlowOutcomes: await s.latestFlowOutcomes(),
      schedule: await s.lastFinishedRunOfSchedule('nightly'),
    };
    const kept = await s.retention.kept();
    const named = (list: Iterable<string>) => [...list].map((id) => Object.keys(ids).find((name) => ids[name] === id) ?? id).sort();
    assert.deepEqual(named(kept.deployments), ['new', 'staging-only'], "each environment's newest deployment");
    assert.deepEqual(named(kept.runs), [
      'new.run', // of canary's newest deployment; canary's newest run, last judged and passed deploy
      'nightly-2', // the schedule's newest pass
      'nightly-3', // the schedule's newest, production's newest
      'staging-decided', // the newest decided outcome of staging's search flow, skipped since
      'staging-only.run', // of staging's newest deployment
      'staging-skipped', // staging's newest run with results, its last judged manual run
    ]);

    const pruned: string[] = [];
    for (let batch; (batch = await s.retention.pruneRuns(FUTURE, kept, 2)).length > 0; ) {
      assert.ok(batch.length <= 2, 'a batch stops at its limit');
      pruned.push(...batch);
    }
    // The open deployment's run, and the queued run, stay however old; so do the kept ones.
    assert.deepEqual(named(pruned), ['manual-old', 'nightly-1', 'old-fail.run', 'old-gated.run', 'old-signalled.run']);
    assert.equal(await s.getRun(ids['old-fail.run']!), undefined);
    assert.ok(await s.getRun(ids['queued-old']!));
    assert.ok(await s.getRun(ids['open.run']!));

    assert.equal(await s.retention.pruneDeployments(FUTURE, kept, 1), 1);
    assert.equal(await s.retention.pruneDeployments(FUTURE, kept, 10), 0, 'the rest are kept, open, or pointed at');
    assert.equal(await s.getDeployment(ids['old-fail']!), undefined);
    for (const name of ['old-signalled', 'old-gated', 'open', 'new', 'staging-only']) assert.ok(await s.getDeployment(ids[name]!), name);

    assert.deepEqual(await s.latestDeployments(), before.latestDeployments);
    assert.deepEqual(await s.lastFinishedRuns(), before.lastFinishedRuns);
    assert.deepEqual(await s.latestFlowOutcomes(), before.latestFlowOutcomes);
    assert.deepEqual(await s.lastFinishedRunOfSchedule('nightly'), before.schedule);
  });

  it('prunes only what ended before the cutoff', async () => {
    const s = await store();
    const older = (await s.createRun({ trigger: 'manual', target: 'canary', environments: ['canary'] }))!;
    await s.finishRun(older.id, { status: 'done', verdict: FAIL });
    const cutoff = await clockPast();
    const newer = (await s.createRun({ trigger: 'manual', target: 'canary', environments: ['canary'] }))!;
    await s.finishRun(newer.id, { status: 'done', verdict: PASS });
    const last = (await s.createRun({ trigger: 'manual', target: 'canary', environments: ['canary'] }))!;
    await s.finishRun(last.id, { status: 'cancelled' });
    const nothingKept = { runs: [], deployments: [] };
    assert.deepEqual(await s.retention.pruneRuns(cutoff, nothingKept, 10), [older.id]);
    assert.deepEqual(await s.retention.pruneRuns(cutoff, nothingKept, 10), []);
    assert.deepEqual(await s.retention.existingRuns([older.id, newer.id, last.id, 'run_unknown']), new Set([newer.id, last.id]));
    assert.deepEqual(await s.retention.existingRuns([]), new Set());
  });

  it('two replicas pruning at once each delete different runs, and together all of them', async () => {
    const [one, two] = [await store(), await store()];
    const runs: string[] = [];
    for (let i = 0; i < 12; i++) {
      const run = (await one.createRun({ trigger: 'schedule', target: 'production', environments: ['production'], schedule: 'pulse' }))!;
      await one.recordFlowResult(run.id, result('production', 'checkout', 'passed'));
      await one.finishRun(run.id, { status: 'done', verdict: PASS });
      runs.push(run.id);
    }
    const kept = await one.retention.kept();
    assert.deepEqual(kept.runs, [runs.at(-1)]);
    const batches = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? one : two).retention.pruneRuns(FUTURE, kept, 2)));
    const pruned = batches.flat();
    assert.equal(new Set(pruned).size, pruned.length, 'no run reported by both');
    // Whatever a skipped lock left over, the next batches finish.
    for (let batch; (batch = await two.retention.pruneRuns(FUTURE, kept, 5)).length > 0; ) pruned.push(...batch);
    assert.deepEqual(pruned.sort(), runs.slice(0, -1).sort());
    assert.deepEqual(await one.retention.existingRuns(runs), new Set([runs.at(-1)]));
  });

  it('forgets claims on cron ticks oldest first, a batch at a time', async () => {
    const [one, two] = [await store(), await store()];
    const slot = (minute: number) => `2030-01-01T00:0${minute}:00.000Z`;
    assert.equal(await one.claimTick('nightly', slot(0), 'replica-1'), true);
    assert.equal(await two.claimTick('hourly', slot(0), 'replica-2'), true);
    assert.equal(await two.claimTick('nightly', slot(1)), true);
    assert.equal(await one.retention.pruneTickClaims(slot(1), 1), 1, 'a batch stops at its limit');
    assert.equal(await two.retention.pruneTickClaims(slot(1), 10), 1);
    assert.equal(await one.retention.pruneTickClaims(slot(1), 10), 0, 'a claim of the slot itself is kept');
    assert.equal(await one.claimTick('nightly', slot(1)), false);
    assert.equal(await one.claimTick('nightly', slot(0)), true, 'a forgotten slot can be claimed again');
  });
}

/** An ISO time after every row written so far and before any written next: waits out the current millisecond. */
async function clockPast(): Promise<string> {
  const now = new Date().toISOString();
  while (new Date().toISOString() === now) await new Promise((resolve) => setImmediate(resolve));
  return new Date().toISOString();
}
