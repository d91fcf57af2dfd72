import type { DeploymentRecord } from '../verification/records.ts';

/**
 * Where the verification of one revision stands, as a gate reports it: the
 * verdict once there is one, `running` before (queued counts as running:
 * either way the caller asks again later), `superseded` when a newer deploy to
 * the same environment cancelled it without a verdict.
 */
export type RevisionState =
  | { readonly kind: 'running'; readonly reasons: readonly string[] }
  | { readonly kind: 'pass'; readonly reasons: readonly string[] }
  | { readonly kind: 'fail'; readonly reasons: readonly string[] }
  | { readonly kind: 'inconclusive'; readonly reasons: readonly string[] }
  | { readonly kind: 'superseded'; readonly by: string; readonly reasons: readonly string[] };

export type RevisionStateKind = RevisionState['kind'];

export function stateOf(deployment: DeploymentRecord): RevisionState {
  const what = `${deployment.service} ${deployment.version} on ${deployment.environment}`;
  if (deployment.status !== 'done') {
    const since = deployment.startedAt ? `running since ${deployment.startedAt}` : `queued since ${deployment.createdAt}`;
    return { kind: 'running', reasons: [`the verification of ${what} is ${since}`] };
  }
  if (!deployment.verdict) {
    const by = deployment.supersededBy ?? 'a newer deployment';
    return { kind: 'superseded', by, reasons: [`the verification of ${what} was cancelled: ${by} to ${deployment.environment} superseded it`] };
  }
  const reasons = deployment.verdict.reasons.length > 0 ? deployment.verdict.reasons : [`${what}: ${deployment.verdict.kind}`];
  return { kind: deployment.verdict.kind, reasons };
}

/** One line for callers that show a single message (Flagger puts the body into a Kubernetes event). */
export function summary(state: RevisionState): string {
  const first = state.reasons[0] ?? state.kind;
  const more = state.reasons.length > 1 ? ` (+${state.reasons.length - 1} more)` : '';
  return `${state.kind}: ${first}${more}`;
}
