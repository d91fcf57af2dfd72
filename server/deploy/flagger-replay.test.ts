import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { deadUrl, REPO, startService, startShop, waitFor, workspace, type Shop, type Workspace } from '../integration/harness.ts';
import type { Service } from '../service.ts';
import { flaggerModel, type CanarySpec, type FlaggerModel, type HookType, type Webhook } from './flagger-model.ts';

const TOKEN = 'flagger-replay-token-0123456789';
/** Ticks past the Canary's threshold: enough for a wrongly counted "not yet" to have rolled it back. */
const EXTRA_TICKS = 3;

interface ExampleHook {
  name: string;
  type: HookType;
  url: string;
  timeout?: string;
  metadata?: Record<string, string>;
}

/** deploy/flagger/canary.yaml's analysis, its webhooks pointed at `smokeUrl` and carrying the test's token. */
function shippedCanary(name: string, checksum: string, smokeUrl: string): CanarySpec {
  const canary = parse(readFileSync(path.join(REPO, 'deploy/flagger/canary.yaml'), 'utf8'));
  const analysis = canary.spec.analysis;
  const webhooks: Webhook[] = (analysis.webhooks as ExampleHook[]).map((hook) => ({
    name: hook.name,
    type: hook.type,
    url: hook.url.replace('http://smoke.smoke:8080', smokeUrl),
    timeoutMs: 10_000,
    metadata: { ...hook.metadata, token: TOKEN },
  }));
  return { name, namespace: 'shop', checksum, threshold: analysis.threshold, maxWeight: analysis.maxWeight, stepWeight: analysis.stepWeight, webhooks };
}

/**
 * deploy/flagger/canary.yaml, run the way Flagger's scheduler runs it
 * (./flagger-model.ts, from Flagger's source), against the real smoke
 * service judging real environments: what Flagger would do for each verdict.
 */
describe('the Flagger example, replayed as Flagger runs it', () => {
  let production: Shop;
  let canary: Shop;
  let ws: Workspace;
  let service: Service;
  let nowhere: string;

  before(async () => {
    production = await startShop('production');
    canary = await startShop('canary');
    nowhere = await deadUrl();
    const other = await deadUrl();
    ws = workspace(
      {
        production: { baseURL: production.url },
        // A healthy canary: the demo suite runs in Chromium on both and passes.
        good: { baseURL: canary.url, baseline: 'production' },
        // Unreachable while its baseline answers: a fail, evidence against the revision.
        gone: { baseURL: nowhere, baseline: 'production' },
        // Unreachable, and so is its baseline: smoke cannot tell, inconclusive.
        adrift: { baseURL: nowhere, baseline: 'lost' },
        lost: { baseURL: other },
      },
      {
        apiToken: TOKEN,
        retries: 1,
        gates: `  flagger:
    targets:
      - canary: shop/good
        environment: good
      - canary: shop/gone
        environment: gone
      - canary: shop/adrift
        environment: adrift
`,
      },
    );
    service = await startService(ws);
  });

  after(async () => {
    await service?.close();
    await Promise.all([production?.close(), canary?.close()]);
    ws?.remove();
  });

  const verdictOf = (name: string, checksum: string) => service.store.getDeploymentByKey(`flagger:shop/${name}:${checksum}`);
  const settled = (name: string, checksum: string) =>
    waitFor(`the verification of ${name}`, async () => ((await verdictOf(name, checksum))?.status === 'done' ? true : undefined), 240_000);

  /** Ticks until Flagger promotes or rolls back, or `limit` ticks pass; between ticks, the verification may finish. */
  async function replay(model: FlaggerModel, limit: number, between: () => Promise<unknown> = async () => {}): Promise<void> {
    for (let i = 0; i < limit && model.status.phase !== 'Succeeded' && model.status.phase !== 'Failed'; i++) {
      await model.tick();
      await between();
    }
  }

  /** What holds in every replay: smoke's answers never count as failed checks, and the canary got traffic only after a 200 from the traffic gate. */
  function assertNeverCounted(model: FlaggerModel): void {
    assert.equal(model.status.failedChecks, 0, JSON.stringify(model.calls));
    const firstOpen = model.calls.find((c) => c.type === 'confirm-traffic-increase' && c.ok);
    assert.ok(model.calls.every((c) => c.type !== 'pre-rollout' && c.type !== 'rollout'), 'smoke is never asked through a counting hook');
    if (model.status.canaryWeight > 0 || model.status.phase === 'Succeeded') assert.ok(firstOpen, 'traffic moved only after smoke opened the gate');
  }

  it('pass: halts while smoke runs the flows, then shifts traffic step by step and promotes', async () => {
    const spec = shippedCanary('good', 'rev-good-1', service.url);
    const model = flaggerModel(spec);
    await model.tick(); // confirm-rollout (none) and scale-up
    await model.tick(); // the traffic gate starts the verification
    const first = model.calls.find((c) => c.type === 'confirm-traffic-increase')!;
    assert.ok(first, JSON.stringify(model.calls));
    assert.ok([200, 423].includes(first.status), `the first call answers 423 (running) or, on a fast machine, 200: ${first.status}`);
    await settled('good', 'rev-good-1');
    assert.equal((await verdictOf('good', 'rev-good-1'))?.verdict?.kind, 'pass', JSON.stringify((await verdictOf('good', 'rev-good-1'))?.verdict));

    await replay(model, Math.ceil(spec.maxWeight / spec.stepWeight) + 5);
    assert.equal(model.status.phase, 'Succeeded', JSON.stringify(model.calls));
    assertNeverCounted(model);
    assert.ok(model.calls.some((c) => c.type === 'confirm-promotion' && c.ok), 'promoted through the promotion gate');
    assert.ok(
      model.calls.filter((c) => c.type === 'rollback').every((c) => !c.ok && (c.tick === 2 ? c.status === 404 : c.status === 409)),
      'the rollback gate said no at every interval: 404 before the verification started, then 409, not failed',
    );
  });

  it('fail: rolls back at the next interval through the rollback gate, the canary never given traffic', async () => {
    const model = flaggerModel(shippedCanary('gone', 'rev-gone-1', service.url));
    await replay(model, 2);
    await settled('gone', 'rev-gone-1');
    assert.equal((await verdictOf('gone', 'rev-gone-1'))?.verdict?.kind, 'fail');
    await replay(model, 3);
    assert.equal(model.status.phase, 'Failed', JSON.stringify(model.calls));
    const decisive = model.calls.at(-1)!;
    assert.deepEqual({ type: decisive.type, status: decisive.status }, { type: 'rollback', status: 200 });
    assert.equal(model.status.failedChecks, 0, 'rolled back by the verdict, not by counting');
    assert.ok(model.calls.every((c) => c.type !== 'confirm-traffic-increase' || !c.ok), 'no traffic before the rollback');
  });

  it('inconclusive: halts at weight 0 for as long as it lasts, never rolled back, never promoted', async () => {
    const spec = shippedCanary('adrift', 'rev-adrift-1', service.url);
    const model = flaggerModel(spec);
    await replay(model, 2);
    await settled('adrift', 'rev-adrift-1');
    assert.equal((await verdictOf('adrift', 'rev-adrift-1'))?.verdict?.kind, 'inconclusive');
    await replay(model, spec.threshold + EXTRA_TICKS);
    assert.deepEqual({ phase: model.status.phase, weight: model.status.canaryWeight }, { phase: 'Progressing', weight: 0 });
    assertNeverCounted(model);
    const answers = new Set(model.calls.filter((c) => c.tick > 2).map((c) => `${c.type} ${c.status}`));
    assert.deepEqual([...answers].sort(), ['confirm-traffic-increase 412', 'rollback 409']);
  });

  it('smoke down: halts with no answer at all, never rolled back', async () => {
    const spec = shippedCanary('good', 'rev-down-1', nowhere);
    const model = flaggerModel(spec);
    await replay(model, spec.threshold + EXTRA_TICKS + 2);
    assert.deepEqual({ phase: model.status.phase, weight: model.status.canaryWeight }, { phase: 'Progressing', weight: 0 });
    assertNeverCounted(model);
    assert.ok(model.calls.length > 0 && model.calls.every((c) => c.status === 0 && !c.ok));
  });

  it('the model catches the old design: a pre-rollout hook answering "not yet" rolls a healthy canary back', async () => {
    // The example as it stood before: smoke as a pre-rollout hook. Against a smoke that cannot answer, each interval is a failed check.
    const shipped = shippedCanary('good', 'rev-old-1', nowhere);
    const spec: CanarySpec = { ...shipped, webhooks: shipped.webhooks.map((h) => (h.type === 'confirm-traffic-increase' ? { ...h, type: 'pre-rollout' } : h)) };
    const model = flaggerModel(spec);
    await replay(model, spec.threshold + EXTRA_TICKS + 2);
    assert.equal(model.status.phase, 'Failed');
    assert.equal(model.status.failedChecks, spec.threshold);
  });
});
