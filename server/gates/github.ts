import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { RequestError } from '../errors.ts';
import { httpUrl } from '../values/primitives.ts';
import { printable } from './fields.ts';

/** Longer environment URLs are not kept: a sanity cap on what is stored and sent back, not a GitHub rule. */
const MAX_ENVIRONMENT_URL_CHARS = 2_048;

/** `sha256=` + the hex HMAC-SHA256 of the raw body, keyed with the webhook's secret. */
export function githubSignature(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Constant-time check of `X-Hub-Signature-256`; a missing or malformed header is simply wrong. */
export function verifyGitHubSignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(githubSignature(secret, body));
  const given = Buffer.from(header.trim());
  // The expected length is public (71 bytes), so checking it first gives nothing away.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The payload as GitHub sends it: JSON, or `payload=<JSON>` when the webhook's
 * content type is `application/x-www-form-urlencoded`. Parser messages are not
 * passed on: they quote the body.
 */
export function parseGitHubBody(raw: Buffer, contentType: string | undefined): unknown {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  let text: string;
  if (type === 'application/json') text = raw.toString('utf8');
  else if (type === 'application/x-www-form-urlencoded') {
    const payload = new URLSearchParams(raw.toString('utf8')).get('payload');
    if (payload === null) throw new RequestError(400, 'missing_field', 'body: payload is required (form-encoded GitHub deliveries carry the JSON in payload)', 'payload');
    text = payload;
  } else {
    throw new RequestError(415, 'unsupported_media_type', "set the GitHub webhook's content type to application/json");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new RequestError(400, 'malformed_json', 'the request body is not valid JSON');
  }
}

/** The fields of a `deployment_status` event smoke reads; the rest of GitHub's payload is ignored. */
export const deploymentStatusEvent = z.object({
  deployment_status: z.object({
    state: z.string({ error: 'must be a string' }),
    /**
     * Passed back on smoke's deployment status, so only a URL GitHub could
     * have stored; anything else (GitHub sends null or '' when unset) is dropped,
     * never a reason to refuse the delivery.
     */
    environment_url: httpUrl
      .max(MAX_ENVIRONMENT_URL_CHARS)
      .optional()
      .catch(undefined),
  }),
  deployment: z.object({
    id: z.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).nonnegative({ error: 'must not be negative' }),
    sha: printable(128).optional(),
    ref: printable(128).optional(),
    environment: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
  }),
  repository: z.object({
    name: printable(128),
    full_name: printable(200),
  }),
});

export type DeploymentStatusEvent = z.output<typeof deploymentStatusEvent>;

export type GitHubDecision =
  | { readonly kind: 'ignore'; readonly reason: string }
  | {
      readonly kind: 'verify';
      readonly key: string;
      readonly environment: string;
      readonly service: string;
      readonly version: string;
    };

/**
 * A deployment reported `success` to a mapped environment is a deploy to
 * verify; anything else is acknowledged and left alone.
 */
export function decideDeploymentStatus(event: DeploymentStatusEvent, environments: ReadonlyMap<string, string>): GitHubDecision {
  const { deployment, deployment_status: status, repository } = event;
  if (status.state !== 'success') {
    return { kind: 'ignore', reason: `deployment ${deployment.id} reported state '${status.state}'; smoke verifies a deployment when it reports 'success'` };
  }
  const version = deployment.sha ?? deployment.ref;
  if (version === undefined) throw new RequestError(400, 'missing_field', 'body: deployment.sha is required (or deployment.ref)', 'deployment.sha');
  const environment = environments.get(deployment.environment.toLowerCase());
  if (environment === undefined) {
    return { kind: 'ignore', reason: `GitHub environment '${deployment.environment}' is not mapped in gates.github.environments` };
  }
  return {
    kind: 'verify',
    key: `github:${repository.full_name}:${deployment.id}`,
    environment,
    service: repository.name,
    version,
  };
}
