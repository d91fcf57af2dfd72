import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { DeploymentRecord } from '../verification/records.ts';
import { argoAnswer, argoRevision } from './argo.ts';
import { flaggerRevision, gateAnswer, rollbackAnswer, type FlaggerPayload } from './flagger.ts';
import { stateOf, type RevisionState } from './state.ts';
import { gateRig } from '../testing/gate-rig.ts';
import { refusal } from '../testing/refusal.ts';

const LINKS = { deploymentId: 'dep_1', key: 'k', link: 'http://smoke/api/v1/deployments/dep_1', page: 'http://smoke/deployments/dep_1' };
const TARGETS = [{ canary: 'shop/checkout', environment: 'canary', service: 'checkout' }];
const ENVIRONMENTS = ['production', 'canary'];

function deployment(overrides: Partial<DeploymentRecord>): DeploymentRecord {
  return { id: 'dep_1', service: 'shop', environment: 'canary', version: '1.2.0', status: 'done', createdAt: '2025-01-01T00:00:00.000Z', ...overrides };
}

describe('revision state', () => {
  const cases: { name: string; deployment: DeploymentRecord; kind: RevisionState['kind']; reason: RegExp }[] = [
    { name: 'queued', deployment: deployment({ status: 'queued' }), kind: 'running', reason: /queued since/ },
    { name: 'running', deployment: deployment({ status: 'running', startedAt: '2025-01-01T00:00:01.000Z' }), kind: 'running', reason: /running since/ },
    { name: 'passed', deployment: deployment({ verdict: { kind: 'pass', reasons: ['all 4 flows passed'], flaky: [] } }), kind: 'pass', reason: /all 4 flows/ },
    {
      name: 'failed',
      deployment: deployment({ verdict: { kind: 'fail', reasons: ['checkout failed'], failed: [{ flow: 'checkout', environment: 'canary', error: '500' }] } }),
      kind: 'fail',
      reason: /checkout failed/,
    },
    { name: 'inconclusive', deployment: deployment({ verdict: { kind: 'inconclusive', cause: 'baseline', reasons: ['fails on production too'] } }), kind: 'inconclusive', reason: /production too/ },
    { name: 'superseded', deployment: deployment({ supersededBy: 'dep_2' }), kind: 'superseded', reason: /dep_2 .*superseded/ },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.kind}`, () => {
      const state = stateOf(c.deployment);
      assert.equal(state.kind, c.kind);
      assert.match(state.reasons.join('\n'), c.reason);
    });
  }
});

describe('Flagger gate', () => {
  const payload = (metadata?: Record<string, string>): FlaggerPayload => ({
    name: 'checkout',
    namespace: 'shop',
    phase: 'Progressing',
    checksum: '6d8f4c7b9',
    ...(metadata && { metadata }),
  });

  it('maps a configured canary to its environment, service and the checksum as version', () => {
    assert.deepEqual(flaggerRevision(payload(), TARGETS, ENVIRONMENTS), {
      canary: 'shop/checkout',
      key: 'flagger:shop/checkout:6d8f4c7b9',
      environment: 'canary',
      service: 'checkout',
      version: '6d8f4c7b9',
    });
  });

  it('takes environment, version and service from the metadata first', () => {
    const revision = flaggerRevision(payload({ environment: 'production', version: '1.4.2', service: 'cart', token: 'x' }), TARGETS, ENVIRONMENTS);
    assert.deepEqual(revision, { canary: 'shop/checkout', key: 'flagger:shop/checkout:6d8f4c7b9', environment: 'production', service: 'cart', version: '1.4.2' });
  });

  it("defaults the service to the canary's name", () => {
    assert.equal(flaggerRevision({ ...payload({ environment: 'canary' }), name: 'podinfo' }, [], ENVIRONMENTS).service, 'podinfo');
  });

  const refused: { name: string; payload: FlaggerPayload; code: string; field: string }[] = [
    { name: 'a canary nobody mapped', payload: { ...payload(), name: 'other' }, code: 'unknown_canary', field: 'metadata.environment' },
    { name: 'an environment that does not exist', payload: payload({ environment: 'staging' }), code: 'unknown_environment', field: 'metadata.environment' },
    { name: 'a version with spaces', payload: payload({ version: '1 2' }), code: 'invalid_field', field: 'metadata.version' },
    { name: 'an empty service', payload: payload({ service: '' }), code: 'invalid_field', field: 'metadata.service' },
  ];
  for (const c of refused) {
    it(`refuses ${c.name} with a 400 naming ${c.field}`, () => {
      const err = refusal(() => flaggerRevision(c.payload, TARGETS, ENVIRONMENTS));
      assert.deepEqual([err.status, err.code, err.field], [400, c.code, c.field]);
    });
  }

  const statuses: [RevisionState, number][] = [
    [{ kind: 'pass', reasons: ['ok'] }, 200],
    [{ kind: 'running', reasons: ['running since…'] }, 423],
    [{ kind: 'fail', reasons: ['checkout failed'] }, 412],
    [{ kind: 'inconclusive', reasons: ['production fails too'] }, 412],
    [{ kind: 'superseded', by: 'dep_2', reasons: ['superseded'] }, 409],
  ];
  for (const [state, status] of statuses) {
    it(`answers ${status} for a ${state.kind} revision, the reason first in the body`, () => {
      const answer = gateAnswer(state, LINKS);
      assert.equal(answer.status, status);
      assert.match(String(answer.body.message), new RegExp(`^${state.kind}: ${state.reasons[0]}`));
      assert.equal(answer.body.link, LINKS.link);
      assert.equal(answer.body.page, LINKS.page);
      assert.match(String(answer.body.message), /\(details: http:\/\/smoke\/deployments\/dep_1\)$/, 'Flagger shows only the message: it names the page');
    });
  }

  it('tells Flagger to roll back only a failed revision', () => {
    const revision = { canary: 'shop/checkout', key: 'flagger:shop/checkout:1' };
    assert.equal(rollbackAnswer(revision, undefined).status, 404);
    for (const [state] of statuses) {
      const answer = rollbackAnswer(revision, state, LINKS);
      assert.equal(answer.status, state.kind === 'fail' ? 200 : 409, state.kind);
      assert.equal(answer.body.rollback, state.kind === 'fail');
      assert.match(String(answer.body.message), /details: http:\/\/smoke\/deployments\/dep_1/);
    }
  });
});

describe('Flagger gate in the service', () => {
  const rigs: Awaited<ReturnType<typeof gateRig>>[] = [];
  const rig = async () => {
    const made = await gateRig({ flagger: { targets: TARGETS } }, ENVIRONMENTS);
    rigs.push(made);
    return made;
  };
  afterEach(async () => {
    await Promise.all(rigs.splice(0).map((r) => r.store.close()));
  });
  const call = (phase: string): FlaggerPayload => ({ name: 'checkout', namespace: 'shop', phase, checksum: 'c1' });

  it('never starts a verification once the canary is gone (post-rollout, events)', async () => {
    const { gates, submitted } = await rig();
    for (const phase of ['Succeeded', 'Failed', 'Terminating', 'Terminated']) {
      const answer = await gates.flagger(call(phase), 'http://smoke');
      assert.equal(answer.status, 409, phase);
      assert.match(String(answer.body.message), new RegExp(`none started: Flagger reports phase ${phase}`));
    }
    assert.equal(submitted.length, 0);
  });

  it('starts it while the canary runs, and then reports it in any phase', async () => {
    const { gates, submitted } = await rig();
    const started = await gates.flagger(call('Progressing'), 'http://smoke');
    assert.equal(started.status, 423);
    assert.equal(submitted.length, 1);
    assert.equal(started.body.page, `http://smoke/deployments/${String(started.body.deploymentId)}`);
    assert.equal(started.body.link, `http://smoke/api/v1/deployments/${String(started.body.deploymentId)}`);
    const later = await gates.flagger(call('Succeeded'), 'https://ci.example.com/smoke');
    assert.equal(later.body.deploymentId, started.body.deploymentId);
    assert.equal(later.body.page, `https://ci.example.com/smoke/deployments/${String(started.body.deploymentId)}`, 'under the path of server.publicUrl');
    assert.equal(submitted.length, 1);
  });
});

describe('Argo Rollouts gate', () => {
  it('keys the verification by environment and revision', () => {
    assert.deepEqual(argoRevision({ environment: 'canary', revision: '5d4f8b9c7' }), { key: 'argo:canary:5d4f8b9c7', environment: 'canary', version: '5d4f8b9c7' });
    assert.deepEqual(argoRevision({ environment: 'canary', revision: 'r', version: '1.4.2', service: 'cart' }), {
      key: 'argo:canary:r',
      environment: 'canary',
      version: '1.4.2',
      service: 'cart',
    });
  });

  it('reports a superseded revision as inconclusive, which pauses the rollout', () => {
    const answer = argoAnswer({ kind: 'superseded', by: 'dep_2', reasons: ['superseded'] }, LINKS);
    assert.equal(answer.verdict, 'inconclusive');
    assert.equal(answer.supersededBy, 'dep_2');
  });
});

