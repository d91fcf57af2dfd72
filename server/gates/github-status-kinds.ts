import type { GitHubStatusConfig, StatusKind } from './config.ts';
import { apiHeaders, STATUS_STATES, type StatusRequest, type StatusState, type StatusUpdate } from './github-status.ts';

/*
 * The two places smoke writes its verdict back to GitHub, each with its own
 * request (pure, so what GitHub receives is tested apart from sending it):
 *
 * - a commit status (REST "Create a commit status",
 *   `POST /repos/{owner}/{repo}/statuses/{sha}`): a check on the commit,
 *   which a branch protection rule can require;
 * - a deployment status (REST "Create a deployment status",
 *   `POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses`): the
 *   newest status of the deployment whose `success` started the verification,
 *   shown on the environment's page.
 */

interface Place {
  /** `owner/name`, as the webhook's `repository.full_name`. */
  readonly repository: string;
  /** The smoke environment. */
  readonly environment: string;
}

/** Where one status goes. */
export type StatusTarget =
  | (Place & { readonly kind: 'commit'; readonly sha: string })
  | (Place & {
      readonly kind: 'deployment';
      /** GitHub's `deployment.id`. */
      readonly githubDeploymentId: number;
      /** The webhook's `deployment_status.environment_url`, sent again so the environment keeps its "View deployment" link. */
      readonly environmentUrl?: string;
    });

export interface KindInfo {
  /** How logs and errors name it. */
  readonly noun: string;
  /** The states it posts. */
  readonly states: readonly StatusState[];
}

export const STATUS_KIND_INFO: Readonly<Record<StatusKind, KindInfo>> = {
  commit: { noun: 'commit status', states: STATUS_STATES },
  // No `pending` (nor `in_progress`): the deployment already reported success,
  // and a status that is not one would flap the environment until the verdict.
  deployment: { noun: 'deployment status', states: STATUS_STATES.filter((s) => s !== 'pending') },
};

/** Whether a target of this kind says anything while smoke is still verifying. */
export const postsPending = (kind: StatusKind): boolean => STATUS_KIND_INFO[kind].states.includes('pending');

const repoPath = (repository: string) => {
  const [owner = '', repo = ''] = repository.split('/');
  return `repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}`;
};

/** The request that posts `status` to `target`, its link opening `link` (the deployment page). */
export function statusRequest(config: GitHubStatusConfig, target: StatusTarget, status: StatusUpdate, link: string): StatusRequest {
  const headers = apiHeaders(config.token.reveal());
  switch (target.kind) {
    case 'commit':
      return {
        url: `${config.apiUrl}/${repoPath(target.repository)}/statuses/${encodeURIComponent(target.sha)}`,
        headers,
        body: JSON.stringify({
          state: status.state,
          target_url: link,
          description: status.description,
          context: config.context.replaceAll('{environment}', target.environment),
        }),
      };
    case 'deployment':
      return {
        url: `${config.apiUrl}/${repoPath(target.repository)}/deployments/${target.githubDeploymentId}/statuses`,
        headers,
        body: JSON.stringify({
          state: status.state,
          // GitHub's current name for the details link; it copies it to `target_url`, the older
          // alias it still accepts. Both are sent, equal, for clients that read only the old one.
          log_url: link,
          target_url: link,
          description: status.description,
          // Omitted, the new latest status would drop the environment's "View deployment" link.
          ...(target.environmentUrl && { environment_url: target.environmentUrl }),
          // smoke annotates this deployment; it does not replace the environment's other deployments.
          auto_inactive: false,
        }),
      };
  }
}

/** What a refusal GitHub will not change its mind about means for this kind: '' when there is nothing to add. */
export function refusalHint(target: StatusTarget, statusCode: number): string {
  const forbidden = statusCode === 403 || statusCode === 404;
  switch (target.kind) {
    case 'commit':
      if (forbidden) return ` (gates.github.token may not write commit statuses to ${target.repository}: a fine-grained token needs "Commit statuses: write", a classic one repo:status)`;
      if (statusCode === 422) return ' (GitHub does not know the commit, or it has 1000 statuses in this context)';
      return '';
    case 'deployment':
      if (forbidden) return ` (gates.github.token may not write deployment statuses to ${target.repository}: a fine-grained token needs "Deployments: write", a classic one repo_deployment; or the deployment was deleted)`;
      if (statusCode === 422) return ' (GitHub refused a field of the deployment status, e.g. the environment_url copied from the webhook)';
      return '';
  }
}

/** Names the target in logs: `acme/shop@9f2b1c4d5e6f` or `acme/shop deployment 1145988746`. */
export function describeTarget(target: StatusTarget): string {
  return target.kind === 'commit' ? `${target.repository}@${target.sha.slice(0, 12)}` : `${target.repository} deployment ${target.githubDeploymentId}`;
}
