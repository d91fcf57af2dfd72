import type { Logger } from 'pino';
import { IdempotencyConflict, RequestError } from '../errors.ts';
import { linksFrom } from '../links.ts';
import type { DeploymentRecord } from '../verification/records.ts';
import type { Store } from '../store/store.ts';
import type { DeployRequest, Verifier } from '../verification/verifier.ts';
import { argoAnswer, argoRevision, type ArgoInput } from './argo.ts';
import type { GatesConfig } from './config.ts';
import type { Deliveries } from './deliveries.ts';
import type { GitHubStatuses } from './github-statuses.ts';
import type { GateAnswer, RevisionLinks } from './fields.ts';
import { flaggerKey, flaggerRevision, gateAnswer, notStartedAnswer, rollbackAnswer, startsVerification, type FlaggerPayload } from './flagger.ts';
import { decideDeploymentStatus, deploymentStatusEvent, parseGitHubBody, verifyGitHubSignature } from './github.ts';
import { stateOf } from './state.ts';

/** A GitHub webhook delivery as it arrived: headers that matter and the raw body the signature covers. */
export interface GitHubDelivery {
  readonly event: string | undefined;
  readonly deliveryId: string | undefined;
  readonly signature: string | undefined;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

/**
 * The gates are the HTTP adapter for deploy tools' webhooks: they read headers,
 * signatures and raw payloads and answer with a status and body, so refusing
 * a malformed delivery is theirs to say (`RequestError`); what the verifier
 * refuses arrives as a domain error and is mapped in `server/http/errors.ts`.
 */
export interface Gates {
  /** Flagger's confirm-traffic-increase / confirm-promotion hook: starts the revision's verification if needed. */
  flagger(payload: FlaggerPayload, base: string): Promise<GateAnswer>;
  /** Flagger's rollback hook: never starts anything. */
  flaggerRollback(payload: FlaggerPayload, base: string): Promise<GateAnswer>;
  /** Argo Rollouts' web metric: starts the revision's verification if needed; the answer is always a 200 body. */
  argo(input: ArgoInput, base: string): Promise<ReturnType<typeof argoAnswer>>;
  /** A GitHub webhook delivery: checks its signature first; never waits for a verdict. */
  github(delivery: GitHubDelivery, base: string): Promise<GateAnswer>;
}

export interface GatesDeps {
  readonly config: GatesConfig;
  /** Names of the configured environments. */
  readonly environments: readonly string[];
  readonly verifier: Pick<Verifier, 'submit'>;
  readonly store: Pick<Store, 'getDeploymentByKey'>;
  readonly deliveries: Deliveries;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Writes the verdicts of GitHub-started verifications back to GitHub as commit and deployment statuses. */
  readonly githubStatuses?: Pick<GitHubStatuses, 'accepted'>;
}

/** GitHub's delivery ids are GUIDs; anything printable up to this length is accepted. */
const MAX_DELIVERY_ID = 100;

export function createGates(deps: GatesDeps): Gates {
  const { config, verifier, store, deliveries, logger } = deps;
  const now = deps.now ?? Date.now;

  const links = (base: string, deployment: DeploymentRecord): RevisionLinks => {
    const to = linksFrom(base);
    return { deploymentId: deployment.id, key: deployment.idempotencyKey ?? '', link: to.api.deployment(deployment.id), page: to.page.deployment(deployment.id) };
  };

  /** Submits the revision; a key already used for another version is the caller's mistake, named by its own field. */
  async function submit(gate: string, request: DeployRequest & { deploymentId: string }, conflictField: string) {
    try {
      const submitted = await verifier.submit(request);
      const { deployment, created } = submitted;
      if (created) logger.info({ gate, key: request.deploymentId, deploymentId: deployment.id, environment: request.environment, version: request.version }, 'gate started a verification');
      return submitted;
    } catch (err) {
      if (err instanceof IdempotencyConflict) throw err.as(conflictField);
      throw err;
    }
  }

  return {
    async flagger(payload, base) {
      if (!startsVerification(payload)) {
        const revision = flaggerKey(payload);
        const existing = await store.getDeploymentByKey(revision.key);
        return existing ? gateAnswer(stateOf(existing), links(base, existing)) : notStartedAnswer(revision, payload.phase!);
      }
      const revision = flaggerRevision(payload, config.flagger.targets, deps.environments);
      const { deployment } = await submit(
        'flagger',
        { environment: revision.environment, version: revision.version, service: revision.service, deploymentId: revision.key },
        'metadata.version',
      );
      return gateAnswer(stateOf(deployment), links(base, deployment));
    },

    async flaggerRollback(payload, base) {
      const revision = flaggerKey(payload);
      const deployment = await store.getDeploymentByKey(revision.key);
      return deployment ? rollbackAnswer(revision, stateOf(deployment), links(base, deployment)) : rollbackAnswer(revision, undefined);
    },

    async argo(input, base) {
      const revision = argoRevision(input);
      const { deployment } = await submit('argo', { ...revision, deploymentId: revision.key }, input.version !== undefined ? 'version' : 'service');
      return argoAnswer(stateOf(deployment), links(base, deployment));
    },

    async github(delivery, base) {
      const github = config.github;
      if (!github) throw new RequestError(404, 'gate_not_configured', 'the GitHub gate is not configured: set gates.github.secret and gates.github.environments');
      if (!verifyGitHubSignature(github.secret.reveal(), delivery.body, delivery.signature)) {
        throw new RequestError(
          401,
          'bad_signature',
          delivery.signature
            ? 'X-Hub-Signature-256 does not match the body: check that the webhook secret equals gates.github.secret'
            : 'the delivery has no X-Hub-Signature-256 header: set a secret on the GitHub webhook',
          'x-hub-signature-256',
        );
      }
      const { event, deliveryId } = delivery;
      if (!event) throw new RequestError(400, 'missing_field', 'the X-GitHub-Event header is required', 'x-github-event');
      if (!deliveryId || deliveryId.length > MAX_DELIVERY_ID || !/^[\x21-\x7e]+$/.test(deliveryId)) {
        throw new RequestError(400, deliveryId ? 'invalid_field' : 'missing_field', 'the X-GitHub-Delivery header must carry the delivery id', 'x-github-delivery');
      }
      if (event === 'ping') return { status: 200, body: { message: 'pong: the GitHub gate is configured and the signature matches' } };
      if (event !== 'deployment_status') {
        return { status: 202, body: { message: `ignored: smoke acts on deployment_status events, not '${event}'; subscribe the webhook to "Deployment statuses" only` } };
      }

      const parsed = deploymentStatusEvent.safeParse(parseGitHubBody(delivery.body, delivery.contentType));
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const field = issue.path.map(String).join('.');
        throw new RequestError(400, 'invalid_field', `body: ${field || 'payload'}: ${issue.message}`, field || undefined);
      }
      const decision = decideDeploymentStatus(parsed.data, github.environments);
      if (decision.kind === 'ignore') return { status: 202, body: { message: `ignored: ${decision.reason}` } };

      /*
       * The delivery id only saves a redelivery the verifier's round trip and
       * makes the answer say "duplicate". The guard against starting twice is
       * the idempotency key (`github:<repo>:<deployment id>`): the store
       * creates one deployment per key atomically, so the same delivery sent
       * to two replicas at once, both passing `seen` before either records
       * it, starts one verification (the later one answers 200, "already
       * verifying").
       */
      const seen = await deliveries.seen('github', deliveryId);
      if (seen) {
        const to = linksFrom(base);
        return {
          status: 200,
          body: {
            message: `delivery ${deliveryId} was already handled: nothing started`,
            duplicate: true,
            deploymentId: seen.deploymentId,
            link: to.api.deployment(seen.deploymentId),
            page: to.page.deployment(seen.deploymentId),
          },
        };
      }
      const { deployment, created } = await submit('github', { environment: decision.environment, version: decision.version, service: decision.service, deploymentId: decision.key }, 'deployment.sha');
      await deliveries.record('github', deliveryId, deployment.id, now());
      const { deployment: ghDeployment, deployment_status: ghStatus, repository } = parsed.data;
      // Tracking the statuses is idempotent too (one row per deployment and kind): the racing replica adds nothing.
      await deps.githubStatuses?.accepted(deployment, {
        repository: repository.full_name,
        deploymentId: ghDeployment.id,
        ...(ghDeployment.sha !== undefined && { sha: ghDeployment.sha }),
        ...(ghStatus.environment_url !== undefined && { environmentUrl: ghStatus.environment_url }),
      });
      const state = stateOf(deployment);
      return {
        status: created ? 202 : 200,
        body: {
          message: !created ? `already verifying this deployment: ${state.kind}` : `verification started for ${decision.service} ${decision.version} on ${decision.environment}`,
          verdict: state.kind,
          ...links(base, deployment),
        },
      };
    },
  };
}
