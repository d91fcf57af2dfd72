import type { Received, Verification } from '../server/testing/webhook-receiver.ts';
import { seconds, type Colours } from './demo-print.ts';
import { poll, type RollbackReceiver } from './demo-stack.ts';

/**
 * What the demo's webhook receiver got for each deploy: exactly one signed
 * `deployment.rollback_requested` after a fail, nothing after a pass. The
 * receiver verifies signatures with its own code, not smoke's signer.
 */

/** How long the demo waits for the rollback webhook after a fail verdict, ms; covers a few short retries. */
export const ROLLBACK_WAIT_MS = 15_000;
export const ROLLBACK_EVENT = 'deployment.rollback_requested';

/** One request to the receiver, read as smoke's signal payload. */
export interface Delivery {
  readonly webhookId: string;
  readonly type: string | undefined;
  readonly deploymentId: string | undefined;
  readonly failedFlows: readonly string[];
  readonly signature: Verification;
  /** Unix ms the receiver got it. */
  readonly at: number;
}

export type RollbackCheck =
  | { readonly ok: true; readonly kind: 'sent'; readonly webhook: string; readonly delivery: Delivery; readonly afterMs: number | undefined }
  | { readonly ok: true; readonly kind: 'none'; readonly webhook: string }
  | { readonly ok: false; readonly problem: string };

export function readDelivery(received: Received): Delivery {
  let payload: { type?: unknown; data?: { deploymentId?: unknown; failedFlows?: unknown } } = {};
  try {
    payload = JSON.parse(received.body) as typeof payload;
  } catch {
    // Counted as a delivery of no deployment, which the audit reports.
  }
  const flows = Array.isArray(payload.data?.failedFlows) ? (payload.data.failedFlows as { flow?: unknown }[]) : [];
  const id = received.headers['webhook-id'];
  return {
    webhookId: typeof id === 'string' ? id : '(no webhook-id)',
    type: typeof payload.type === 'string' ? payload.type : undefined,
    deploymentId: typeof payload.data?.deploymentId === 'string' ? payload.data.deploymentId : undefined,
    failedFlows: flows.map((f) => String(f.flow)),
    signature: received.verification,
    at: received.at,
  };
}

function deliveriesOf(rollback: RollbackReceiver, deploymentId: string): Delivery[] {
  return rollback.receiver.received.map(readDelivery).filter((d) => d.deploymentId === deploymentId);
}

/** Judges what arrived for one deployment against what its verdict calls for. */
export function judgeDeliveries(webhook: string, deliveries: readonly Delivery[], expectRollback: boolean, verdictAt?: number): RollbackCheck {
  if (!expectRollback) {
    if (deliveries.length === 0) return { ok: true, kind: 'none', webhook };
    return { ok: false, problem: `${webhook} received ${deliveries.map((d) => d.type ?? 'an unreadable body').join(', ')} although the verdict needs no rollback` };
  }
  const [delivery, ...more] = deliveries;
  if (!delivery) return { ok: false, problem: `${webhook} received no rollback webhook within ${ROLLBACK_WAIT_MS / 1000} s of the fail verdict` };
  if (more.length > 0) return { ok: false, problem: `${webhook} received ${deliveries.length} webhooks for one fail verdict (ids ${deliveries.map((d) => d.webhookId).join(', ')}); expected exactly one` };
  if (delivery.type !== ROLLBACK_EVENT) return { ok: false, problem: `${webhook} received ${delivery.type ?? 'an unreadable body'}, expected ${ROLLBACK_EVENT}` };
  if (!delivery.signature.ok) return { ok: false, problem: `${webhook} received ${delivery.webhookId} with an invalid signature: ${delivery.signature.reason}` };
  const afterMs = verdictAt === undefined ? undefined : Math.max(0, delivery.at - verdictAt);
  return { ok: true, kind: 'sent', webhook, delivery, afterMs };
}

/**
 * After a fail, waits up to ROLLBACK_WAIT_MS for the receiver to get a
 * delivery for the deployment; after a pass, looks once (its signal would
 * have been queued with the verdict, and the end-of-demo audit looks again).
 */
export async function checkRollback(
  rollback: RollbackReceiver,
  deployment: { readonly id: string; readonly finishedAt: string | null },
  expectRollback: boolean,
  signal?: AbortSignal,
): Promise<RollbackCheck> {
  const verdictAt = deployment.finishedAt ? Date.parse(deployment.finishedAt) : undefined;
  if (expectRollback) await poll(ROLLBACK_WAIT_MS, signal, () => (deliveriesOf(rollback, deployment.id).length > 0 ? true : undefined));
  return judgeDeliveries(rollback.name, deliveriesOf(rollback, deployment.id), expectRollback, verdictAt);
}

/**
 * Everything the receiver got over the whole demo, judged again: catches a
 * duplicate that came after the first check, and deliveries for no deploy.
 */
export function auditRollbacks(rollback: RollbackReceiver, deploys: readonly { readonly id: string; readonly version: string; readonly expectRollback: boolean }[]): string[] {
  const problems: string[] = [];
  for (const deploy of deploys) {
    const check = judgeDeliveries(rollback.name, deliveriesOf(rollback, deploy.id), deploy.expectRollback);
    if (!check.ok) problems.push(`${deploy.version}: ${check.problem}`);
  }
  const known = new Set(deploys.map((d) => d.id));
  const strays = rollback.receiver.received.map(readDelivery).filter((d) => d.deploymentId === undefined || !known.has(d.deploymentId));
  if (strays.length > 0) problems.push(`${rollback.name} received ${strays.length} webhook(s) for no deploy of this demo (ids ${strays.map((d) => d.webhookId).join(', ')})`);
  return problems;
}

export function formatRollback(c: Colours, check: RollbackCheck): string {
  if (!check.ok) return `  ${c.bold('rollback webhook')}  ${c.red(`✗ ${check.problem}`)}`;
  if (check.kind === 'none') return `  ${c.bold('rollback webhook')}  none sent ${c.dim(`(a pass needs no rollback; ${check.webhook} received nothing for this deploy)`)}`;
  const { delivery, afterMs } = check;
  const after = afterMs === undefined ? '' : c.dim(` (${seconds(afterMs)} after the verdict)`);
  return [
    `  ${c.bold('rollback webhook')} → ${check.webhook}: ${c.bold(delivery.type ?? '')} received once${after}`,
    `    webhook-id ${delivery.webhookId}, signature ${c.green('valid')} ${c.dim('(v1 HMAC-SHA256 of id.timestamp.body, checked by the receiver)')}`,
    `    failed flows: ${delivery.failedFlows.join(', ') || c.dim('none listed')}`,
  ].join('\n');
}
