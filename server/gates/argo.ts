import { z } from 'zod';
import { printable, type RevisionLinks } from './fields.ts';
import type { RevisionState } from './state.ts';

/**
 * What an Argo Rollouts `web` metric sends, as query parameters (GET) or a
 * JSON body (POST): the environment, the revision (e.g. the pod-template hash
 * `{{args.revision}}`), and optionally the service and a version to record.
 */
export const argoInput = z.strictObject({
  environment: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }).max(64, { error: 'must be at most 64 characters' }),
  revision: printable(128),
  service: printable(128).optional(),
  version: printable(128).optional(),
});

export type ArgoInput = z.output<typeof argoInput>;

export function argoRevision(input: ArgoInput) {
  return {
    key: `argo:${input.environment}:${input.revision}`,
    environment: input.environment,
    version: input.version ?? input.revision,
    ...(input.service !== undefined && { service: input.service }),
  };
}

/** The four values an AnalysisTemplate's conditions read from `result.verdict`. */
export type ArgoVerdict = 'pass' | 'fail' | 'running' | 'inconclusive';

/**
 * Always a 200: Argo Rollouts counts a non-2xx as a measurement *error*, not
 * a failure. A superseded revision reads as inconclusive, which pauses the
 * rollout for a person instead of promoting or aborting it.
 */
export function argoAnswer(state: RevisionState, links: RevisionLinks) {
  const verdict: ArgoVerdict = state.kind === 'superseded' ? 'inconclusive' : state.kind;
  return {
    verdict,
    reasons: state.reasons,
    ...links,
    ...(state.kind === 'superseded' && { supersededBy: state.by }),
  };
}
