import { createHash, timingSafeEqual } from 'node:crypto';
import express, { Router, type RequestHandler, type Response } from 'express';
import type { Secret } from '../values/secret.ts';
import { RequestError } from '../errors.ts';
import { argoInput } from '../gates/argo.ts';
import type { GateAnswer } from '../gates/fields.ts';
import { flaggerPayload } from '../gates/flagger.ts';
import { deploymentStatusEvent } from '../gates/github.ts';
import type { Gates } from '../gates/gates.ts';
import type { GateMetrics, GateName } from '../gates/metrics.ts';
import { bearerAuth } from './auth.ts';
import { errorBody } from './errors.ts';
import type { RouteDoc } from './route-doc.ts';
import { validate, validateQuery } from './validate.ts';
import type { LinkBase } from './views.ts';

/** Flagger and Argo send a few hundred bytes. */
export const GATE_BODY_LIMIT_BYTES = 64 * 1024;
/** GitHub sends up to 25 MB; a deployment_status event is 10–20 KB. */
export const GITHUB_BODY_LIMIT_BYTES = 1024 * 1024;

export interface GateRouteDeps {
  readonly gates: Gates;
  readonly apiToken?: Secret;
  readonly metrics: GateMetrics;
  readonly base: LinkBase;
}

/**
 * `/api/v1/gates/…`: mounted ahead of the rest of /api because each gate
 * authenticates its own way: Argo with the bearer token, Flagger with the
 * token in the header or in `metadata.token` (Flagger cannot send headers),
 * GitHub with the signature of the body.
 */
export function gateRoutes(deps: GateRouteDeps): Router {
  const { gates, base } = deps;
  const router = Router();
  const json = express.json({ limit: GATE_BODY_LIMIT_BYTES, strict: true });
  const bearer: RequestHandler = deps.apiToken ? bearerAuth(deps.apiToken) : (_req, _res, next) => next();
  const counted =
    (gate: GateName): RequestHandler =>
    (_req, res, next) => {
      res.on('finish', () => deps.metrics.answered(gate, res.statusCode));
      next();
    };

  router.post('/flagger', counted('flagger'), requireJson, json, flaggerAuth(deps.apiToken), async (req, res) => {
    send(res, await gates.flagger(validate(flaggerPayload, req.body ?? {}, 'body'), base(req)));
  });

  router.post('/flagger/rollback', counted('flagger-rollback'), requireJson, json, flaggerAuth(deps.apiToken), async (req, res) => {
    send(res, await gates.flaggerRollback(validate(flaggerPayload, req.body ?? {}, 'body'), base(req)));
  });

  router.get('/argo', counted('argo'), bearer, async (req, res) => {
    res.json(await gates.argo(validateQuery(argoInput, req.query), base(req)));
  });

  router.post('/argo', counted('argo'), bearer, requireJson, json, async (req, res) => {
    res.json(await gates.argo(validate(argoInput, req.body ?? {}, 'body'), base(req)));
  });

  router.post('/github', counted('github'), express.raw({ type: () => true, limit: GITHUB_BODY_LIMIT_BYTES }), async (req, res) => {
    const answer = await gates.github(
      {
        event: req.get('x-github-event'),
        deliveryId: req.get('x-github-delivery'),
        signature: req.get('x-hub-signature-256'),
        contentType: req.get('content-type'),
        body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
      },
      base(req),
    );
    send(res, answer);
  });

  return router;
}

const FLAGGER_AUTH =
  'With `server.apiToken` set, the token goes in `metadata.token` of the webhook (Flagger cannot send headers) or in an `Authorization: Bearer` header.';

/** The gates' routes as deploy tools call them; assembled in `openapi.ts`. */
export const gateDocs: readonly RouteDoc[] = [
  {
    method: 'post',
    path: '/flagger',
    summary: 'Flagger confirm gate',
    description:
      "For Flagger's `confirm-traffic-increase` and `confirm-promotion` webhooks: starts the revision's verification (keyed by canary and checksum) if it is not known yet, and opens (200) only once it passed. " +
      'Every "not yet" and "no" is a 4xx whose `message` Flagger shows in the canary\'s events, ending with the deployment\'s page. ' +
      FLAGGER_AUTH,
    body: flaggerPayload,
    responses: {
      200: { description: 'The revision passed: go on.' },
      400: { description: 'The canary is not mapped to an environment, or a field is wrong.' },
      401: { description: 'The token is missing or wrong.' },
      409: { description: 'Superseded by a newer deploy, or the canary no longer runs and nothing was verified.', error: false },
      412: { description: 'The revision failed or is inconclusive: halt.', error: false },
      415: { description: 'The body is not JSON.' },
      423: { description: 'The verification is still running: ask again at the next interval.', error: false },
    },
    auth: 'gate',
  },
  {
    method: 'post',
    path: '/flagger/rollback',
    summary: 'Flagger rollback gate',
    description: "For Flagger's `rollback` webhook: 200 (roll back now) only for a revision whose verification failed; never starts a verification. " + FLAGGER_AUTH,
    body: flaggerPayload,
    responses: {
      200: { description: 'The revision failed: roll back.' },
      400: { description: 'A field is wrong.' },
      401: { description: 'The token is missing or wrong.' },
      404: { description: 'smoke has no verification of this revision.', error: false },
      409: { description: 'The revision did not fail: no rollback.', error: false },
      415: { description: 'The body is not JSON.' },
    },
    auth: 'gate',
  },
  {
    method: 'get',
    path: '/argo',
    summary: 'Argo Rollouts web metric',
    description:
      "For an AnalysisTemplate's `web` metric: starts the revision's verification if needed and always answers 200 with `verdict` (`pass`, `fail`, `running` or `inconclusive`) for the template's conditions, the API `link` and the `page`. Bearer token when `server.apiToken` is set.",
    query: argoInput,
    responses: { 200: { description: 'The verdict so far.' }, 400: { description: 'A field is missing or wrong.' }, 401: { description: 'The token is missing or wrong.' } },
    auth: 'gate',
  },
  {
    method: 'post',
    path: '/argo',
    summary: 'Argo Rollouts web metric (JSON body)',
    description: 'The same as the GET, with the fields in a JSON body.',
    body: argoInput,
    responses: {
      200: { description: 'The verdict so far.' },
      400: { description: 'A field is missing or wrong.' },
      401: { description: 'The token is missing or wrong.' },
      415: { description: 'The body is not JSON.' },
    },
    auth: 'gate',
  },
  {
    method: 'post',
    path: '/github',
    summary: 'GitHub deployment_status webhook',
    description:
      'A repository webhook for "Deployment statuses": a deployment to an environment mapped in `gates.github.environments` that reports `success` starts a verification (version = the sha, service = the repository). ' +
      'Authenticated by `X-Hub-Signature-256` (HMAC-SHA256 of the body with `gates.github.secret`), not by the API token; `X-GitHub-Event` and `X-GitHub-Delivery` are required, and a redelivery starts nothing. ' +
      'The body is JSON or `payload=<JSON>` form-encoded; only the fields below are read.',
    body: deploymentStatusEvent,
    responses: {
      200: { description: 'A ping, a redelivery, or a deployment already being verified.' },
      202: { description: 'A verification started, or the event was acknowledged and ignored (`message` says why).' },
      400: { description: 'A header or field is missing or wrong.' },
      401: { description: 'The signature is missing or does not match.' },
      404: { description: 'The GitHub gate is not configured.' },
      409: { description: 'The deployment\'s key was already used for another version.' },
      415: { description: 'The body is neither JSON nor form-encoded.' },
    },
    auth: 'gate',
  },
];

function send(res: Response, answer: GateAnswer): void {
  res.status(answer.status).json(answer.body);
}

const requireJson: RequestHandler = (req, _res, next) => {
  if (!req.is('application/json')) throw new RequestError(415, 'unsupported_media_type', 'send JSON with Content-Type: application/json');
  next();
};

/**
 * When `server.apiToken` is set: the bearer token in the Authorization header,
 * or the same token in the webhook's `metadata.token`. Digests are compared,
 * so timing says nothing about the token.
 */
function flaggerAuth(token: Secret | undefined): RequestHandler {
  if (!token) return (_req, _res, next) => next();
  const expected = digest(token.reveal());
  return (req, res, next) => {
    const header = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '')?.[1]?.trim();
    const metadata = (req.body as { metadata?: { token?: unknown } } | undefined)?.metadata;
    const fromBody = typeof metadata?.token === 'string' ? metadata.token : undefined;
    const candidates = [header, fromBody].filter((c): c is string => c !== undefined);
    if (candidates.some((c) => timingSafeEqual(digest(c), expected))) {
      next();
      return;
    }
    res
      .status(401)
      .json(
        errorBody(
          'unauthorized',
          candidates.length > 0 ? 'the token is wrong' : "this gate needs the API token: put it in the webhook's metadata.token (or an Authorization: Bearer header)",
          'metadata.token',
        ),
      );
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
