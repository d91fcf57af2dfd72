import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { RequestError } from '../errors.ts';
import { Secret } from '../values/secret.ts';
import { deploymentStatusPayload, githubHeaders } from '../testing/github.ts';
import { decideDeploymentStatus, deploymentStatusEvent, githubSignature, parseGitHubBody, verifyGitHubSignature } from './github.ts';
import { freshFile, gateRig } from '../testing/gate-rig.ts';
import { refusal } from '../testing/refusal.ts';

const ENVIRONMENTS = ['production', 'canary'];

describe('GitHub gate', () => {
  it("signs as GitHub's published test vector says", () => {
    const expected = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    assert.equal(githubSignature("It's a Secret to Everybody", 'Hello, World!'), expected);
    assert.equal(verifyGitHubSignature("It's a Secret to Everybody", Buffer.from('Hello, World!'), expected), true);
  });

  const secret = "It's a Secret to Everybody";
  const body = Buffer.from('Hello, World!');
  const wrong: [string, string | undefined][] = [
    ['missing', undefined],
    ['empty', ''],
    ['for another body', githubSignature(secret, 'Hello, World?')],
    ['with another secret', githubSignature('not the secret at all', body)],
    ['without the sha256= prefix', githubSignature(secret, body).slice(7)],
    ['sha1 instead', 'sha1=0a4d55a8d778e5022fab701977c5d840bbc486d0'],
    ['in upper case', githubSignature(secret, body).toUpperCase()],
  ];
  for (const [name, header] of wrong) {
    it(`rejects a signature ${name}`, () => assert.equal(verifyGitHubSignature(secret, body, header), false));
  }

  const environmentUrls: [string, unknown, string | undefined][] = [
    ['an http(s) URL is kept', 'https://canary.shop.example.com/', 'https://canary.shop.example.com/'],
    ["GitHub's empty string is dropped", '', undefined],
    ['null is dropped', null, undefined],
    ['a javascript: URL is dropped', 'javascript:alert(1)', undefined],
    ['an overlong URL is dropped', `https://x.example.com/${'a'.repeat(3000)}`, undefined],
  ];
  for (const [name, value, kept] of environmentUrls) {
    it(`deployment_status.environment_url: ${name}, never refusing the delivery`, () => {
      const payload = deploymentStatusPayload();
      const event = deploymentStatusEvent.parse({ ...payload, deployment_status: { ...payload.deployment_status, environment_url: value } });
      assert.equal(event.deployment_status.environment_url, kept);
    });
  }

  it('reads JSON and form-encoded deliveries, and never quotes a broken body', () => {
    const json = JSON.stringify({ a: 1 });
    assert.deepEqual(parseGitHubBody(Buffer.from(json), 'application/json'), { a: 1 });
    assert.deepEqual(parseGitHubBody(Buffer.from(`payload=${encodeURIComponent(json)}`), 'application/x-www-form-urlencoded'), { a: 1 });
    const malformed = refusal(() => parseGitHubBody(Buffer.from('{"secret-looking": "hunter2'), 'application/json'));
    assert.equal(malformed.code, 'malformed_json');
    assert.ok(!malformed.message.includes('hunter2'));
    assert.equal(refusal(() => parseGitHubBody(Buffer.from('x'), 'text/plain')).status, 415);
  });

  const environments = new Map([['production', 'production'], ['canary-eu', 'canary']]);
  const decide = (options: Parameters<typeof deploymentStatusPayload>[0]) =>
    decideDeploymentStatus(deploymentStatusEvent.parse(deploymentStatusPayload(options)), environments);

  it('verifies a successful deployment to a mapped environment', () => {
    assert.deepEqual(decide({ deploymentId: 42, environment: 'Canary-EU', sha: 'abc123' }), {
      kind: 'verify',
      key: 'github:acme/shop:42',
      environment: 'canary',
      service: 'shop',
      version: 'abc123',
    });
  });

  it('ignores other states and unmapped environments, saying why', () => {
    for (const state of ['queued', 'in_progress', 'pending', 'failure', 'error', 'inactive']) {
      const decision = decide({ state });
      assert.equal(decision.kind, 'ignore');
      assert.match(decision.kind === 'ignore' ? decision.reason : '', new RegExp(`'${state}'`));
    }
    const unmapped = decide({ environment: 'staging' });
    assert.deepEqual(unmapped, { kind: 'ignore', reason: "GitHub environment 'staging' is not mapped in gates.github.environments" });
  });

  const rigs: Awaited<ReturnType<typeof gateRig>>[] = [];
  afterEach(async () => {
    await Promise.all(rigs.splice(0).map((r) => r.store.close()));
  });

  async function rig(file?: string) {
    const made = await gateRig({ flagger: { targets: [] }, github: { secret: new Secret(secret), environments } }, ENVIRONMENTS, file);
    rigs.push(made);
    const { store, gates, submitted } = made;
    const deliver = (event: string, deliveryId: string, payload: unknown, sign: (b: string) => string | undefined = (b) => githubHeaders(secret, b, event, deliveryId)['x-hub-signature-256']) => {
      const text = JSON.stringify(payload);
      return gates.github({ event, deliveryId, signature: sign(text), contentType: 'application/json', body: Buffer.from(text) }, 'http://smoke');
    };
    return { store, gates, submitted, deliver };
  }

  it('starts one verification per delivery, and nothing for a redelivery', async () => {
    const { deliver, submitted, store } = await rig();
    const first = await deliver('deployment_status', 'd-1', deploymentStatusPayload({ deploymentId: 7 }));
    assert.equal(first.status, 202);
    assert.equal(first.body.page, `http://smoke/deployments/${String(first.body.deploymentId)}`);
    assert.equal(submitted.length, 1);
    const again = await deliver('deployment_status', 'd-1', deploymentStatusPayload({ deploymentId: 7 }));
    assert.equal(again.status, 200);
    assert.equal(again.body.duplicate, true);
    assert.equal(again.body.deploymentId, first.body.deploymentId);
    assert.equal(again.body.page, first.body.page);
    assert.equal(submitted.length, 1, 'a redelivery must not reach the verifier');
    assert.equal((await store.listDeployments({ limit: 10 })).length, 1);
  });

  it('one delivery sent to two replicas at once starts one verification', async () => {
    const file = freshFile();
    const [a, b] = [await rig(file), await rig(file)];
    const payload = deploymentStatusPayload({ deploymentId: 8 });
    const answers = await Promise.all([a.deliver('deployment_status', 'd-twice', payload), b.deliver('deployment_status', 'd-twice', payload)]);
    assert.deepEqual(answers.map((x) => x.status).sort(), [200, 202], JSON.stringify(answers));
    assert.equal(answers[0].body.deploymentId, answers[1].body.deploymentId);
    assert.equal((await a.store.listDeployments({ limit: 10 })).length, 1);
    const later = await b.deliver('deployment_status', 'd-twice', payload);
    assert.equal(later.body.duplicate, true, 'recorded: a later redelivery is known to every replica');
  });

  it('refuses a delivery whose signature does not match with a 401, before reading it', async () => {
    const { deliver, submitted } = await rig();
    const err = await refused(deliver('deployment_status', 'd-2', deploymentStatusPayload(), () => githubSignature('another secret entirely', 'x')));
    assert.deepEqual([err.status, err.code, err.field], [401, 'bad_signature', 'x-hub-signature-256']);
    assert.equal((await refused(deliver('deployment_status', 'd-3', deploymentStatusPayload(), () => undefined))).status, 401);
    assert.equal(submitted.length, 0);
  });

  it('answers ping, and acknowledges other events without acting', async () => {
    const { deliver, submitted } = await rig();
    assert.equal((await deliver('ping', 'd-4', { zen: 'Keep it logically awesome.', hook_id: 1 })).status, 200);
    assert.equal((await deliver('push', 'd-5', { ref: 'refs/heads/main' })).status, 202);
    assert.equal((await deliver('deployment_status', 'd-6', deploymentStatusPayload({ state: 'in_progress' }))).status, 202);
    assert.equal(submitted.length, 0);
  });

  it('names the field of a malformed event', async () => {
    const { deliver } = await rig();
    const payload = deploymentStatusPayload() as { deployment: Record<string, unknown> };
    delete payload.deployment.id;
    const err = await refused(deliver('deployment_status', 'd-7', payload));
    assert.deepEqual([err.status, err.field], [400, 'deployment.id']);
  });
});

/** The RequestError a gate's answer rejects with. */
async function refused(answer: Promise<unknown>): Promise<RequestError> {
  try {
    await answer;
  } catch (err) {
    assert.ok(err instanceof RequestError, String(err));
    return err;
  }
  assert.fail('expected a RequestError');
}
