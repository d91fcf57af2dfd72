import { z } from 'zod';
import { httpUrl, isHttpUrl, NAME, NAME_RULE } from '../values/primitives.ts';
import { Secret } from '../values/secret.ts';

/** `<namespace>/<name>` of a Kubernetes object: DNS labels, names up to 253 characters. */
const CANARY_REF = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\/[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$/;

/** Where a `deploymentId` or a service name may not go wrong: printable ASCII, no spaces. */
const PRINTABLE = /^[\x21-\x7e]+$/;

const flaggerTarget = z.strictObject({
  /** The Flagger `Canary` resource, `<namespace>/<name>`, as Flagger's webhook payload names it. */
  canary: z.string({ error: 'must be <namespace>/<name> of a Flagger Canary' }).regex(CANARY_REF, {
    error: 'must be <namespace>/<name> of a Flagger Canary, e.g. shop/checkout',
  }),
  /** The smoke environment the canary's revisions are verified on. */
  environment: z.string({ error: 'must name an environment' }).regex(NAME, { error: NAME_RULE }),
  /** `service` of the deployments it starts. Default: the Canary's name. */
  service: z.string().min(1).max(128).regex(PRINTABLE, { error: 'must be printable ASCII without spaces' }).optional(),
});

export const DEFAULT_GITHUB_API = 'https://api.github.com';
/** What smoke can write back to GitHub: a commit status on the deployed sha, a deployment status on the deployment itself. */
export const STATUS_KINDS = ['commit', 'deployment'] as const;
export type StatusKind = (typeof STATUS_KINDS)[number];
export const DEFAULT_STATUS_CONTEXT = 'smoke/{environment}';
/** Keeps the context readable in GitHub's checks list; GitHub documents no limit. */
const MAX_CONTEXT_CHARS = 100;

const github = z.strictObject({
  /** The webhook's secret: deliveries must carry its HMAC-SHA256 in X-Hub-Signature-256. */
  secret: z
    .string({ error: 'is required: the secret set on the GitHub webhook' })
    .min(16, { error: 'must be at least 16 characters (GitHub recommends a long random string)' }),
  /** GitHub environment name (matched case-insensitively, as GitHub does) → smoke environment. */
  environments: z
    .record(
      z.string().min(1, { error: 'GitHub environment names must not be empty' }),
      z.string({ error: 'must name a smoke environment' }).regex(NAME, { error: NAME_RULE }),
      { error: 'must map GitHub environment names to smoke environments' },
    )
    .refine((map) => Object.keys(map).length > 0, { error: 'must map at least one GitHub environment' }),
  /**
   * A token allowed to write what `post` names: commit statuses (classic:
   * `repo:status`; fine-grained: "Commit statuses: write") and deployment
   * statuses (classic: `repo_deployment`; fine-grained: "Deployments: write").
   * Unset or empty: smoke posts nothing, it only listens.
   */
  token: z
    .string({ error: 'must be a GitHub token (use ${GITHUB_TOKEN} to keep it in the environment)' })
    // A token read from a mounted file often ends in a newline; it goes into a header.
    .trim()
    .regex(/^[\x21-\x7e]*$/, { error: 'must be printable ASCII without spaces (a GitHub token)' })
    .optional(),
  /** GitHub's REST API; GitHub Enterprise Server: `https://HOST/api/v3`. */
  apiUrl: httpUrl
    .refine((value) => !isHttpUrl(value) || (!new URL(value).search && !new URL(value).hash), { error: 'must not carry a query or fragment' })
    .default(DEFAULT_GITHUB_API),
  /** The status's context, the name GitHub shows beside it; `{environment}` becomes the smoke environment. */
  context: z
    .string({ error: 'must be a string' })
    .min(1, { error: 'must not be empty' })
    .max(MAX_CONTEXT_CHARS, { error: `must be at most ${MAX_CONTEXT_CHARS} characters` })
    .regex(/^[^\x00-\x1f\x7f]+$/, { error: 'must not contain control characters' })
    .default(DEFAULT_STATUS_CONTEXT),
  /** Which statuses smoke posts when it has a token. */
  post: z
    .array(z.enum(STATUS_KINDS, { error: `must be one of ${STATUS_KINDS.map((k) => `'${k}'`).join(', ')}` }), {
      error: `must be a list of ${STATUS_KINDS.map((k) => `'${k}'`).join(' and/or ')}`,
    })
    .min(1, { error: 'must name at least one kind of status (to post none, leave gates.github.token unset)' })
    .superRefine((kinds, ctx) => {
      kinds.forEach((kind, i) => {
        if (kinds.indexOf(kind) < i) ctx.addIssue({ code: 'custom', path: [i], message: `'${kind}' is listed twice` });
      });
    })
    .default([...STATUS_KINDS]),
});

export const gatesSchema = z
  .strictObject({
    flagger: z
      .strictObject({ targets: z.array(flaggerTarget, { error: 'must be a list of {canary, environment, service?}' }).default([]) })
      .default({ targets: [] }),
    /** Unset: `POST /api/v1/gates/github` answers 404. */
    github: github.optional(),
  })
  .superRefine((gates, ctx) => {
    const canaries = new Map<string, number>();
    gates.flagger.targets.forEach((target, i) => {
      const earlier = canaries.get(target.canary);
      if (earlier !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['flagger', 'targets', i, 'canary'], message: `'${target.canary}' is already gates.flagger.targets[${earlier}]` });
      } else canaries.set(target.canary, i);
    });
    const lower = new Map<string, string>();
    for (const name of Object.keys(gates.github?.environments ?? {})) {
      const clash = lower.get(name.toLowerCase());
      if (clash !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['github', 'environments', name], message: `differs from '${clash}' only in case; GitHub treats them as one environment` });
      } else lower.set(name.toLowerCase(), name);
    }
  })
  .default({ flagger: { targets: [] } });

type RawGates = z.output<typeof gatesSchema>;

/**
 * The smoke environments the section names must exist: called from the
 * whole-config check, which knows them. Paths are relative to the config root.
 */
export function checkGateEnvironments(gates: RawGates, environments: readonly string[], ctx: z.RefinementCtx): void {
  const known = `(known: ${environments.join(', ')})`;
  gates.flagger.targets.forEach((target, i) => {
    if (!environments.includes(target.environment)) {
      ctx.addIssue({ code: 'custom', path: ['gates', 'flagger', 'targets', i, 'environment'], message: `names '${target.environment}', which is not an environment ${known}` });
    }
  });
  for (const [name, environment] of Object.entries(gates.github?.environments ?? {})) {
    if (!environments.includes(environment)) {
      ctx.addIssue({ code: 'custom', path: ['gates', 'github', 'environments', name], message: `names '${environment}', which is not an environment ${known}` });
    }
  }
}

export interface FlaggerTarget {
  readonly canary: string;
  readonly environment: string;
  readonly service?: string;
}

export interface GitHubGateConfig {
  readonly secret: Secret;
  /** GitHub environment name, lower-cased (GitHub treats case as one), to smoke environment. */
  readonly environments: ReadonlyMap<string, string>;
  /** Where smoke posts statuses for the deployments the gate started; absent: it posts none. */
  readonly statuses?: GitHubStatusConfig;
}

export interface GitHubStatusConfig {
  readonly token: Secret;
  /** Without a trailing slash. */
  readonly apiUrl: string;
  /** May hold `{environment}`; commit statuses only. */
  readonly context: string;
  /** At least one kind, none twice. */
  readonly post: readonly StatusKind[];
}

export interface GatesConfig {
  readonly flagger: { readonly targets: readonly FlaggerTarget[] };
  /** Absent when the GitHub gate is not configured. */
  readonly github?: GitHubGateConfig;
}

/** The validated section in its typed form, the GitHub secret wrapped so nothing can print it. */
export function gatesConfig(raw: RawGates): GatesConfig {
  return {
    flagger: {
      targets: raw.flagger.targets.map((t) => ({ canary: t.canary, environment: t.environment, ...(t.service !== undefined && { service: t.service }) })),
    },
    ...(raw.github && {
      github: {
        secret: new Secret(raw.github.secret),
        environments: new Map(Object.entries(raw.github.environments).map(([k, v]) => [k.toLowerCase(), v])),
        // An empty token (`${GITHUB_TOKEN:-}` with the variable unset) means "do not post", like no token.
        ...(raw.github.token && {
          statuses: {
            token: new Secret(raw.github.token),
            apiUrl: raw.github.apiUrl.replace(/\/+$/, ''),
            context: raw.github.context,
            post: raw.github.post,
          },
        }),
      },
    }),
  };
}
