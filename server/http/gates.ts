import { createHash, timingSafeEqual } from 'node:crypto';
import express, { Router, type RequestHandler, type Response } from 'express';
import type { Secret } from '../values/secret.ts';
import { RequestError } from '../errors.ts';
import { argoInput } from '../gates/argo.ts';
import type { GateAnswer } from '../gates/fields.ts';
import { flaggerPayload } from '../gates/flagger.ts';
import type { Gates } from '../gates/gates.ts';
import type { GateMetrics, GateName } from '../gates/metrics.ts';
import { bearerAuth } from './auth.ts';
import { errorBody } from './errors.ts';
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

  router.post('/flagger', counted('flagger'), requireJson, json, flaggerAuth(deps.apiToken), (req, res) => {
    send(res, gates.flagger(validate(flaggerPayload, req.body ?? {}, 'body'), base(req)));
  });

  router.post('/flagger/rollback', counted('flagger-rollback'), requireJson, json, flaggerAuth(deps.apiToken), (req, res) => {
    send(res, gates.flaggerRollback(validate(flaggerPayload, req.body ?? {}, 'body'), base(req)));
  });

  router.get('/argo', counted('argo'), bearer, (req, res) => {
    res.json(gates.argo(validateQuery(argoInput, req.query), base(req)));
  });

  router.post('/argo', counted('argo'), bearer, requireJson, json, (req, res) => {
    res.json(gates.argo(validate(argoInput, req.body ?? {}, 'body'), base(req)));
  });

  router.post('/github', counted('github'), express.raw({ type: () => true, limit: GITHUB_BODY_LIMIT_BYTES }), (req, res) => {
    const answer = gates.github(
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
