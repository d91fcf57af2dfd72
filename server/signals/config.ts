import { z } from 'zod';
import { Secret } from '../values/secret.ts';
import { count, HEADER_NAME, httpUrl, NAME, NAME_RULE } from '../values/primitives.ts';

/** Events a webhook can subscribe to; only a rollback request is sent by default. */
export const SIGNAL_EVENTS = ['deployment.rollback_requested', 'deployment.verified', 'deployment.inconclusive'] as const;
export type SignalEvent = (typeof SIGNAL_EVENTS)[number];

/** Headers the signature scheme owns; a configured value would break verification. */
const RESERVED_HEADERS = new Set(['webhook-id', 'webhook-timestamp', 'webhook-signature', 'content-type', 'content-length', 'host']);

const webhook = z.strictObject({
  /** Names the receiver in logs and the API. */
  name: z.string().regex(NAME, { error: NAME_RULE }),
  url: httpUrl,
  /** Standard Webhooks secret, `whsec_` + base64 of at least 16 random bytes. */
  secret: z
    .string({ error: 'is required (whsec_…)' })
    .regex(/^whsec_[A-Za-z0-9+/]{22,}={0,2}$/, { error: 'must be whsec_ followed by the base64 of at least 16 random bytes' }),
  /** Extra headers on every delivery (e.g. the receiver's own auth). */
  headers: z
    .record(
      z
        .string()
        .regex(HEADER_NAME, { error: 'must be a valid HTTP header name' })
        .refine((h) => !RESERVED_HEADERS.has(h.toLowerCase()), { error: 'is set by the signature scheme and cannot be configured' }),
      z.string(),
    )
    .default({}),
  events: z
    .array(z.enum(SIGNAL_EVENTS, { error: `must be one of ${SIGNAL_EVENTS.join(', ')}` }))
    .min(1, { error: 'must list at least one event' })
    .default(['deployment.rollback_requested']),
});

export const rollbackSchema = z
  .strictObject({
    webhooks: z.array(webhook).default([]),
    /** Seconds one delivery attempt may take before it counts as a timeout. */
    attemptTimeoutSeconds: count(1, 120).default(10),
    /** Seconds after which an undelivered signal is given up as dead. */
    maxAgeSeconds: count(60, 7 * 86_400).default(86_400),
    /** First retry delay, doubled per attempt up to `maxBackoffSeconds`, with jitter. */
    initialBackoffSeconds: count(1, 3_600).default(2),
    maxBackoffSeconds: count(1, 86_400).default(300),
  })
  .superRefine((value, ctx) => {
    const seen = new Set<string>();
    value.webhooks.forEach((hook, i) => {
      if (seen.has(hook.name)) ctx.addIssue({ code: 'custom', path: ['webhooks', i, 'name'], message: `'${hook.name}' is used by another webhook` });
      seen.add(hook.name);
    });
  })
  .default({ webhooks: [], attemptTimeoutSeconds: 10, maxAgeSeconds: 86_400, initialBackoffSeconds: 2, maxBackoffSeconds: 300 });


export interface WebhookConfig {
  readonly name: string;
  readonly url: string;
  readonly secret: Secret;
  readonly headers: Readonly<Record<string, Secret>>;
  readonly events: readonly SignalEvent[];
}

export interface RollbackConfig {
  readonly webhooks: readonly WebhookConfig[];
  readonly attemptTimeoutSeconds: number;
  readonly maxAgeSeconds: number;
  readonly initialBackoffSeconds: number;
  readonly maxBackoffSeconds: number;
}

/** The validated section in its typed form, secrets wrapped so no log or response can print them. */
export function rollbackConfig(raw: z.output<typeof rollbackSchema>): RollbackConfig {
  return {
    ...raw,
    webhooks: raw.webhooks.map((hook) => ({
      name: hook.name,
      url: hook.url,
      secret: new Secret(hook.secret),
      headers: Object.fromEntries(Object.entries(hook.headers).map(([k, v]) => [k, new Secret(v)])),
      events: hook.events,
    })),
  };
}
