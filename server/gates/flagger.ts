import { z } from 'zod';
import { RequestError } from '../errors.ts';
import type { FlaggerTarget } from './config.ts';
import { printable, type GateAnswer, type RevisionLinks } from './fields.ts';
import { summary, type RevisionState, type RevisionStateKind } from './state.ts';

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const OBJECT_NAME = /^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$/;

/**
 * The body of a Flagger webhook call, as Flagger sends it:
 * `{"name", "namespace", "phase", "checksum", "metadata": {string map}}`.
 * Not strict: a field a later Flagger adds must not close the gate.
 */
export const flaggerPayload = z.object({
  name: z.string({ error: 'must be a string' }).regex(OBJECT_NAME, { error: 'must be the name of the Flagger Canary' }),
  namespace: z.string({ error: 'must be a string' }).regex(NAMESPACE, { error: 'must be a Kubernetes namespace' }),
  phase: z.string({ error: 'must be a string' }).max(64, { error: 'must be at most 64 characters' }).optional(),
  /** Flagger's hash of the canary's spec and tracked configs: one per revision. */
  checksum: printable(128),
  metadata: z.record(z.string(), z.string({ error: 'must be a string: Flagger metadata is a map of strings' })).optional(),
});

export type FlaggerPayload = z.output<typeof flaggerPayload>;

export interface FlaggerRevision {
  /** `<namespace>/<name>`. */
  readonly canary: string;
  readonly key: string;
  readonly environment: string;
  readonly service: string;
  readonly version: string;
}

const version = printable(128);

/** The canary and the idempotency key of its revision: all the rollback gate needs. */
export function flaggerKey(payload: Pick<FlaggerPayload, 'name' | 'namespace' | 'checksum'>): { canary: string; key: string } {
  const canary = `${payload.namespace}/${payload.name}`;
  return { canary, key: `flagger:${canary}:${payload.checksum}` };
}

/**
 * The revision a Flagger call is about. The environment comes from the
 * webhook's `metadata.environment`, else from the canary's entry in
 * `gates.flagger.targets`; the version from `metadata.version`, else the checksum.
 */
export function flaggerRevision(payload: FlaggerPayload, targets: readonly FlaggerTarget[], environments: readonly string[]): FlaggerRevision {
  const { canary, key } = flaggerKey(payload);
  const target = targets.find((t) => t.canary === canary);
  const metadata = payload.metadata ?? {};
  const environment = metadata.environment ?? target?.environment;
  if (environment === undefined) {
    throw new RequestError(
      400,
      'unknown_canary',
      `canary ${canary} is not in gates.flagger.targets: add it there, or set metadata.environment on the webhook`,
      'metadata.environment',
    );
  }
  if (!environments.includes(environment)) {
    throw new RequestError(400, 'unknown_environment', `environment '${environment}' is not in the config (known: ${environments.join(', ')})`, 'metadata.environment');
  }
  for (const field of ['version', 'service'] as const) {
    const value = metadata[field];
    if (value !== undefined && !version.safeParse(value).success) {
      throw new RequestError(400, 'invalid_field', `body: metadata.${field}: must be 1 to 128 printable ASCII characters without spaces`, `metadata.${field}`);
    }
  }
  return {
    canary,
    key,
    environment,
    service: metadata.service ?? target?.service ?? payload.name,
    version: metadata.version ?? payload.checksum,
  };
}

/**
 * Phases Flagger reports once the canary no longer runs (post-rollout and
 * event hooks): verifying then would find the canary gone and judge a fail,
 * so a call in one of them only reads a verification, never starts one.
 */
const OVER_PHASES = new Set(['Succeeded', 'Failed', 'Terminating', 'Terminated']);

export function startsVerification(payload: FlaggerPayload): boolean {
  return payload.phase === undefined || !OVER_PHASES.has(payload.phase);
}

export function notStartedAnswer(revision: { canary: string; key: string }, phase: string): GateAnswer {
  return {
    status: 409,
    body: { message: `no verification of ${revision.canary} with this checksum, and none started: Flagger reports phase ${phase}, when the canary no longer runs`, key: revision.key },
  };
}

/**
 * Flagger takes 200–202 as "yes" and anything else as "no", logging the body
 * in the canary's events: every "not yet" and "no" is a 4xx with the reason
 * (a 5xx would read as smoke being broken). Meant for confirm-traffic-increase
 * and confirm-promotion hooks, where a "no" halts the canary without a failed
 * check (flagger pkg/controller/scheduler_hooks.go); a pre-rollout or rollout
 * hook would count each "not yet" against a healthy canary. Only the rollback
 * gate turns a failed verification into a rollback.
 */
export const GATE_STATUS: Readonly<Record<RevisionStateKind, number>> = {
  pass: 200,
  // Locked: ask again at the next analysis interval.
  running: 423,
  fail: 412,
  inconclusive: 412,
  // A newer deploy to the environment replaced this revision's verification.
  superseded: 409,
};

/** The confirm-traffic-increase / confirm-promotion gate: open (200) only once the revision passed. */
export function gateAnswer(state: RevisionState, links: RevisionLinks): GateAnswer {
  return {
    status: GATE_STATUS[state.kind],
    body: { message: withPage(summary(state), links), verdict: state.kind, reasons: state.reasons, ...links },
  };
}

/** The rollback gate: 200 (roll back now) only for a revision whose verification failed. */
export function rollbackAnswer(revision: { canary: string; key: string }, state: RevisionState | undefined, links?: RevisionLinks): GateAnswer {
  if (!state || !links) {
    return {
      status: 404,
      body: { message: `no rollback: smoke has no verification of ${revision.canary} with this checksum`, rollback: false, key: revision.key },
    };
  }
  const rollback = state.kind === 'fail';
  return {
    status: rollback ? 200 : 409,
    body: { message: withPage(`${rollback ? 'roll back' : 'no rollback'}: ${summary(state)}`, links), rollback, verdict: state.kind, reasons: state.reasons, ...links },
  };
}

/** Flagger shows only the message in the canary's events: it names the page to open. */
function withPage(message: string, links: RevisionLinks): string {
  return `${message} (details: ${links.page})`;
}
