import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { StatusTarget } from '../gates/github-status-kinds.ts';
import type { Store } from './store.ts';

const NOW = Date.parse('2027-03-01T12:00:00.000Z');
const DAY = 86_400_000;
/** A lease no test outlives. */
const HELD = DAY;

const commit = (sha = 'a'.repeat(40)): StatusTarget => ({ kind: 'commit', repository: 'acme/shop', environment: 'canary', sha });
const githubDeployment: StatusTarget = { kind: 'deployment', repository: 'acme/shop', environment: 'canary', githubDeploymentId: 9_007_199_254, environmentUrl: 'https://canary.example' };
const PENDING = { state: 'pending' as const, description: 'smoke is verifying 1.0.0 on canary' };
const PASSED = { state: 'success' as const, description: 'smoke passed' };

/** The GitHub status queue's part of `sectionsContract`. */
export function statusesContract(store: () => Promise<Store>): void {
  it('tracks each deployment and kind once, holding back a pending state where asked', async () => {
    const s = await store();
    const q = s.githubStatuses;
    assert.equal(await q.track('dep_1', commit(), PENDING, false, NOW), true);
    assert.equal(await q.track('dep_1', commit('b'.repeat(40)), PASSED, false, NOW), false, 'tracked already');
    assert.equal(await q.track('dep_1', githubDeployment, PENDING, true, NOW), true);
    assert.deepEqual(await q.get('dep_1', 'commit'), {
      kind: 'commit',
      repository: 'acme/shop',
      environment: 'canary',
      sha: 'a'.repeat(40),
      deploymentId: 'dep_1',
      ...PENDING,
      status: 'queued',
      attempts: 0,
      nextAttemptAtMs: NOW,
      updatedAtMs: NOW,
      revision: 1,
    });
    const held = await q.get('dep_1', 'deployment');
    assert.equal(held?.status, 'waiting');
    assert.equal(held?.kind === 'deployment' && held.githubDeploymentId, 9_007_199_254, 'a GitHub id past 32 bits comes back as a number');
    assert.equal(held?.kind === 'deployment' && held.environmentUrl, 'https://canary.example');
    assert.equal(await q.get('dep_2', 'commit'), undefined);
    assert.deepEqual((await q.awaitingVerdict(10)).map((r) => r.kind).sort(), ['commit', 'deployment']);
  });

  it('changes the state asked for, not a held one to pending, and bumps the revision', async () => {
    const s = await store();
    const q = s.githubStatuses;
    await q.track('dep_1', commit(), PENDING, false, NOW);
    await q.track('dep_1', githubDeployment, PENDING, true, NOW);
    assert.equal(await q.change('dep_1', PENDING, NOW + 1), 0, 'the state asked for already');
    assert.equal(await q.change('dep_1', { ...PENDING, description: 'smoke is verifying again' }, NOW + 1), 1, 'only the commit status: the held one stays held');
    assert.equal((await q.get('dep_1', 'deployment'))!.status, 'waiting');
    assert.equal(await q.change('dep_1', PASSED, NOW + 2), 2);
    const row = (await q.get('dep_1', 'deployment'))!;
    assert.deepEqual([row.status, row.state, row.revision, row.nextAttemptAtMs, row.updatedAtMs], ['queued', 'success', 2, NOW + 2, NOW + 2]);
    assert.equal((await q.get('dep_1', 'commit'))!.revision, 3);
    assert.deepEqual(await q.awaitingVerdict(10), []);
  });

  it('leases what it claims, and records an attempt only at the revision attempted', async () => {
    const s = await store();
    const q = s.githubStatuses;
    await q.track('dep_1', commit(), PENDING, false, NOW);
    await q.track('dep_2', commit(), PENDING, false, NOW + 10);
    const [row] = await q.claimDue(NOW, 10, HELD);
    assert.deepEqual([row?.deploymentId, row?.nextAttemptAtMs], ['dep_1', NOW + HELD]);
    assert.deepEqual(await q.claimDue(NOW + 10, 10, HELD).then((rows) => rows.map((r) => r.deploymentId)), ['dep_2'], 'dep_1 is leased');
    assert.equal(await q.nextDueAtMs(), NOW + HELD);
    assert.deepEqual(await q.claimDue(NOW + 10, 10, HELD), []);

    // A verdict arrives while the pending state is being posted: the pending attempt must not mark it posted.
    await q.change('dep_1', PASSED, NOW + 20);
    await q.record(row!, { status: 'posted' }, NOW + 21);
    let stored = (await q.get('dep_1', 'commit'))!;
    assert.deepEqual([stored.status, stored.state, stored.revision], ['queued', 'success', 2]);

    const [verdict] = await q.claimDue(NOW + 30, 10, 0);
    assert.equal(verdict?.revision, 2);
    await q.record(verdict!, { status: 'queued', nextAttemptAtMs: NOW + 1000, error: 'HTTP 502' }, NOW + 31);
    stored = (await q.get('dep_1', 'commit'))!;
    assert.deepEqual([stored.status, stored.attempts, stored.nextAttemptAtMs, stored.lastError], ['queued', 1, NOW + 1000, 'HTTP 502']);
    await q.record(stored, { status: 'posted' }, NOW + 1001);
    stored = (await q.get('dep_1', 'commit'))!;
    assert.deepEqual([stored.status, stored.attempts, stored.lastError], ['posted', 1, undefined]);
    await q.record(stored, { status: 'failed', error: 'late' }, NOW + 1002);
    assert.equal((await q.get('dep_1', 'commit'))!.status, 'posted', 'only a queued row takes an attempt');
  });

  it('never gives one status to two replicas claiming at once', async () => {
    const [one, two] = [await store(), await store()];
    const count = 20;
    for (let i = 0; i < count; i++) await one.githubStatuses.track(`dep_${String(i).padStart(2, '0')}`, commit(), PENDING, false, NOW);
    const claims = Array.from({ length: 14 }, (_, i) => (i % 2 ? one : two).githubStatuses.claimDue(NOW, 3, HELD));
    const ids = (await Promise.all(claims)).flat().map((r) => r.deploymentId);
    assert.equal(ids.length, count);
    assert.equal(new Set(ids).size, count);
  });

  it('forgets settled and held rows past retention, never a queued one', async () => {
    const s = await store();
    const q = s.githubStatuses;
    // First: tracking forgets what is past retention at the time it tracks.
    await q.track('dep_recent', githubDeployment, PENDING, true, NOW - DAY);
    await q.track('dep_posted', commit(), PENDING, false, NOW - 40 * DAY);
    const [row] = await q.claimDue(NOW - 40 * DAY, 1, 0);
    await q.record(row!, { status: 'posted' }, NOW - 40 * DAY);
    await q.track('dep_held', githubDeployment, PENDING, true, NOW - 40 * DAY);
    await q.track('dep_queued', commit(), PENDING, false, NOW - 40 * DAY);
    assert.equal(await q.prune(NOW), 2);
    assert.equal(await q.get('dep_posted', 'commit'), undefined);
    assert.equal(await q.get('dep_held', 'deployment'), undefined);
    assert.ok(await q.get('dep_queued', 'commit'));
    assert.ok(await q.get('dep_recent', 'deployment'));
    // Tracking prunes too.
    await q.track('dep_new', commit(), PASSED, false, NOW + 30 * DAY);
    assert.equal(await q.get('dep_recent', 'deployment'), undefined);
  });
}
