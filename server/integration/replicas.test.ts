import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { startPostgres, type Postgres } from '../testing/postgres.ts';
import { startReceiver, type Receiver } from '../testing/webhook-receiver.ts';
import { api, freePort, quickRollback, spawnService, startShop, waitFor, workspace, type Shop, type Workspace } from './harness.ts';

/**
 * Three replicas, each its own process, on one real PostgreSQL, seen only
 * from outside (HTTP API, webhooks): they must behave like one smoke that
 * cannot be killed. Each replica runs one verification at a time, so work
 * spreads only if the queue in the store really is shared.
 */

interface Replica {
  readonly port: number;
  child: ChildProcess;
  url: string;
  output: () => string;
}

const SECRET = `whsec_${Buffer.from('replicas-e2e-secret-0123456789ab').toString('base64')}`;
const ENVIRONMENTS = ['canary-a', 'canary-b', 'canary-c'] as const;

describe('three replicas on one PostgreSQL', () => {
  let pg: Postgres;
  let production: Shop;
  const canaries = new Map<string, Shop>();
  let receiver: Receiver;
  let ws: Workspace;
  const replicas: Replica[] = [];
  let database: string;

  const write = (schedules?: string) => {
    const environments = Object.fromEntries([
      ['production', { baseURL: production.url }],
      ...ENVIRONMENTS.map((name) => [name, { baseURL: canaries.get(name)!.url, baseline: 'production' }]),
    ]);
    const next = workspace(environments, {
      postgres: database,
      leaseSeconds: 5,
      concurrency: 1,
      retries: 0,
      warmRunner: false,
      rollback: quickRollback(receiver.url, SECRET),
      ...(schedules && { schedules }),
    });
    if (!ws) ws = next;
    else {
      // Same folder (artifacts shared by every replica), new config.
      writeFileSync(ws.configFile, readFileSync(next.configFile, 'utf8'));
      next.remove();
    }
  };

  const start = async (replica: Replica) => {
    const spawned = await spawnService(ws, replica.port);
    Object.assign(replica, spawned);
  };
  const stop = async (replica: Replica, signal: NodeJS.Signals = 'SIGTERM') => {
    if (replica.child.exitCode !== null || replica.child.signalCode !== null) return;
    replica.child.kill(signal);
    await once(replica.child, 'exit');
  };
  const nameOf = (replica: Replica) => `-${replica.child.pid}`;

  before(async () => {
    pg = await startPostgres({ database: 'replicas' });
    database = pg.url;
    production = await startShop('production');
    // Slow pages: every verification outlasts the time it takes to post all three deploys.
    for (const name of ENVIRONMENTS) canaries.set(name, await startShop(name, name === 'canary-c' ? 'checkout-500' : 'none', 1_500));
    receiver = await startReceiver(SECRET);
    write();
    for (let i = 0; i < 3; i++) replicas.push({ port: await freePort() } as Replica);
    await Promise.all(replicas.map(start));
  });

  after(async () => {
    await Promise.all(replicas.filter((r) => r.child).map((r) => stop(r)));
    await Promise.all([production?.close(), ...[...canaries.values()].map((s) => s.close()), receiver?.close()]);
    await pg?.stop();
    ws?.remove();
  });

  it('spreads deploys posted round-robin over the replicas, verifies each once, answers the same everywhere, and signals one rollback', async () => {
    const posted = [];
    for (const [i, environment] of ENVIRONMENTS.entries()) {
      const res = await api(replicas[i]!.url, 'POST', '/api/v1/deployments', { environment, version: '2.0.0', deploymentId: `spread-${environment}` });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      posted.push(res.body.id as string);
    }
    // The same key posted again to another replica starts nothing new.
    const again = await api(replicas[1]!.url, 'POST', '/api/v1/deployments', { environment: 'canary-a', version: '2.0.0', deploymentId: 'spread-canary-a' });
    assert.equal(again.body.id, posted[0]);

    const verdicts: string[] = [];
    const ranOn = new Set<string>();
    for (const [i, id] of posted.entries()) {
      // Waited for on a replica that did not receive it.
      const done = await api(replicas[(i + 1) % 3]!.url, 'GET', `/api/v1/deployments/${id}?wait=180`);
      assert.equal(done.body.status, 'done', JSON.stringify(done.body));
      assert.equal(done.body.runs.length, 1, `verified once: ${JSON.stringify(done.body.runs)}`);
      verdicts.push(done.body.verdict);
      ranOn.add(done.body.runs[0].replica);
      for (const replica of replicas) {
        const seen = await api(replica.url, 'GET', `/api/v1/deployments/${id}`);
        assert.deepEqual(
          { status: seen.body.status, verdict: seen.body.verdict, runs: seen.body.runs.map((r: { id: string; replica: string }) => [r.id, r.replica]) },
          { status: done.body.status, verdict: done.body.verdict, runs: done.body.runs.map((r: { id: string; replica: string }) => [r.id, r.replica]) },
        );
      }
    }
    assert.deepEqual(verdicts, ['pass', 'pass', 'fail']);
    assert.equal(ranOn.size, 3, `each replica took one: ${[...ranOn].join(', ')}`);

    // The failing run's trace, from every replica.
    const failed = await api(replicas[0]!.url, 'GET', `/api/v1/deployments/${posted[2]}`);
    const run = await api(replicas[0]!.url, 'GET', `/api/v1/runs/${failed.body.runs[0].id}`);
    const flows = Object.values(run.body.environments as Record<string, { flows: { artifacts: { name: string; url: string }[] }[] }>).flatMap((e) => e.flows);
    // The broken checkout fails its API flow first (fail fast): its trace, then.
    const artifact = flows.flatMap((f) => f.artifacts).find((a) => a.name === 'trace');
    assert.ok(artifact, JSON.stringify(run.body.environments));
    for (const replica of replicas) {
      const res: Response = await fetch(new URL(new URL(artifact.url).pathname, replica.url));
      assert.equal(res.status, 200, `${replica.url} serves ${artifact.url}`);
    }

    await waitFor('the rollback webhook', () => (receiver.received.length > 0 ? true : undefined), 60_000);
    // Give a duplicate from another replica every chance to arrive.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const rollbacks = receiver.received.map((r) => JSON.parse(r.body) as { type: string; data: { deploymentId: string } });
    assert.deepEqual(rollbacks.map((r) => [r.type, r.data.deploymentId]), [['deployment.rollback_requested', posted[2]]]);
  });

  it('kill -9 of the replica running a verification: another replica takes it over once the lease runs out', async () => {
    const posted = await api(replicas[0]!.url, 'POST', '/api/v1/deployments', { environment: 'canary-a', version: '3.0.0' });
    const running = await waitFor('the run to start on some replica', async () => {
      const { body } = await api(replicas[1]!.url, 'GET', `/api/v1/deployments/${posted.body.id}`);
      return body.runs[0]?.status === 'running' ? body.runs[0] : undefined;
    });
    const victim = replicas.find((r) => running.replica.endsWith(nameOf(r)))!;
    assert.ok(victim, `${running.replica} is one of ours`);
    const killedAt = Date.now();
    await stop(victim, 'SIGKILL');
    const other = replicas.find((r) => r !== victim)!;
    const done = await api(other.url, 'GET', `/api/v1/deployments/${posted.body.id}?wait=180`);
    assert.equal(done.body.verdict, 'pass', JSON.stringify(done.body));
    assert.deepEqual(done.body.runs.map((r: { status: string }) => r.status), ['interrupted', 'done']);
    assert.match(done.body.runs[0].note, /stopped renewing its lease/);
    assert.notEqual(done.body.runs[1].replica, running.replica);
    const resumed = await api(other.url, 'GET', `/api/v1/runs/${done.body.runs[1].id}`);
    assert.ok(Date.parse(resumed.body.startedAt) >= killedAt, `resumed after the kill at ${new Date(killedAt).toISOString()}: ${resumed.body.startedAt}`);
    await start(victim);
  });

  it('a newer deploy posted to another replica supersedes the verification running elsewhere', async () => {
    const older = await api(replicas[0]!.url, 'POST', '/api/v1/deployments', { environment: 'canary-b', version: '4.0.0' });
    const running = await waitFor('the older run to start', async () => {
      const { body } = await api(replicas[0]!.url, 'GET', `/api/v1/deployments/${older.body.id}`);
      return body.runs[0]?.status === 'running' ? body.runs[0] : undefined;
    });
    const elsewhere = replicas.find((r) => !running.replica.endsWith(nameOf(r)))!;
    const newer = await api(elsewhere.url, 'POST', '/api/v1/deployments', { environment: 'canary-b', version: '5.0.0' });
    assert.equal(newer.status, 202);
    // Seen from the replica that ran it: its lease renewal learns of the newer deploy and stops the run.
    const runner = replicas.find((r) => running.replica.endsWith(nameOf(r)))!;
    const superseded = await waitFor('the older run to stop', async () => {
      const { body } = await api(runner.url, 'GET', `/api/v1/runs/${running.id}`);
      return body.status !== 'running' ? body : undefined;
    }, 60_000);
    assert.equal(superseded.status, 'cancelled', JSON.stringify(superseded));
    assert.match(superseded.note, new RegExp(`superseded by deployment ${newer.body.id}`));
    const olderDone = await api(runner.url, 'GET', `/api/v1/deployments/${older.body.id}`);
    assert.equal(olderDone.body.status, 'done');
    assert.equal(olderDone.body.verdict, null, 'superseded: no verdict');
    assert.equal(olderDone.body.supersededBy, newer.body.id);
    const newerDone = await api(replicas[0]!.url, 'GET', `/api/v1/deployments/${newer.body.id}?wait=180`);
    assert.equal(newerDone.body.verdict, 'pass', JSON.stringify(newerDone.body));
  });

  it('PostgreSQL stopped mid-run: readyz and writes answer 503, and it all carries on once the database is back', async () => {
    const posted = await api(replicas[2]!.url, 'POST', '/api/v1/deployments', { environment: 'canary-b', version: '3.0.0' });
    await waitFor('the run to start', async () => {
      const { body } = await api(replicas[2]!.url, 'GET', `/api/v1/deployments/${posted.body.id}`);
      return body.runs[0]?.status === 'running' ? true : undefined;
    });
    for (const replica of replicas) assert.equal(replica.child.exitCode, null, `a replica exited before the outage:\n${replica.output().slice(-4000)}`);
    await pg.stopServer('immediate');
    try {
      for (const replica of replicas) {
        const ready = await waitFor('readyz to fail', async () => {
          const res = await readyz(replica);
          return res?.status === 503 ? res : undefined;
        }, 30_000);
        assert.equal(ready.status, 503);
      }
      const refused = await api(replicas[0]!.url, 'POST', '/api/v1/deployments', { environment: 'canary-c', version: '9.9.9' });
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.match(JSON.stringify(refused.body), /store/i);
    } finally {
      await pg.startServer();
    }
    for (const replica of replicas) {
      await waitFor('readyz to pass again', async () => ((await readyz(replica))?.status === 200 ? true : undefined), 60_000);
    }
    const done = await api(replicas[0]!.url, 'GET', `/api/v1/deployments/${posted.body.id}?wait=180`);
    assert.equal(done.body.status, 'done', JSON.stringify(done.body));
    // A result that arrived while the database was down ends the run inconclusive (the service's fault); it is never a fail.
    assert.ok(
      done.body.verdict === 'pass' || (done.body.verdict === 'inconclusive' && done.body.cause === 'service'),
      `never a fail for the database's outage: ${JSON.stringify(done.body)}`,
    );
    const deployments = await api(replicas[1]!.url, 'GET', '/api/v1/deployments?environment=canary-c&limit=50');
    assert.ok(!deployments.body.deployments.some((d: { version: string }) => d.version === '9.9.9'), 'the refused deploy left nothing behind');
  });

  it('a 10-second schedule on three replicas for a minute runs about 6 times, not 18', async () => {
    await Promise.all(replicas.map((r) => stop(r)));
    write('  - name: pulse\n    cron: "*/10 * * * * *"\n    environments: [production]\n    grep: API\n');
    await Promise.all(replicas.map(start));
    const before = await ticks();
    const from = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 60_000));
    const to = Date.now();
    const after = await ticks();
    const taken = (result: string) => (after.get(result) ?? 0) - (before.get(result) ?? 0);
    // Every replica's cron fires every slot; one claim wins it. A slot whose previous run is still
    // going is skipped (a busy machine), never run twice; either way it is taken once across the three.
    const once = taken('started') + taken('skipped') + taken('missed');
    assert.ok(once >= 5 && once <= 7, `slots taken across replicas in a minute: ${once} (${JSON.stringify(Object.fromEntries(after))})`);
    assert.ok(Math.abs(taken('claimed_elsewhere') - 2 * once) <= 2, `the two other replicas saw each slot claimed: ${taken('claimed_elsewhere')} for ${once}`);
    const { body } = await api(replicas[0]!.url, 'GET', '/api/v1/runs?schedule=pulse&limit=100');
    const inWindow = body.runs.filter((r: { createdAt: string }) => Date.parse(r.createdAt) >= from && Date.parse(r.createdAt) < to);
    assert.ok(inWindow.length >= 1 && inWindow.length <= 7, `${inWindow.length} runs: ${JSON.stringify(inWindow.map((r: { createdAt: string }) => r.createdAt))}`);
  });

  /**
   * The replica's /readyz, or undefined when the request failed on the way (a kept-alive
   * socket the replica closed just then); a replica that exited fails the test with its log.
   */
  async function readyz(replica: Replica): Promise<Response | undefined> {
    try {
      return await fetch(`${replica.url}/readyz`);
    } catch (err) {
      const alive = replica.child.exitCode === null && replica.child.signalCode === null;
      assert.ok(alive, `${replica.url} exited (${String(err)}):\n${replica.output().slice(-6000)}`);
      return undefined;
    }
  }

  /** `smoke_schedule_ticks_total{schedule="pulse"}` summed over the replicas, by result. */
  async function ticks(): Promise<Map<string, number>> {
    const sums = new Map<string, number>();
    for (const replica of replicas) {
      const text = await (await fetch(`${replica.url}/metrics`)).text();
      for (const [, labels, value] of text.matchAll(/^smoke_schedule_ticks_total\{([^}]*)\} (\S+)$/gm)) {
        if (!/schedule="pulse"/.test(labels!)) continue;
        const result = /result="([^"]+)"/.exec(labels!)![1]!;
        sums.set(result, (sums.get(result) ?? 0) + Number(value));
      }
    }
    return sums;
  }
});
