import { githubSignature } from '../gates/github.ts';

export interface DeploymentStatusOptions {
  readonly deploymentId?: number;
  readonly environment?: string;
  readonly state?: string;
  readonly sha?: string;
  readonly repository?: string;
}

/**
 * A `deployment_status` webhook payload in the shape GitHub documents
 * (docs.github.com "Webhook events and payloads" → deployment_status): the
 * status, its deployment, the repository and the sender, with the nested
 * user objects and API URLs GitHub includes, trimmed of the repetitive ones.
 */
export function deploymentStatusPayload(options: DeploymentStatusOptions = {}) {
  const fullName = options.repository ?? 'acme/shop';
  const [owner = 'acme', name = 'shop'] = fullName.split('/');
  const id = options.deploymentId ?? 1_145_988_746;
  const environment = options.environment ?? 'production';
  const sha = options.sha ?? '9f2b1c4d5e6f708192a3b4c5d6e7f8091a2b3c4d';
  const api = `https://api.github.com/repos/${fullName}`;
  const user = {
    login: 'octo-deployer',
    id: 21_031_067,
    node_id: 'MDQ6VXNlcjIxMDMxMDY3',
    avatar_url: 'https://avatars.githubusercontent.com/u/21031067?v=4',
    url: 'https://api.github.com/users/octo-deployer',
    html_url: 'https://github.com/octo-deployer',
    type: 'User',
    site_admin: false,
  };
  return {
    action: 'created',
    deployment_status: {
      url: `${api}/deployments/${id}/statuses/2099162540`,
      id: 2_099_162_540,
      node_id: 'DES_kwDOLl1n2c6AAAAAfSnhLA',
      state: options.state ?? 'success',
      creator: user,
      description: 'Deployment finished successfully.',
      environment,
      target_url: `https://github.com/${fullName}/actions/runs/9876543210`,
      log_url: `https://github.com/${fullName}/actions/runs/9876543210`,
      environment_url: 'https://canary.shop.example.com',
      created_at: '2025-03-14T09:26:53Z',
      updated_at: '2025-03-14T09:26:53Z',
      deployment_url: `${api}/deployments/${id}`,
      repository_url: api,
      performed_via_github_app: null,
    },
    deployment: {
      url: `${api}/deployments/${id}`,
      id,
      node_id: 'DE_kwDOLl1n2c5ESZKK',
      sha,
      ref: 'main',
      task: 'deploy',
      payload: {},
      original_environment: environment,
      environment,
      description: null,
      creator: user,
      created_at: '2025-03-14T09:24:10Z',
      updated_at: '2025-03-14T09:26:53Z',
      statuses_url: `${api}/deployments/${id}/statuses`,
      repository_url: api,
      transient_environment: false,
      production_environment: environment === 'production',
      performed_via_github_app: null,
    },
    repository: {
      id: 186_853_002,
      node_id: 'R_kgDOLl1n2c',
      name,
      full_name: fullName,
      private: true,
      owner: { ...user, login: owner, type: 'Organization' },
      html_url: `https://github.com/${fullName}`,
      description: 'The shop',
      fork: false,
      url: api,
      deployments_url: `${api}/deployments`,
      default_branch: 'main',
    },
    organization: { login: owner, id: 9_919, node_id: 'O_kgDOAAAmvw', url: `https://api.github.com/orgs/${owner}` },
    sender: user,
  };
}

/** Headers of a GitHub delivery of `body`, signed with `secret` as GitHub signs it. */
export function githubHeaders(secret: string, body: string, event: string, deliveryId: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/2f9f6c4',
    'x-github-event': event,
    'x-github-delivery': deliveryId,
    'x-github-hook-id': '468123456',
    'x-hub-signature-256': githubSignature(secret, body),
  };
}
