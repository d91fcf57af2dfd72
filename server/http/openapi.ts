import { Router } from 'express';
import { z } from 'zod';
import { assetDocs } from '../pages/assets.ts';
import { loginDocs } from '../pages/login.ts';
import { pageDocs } from '../pages/routes.ts';
import { runFileDocs } from '../pages/run-files.ts';
import { traceViewerDocs } from '../pages/trace-viewer.ts';
import { deploymentDocs } from './deployments.ts';
import type { ErrorBody } from './errors.ts';
import { gateDocs } from './gates.ts';
import { healthDocs } from './health.ts';
import { metricsDocs } from './metrics.ts';
import type { MountedDocs, RouteDoc } from './route-doc.ts';
import { runDocs } from './runs.ts';
import { scheduleDocs } from './schedules.ts';
import { signalDocs } from './signals.ts';

/** The API's major version, as in `/api/v1`: the document describes that contract. */
const API_VERSION = '1';

/** Every JSON refusal smoke makes; `satisfies` below keeps it the same shape as `ErrorBody`. */
const errorSchema = z
  .object({
    error: z.object({
      code: z.string().describe('A stable machine-readable code: `missing_field`, `not_found`, `unauthorized`, …'),
      message: z.string().describe('What is wrong and what to do, for a person.'),
      field: z.string().optional().describe('The field, header or parameter at fault, when there is one.'),
    }),
  })
  .describe("smoke's error answer.");
type SameShape = z.output<typeof errorSchema> extends ErrorBody ? (ErrorBody extends z.output<typeof errorSchema> ? true : never) : never;
const sameShape: SameShape = true;
void sameShape;

const openapiDocs: readonly RouteDoc[] = [
  {
    method: 'get',
    path: '/',
    summary: 'This document',
    description: 'The OpenAPI 3.1 description of every route smoke serves, generated from the same zod schemas that validate the requests.',
    responses: { 200: { description: 'The OpenAPI document.' } },
    auth: 'bearer',
  },
];

const TAGS = [
  { name: 'deployments', description: 'Deploy verifications: tell smoke a version was deployed, follow it to its verdict.' },
  { name: 'runs', description: 'Runs of the flows (for a deploy, a schedule or by hand), with every flow and its artifacts.' },
  { name: 'schedules', description: 'Synthetic monitoring: the configured schedules, and running one now.' },
  { name: 'signals', description: 'The rollback webhooks smoke sent (or is sending), with every attempt.' },
  { name: 'gates', description: 'Webhooks deploy tools call (Flagger, Argo Rollouts, GitHub), each with its own authentication.' },
  { name: 'pages', description: 'HTML pages for people, the trace viewer, the Playwright reports and the files they show.' },
  { name: 'sign-in', description: "The pages' sign-in form and session cookie." },
  { name: 'service', description: 'Probes, metrics and this document.' },
] as const;

type Tag = (typeof TAGS)[number]['name'];

/**
 * Where each router's docs are mounted, as `app.ts` mounts the routers; the
 * route-coverage test walks the real app and fails when the two disagree.
 */
const MOUNTED_DOCS: readonly (MountedDocs & { tag: Tag })[] = [
  { mount: '/api/v1/deployments', tag: 'deployments', routes: deploymentDocs },
  { mount: '/api/v1/runs', tag: 'runs', routes: runDocs },
  { mount: '/api/v1/schedules', tag: 'schedules', routes: scheduleDocs },
  { mount: '/api/v1/signals', tag: 'signals', routes: signalDocs },
  { mount: '/api/v1/gates', tag: 'gates', routes: gateDocs },
  { mount: '', tag: 'pages', routes: [...pageDocs, ...runFileDocs, ...traceViewerDocs] },
  { mount: '/assets', tag: 'pages', routes: assetDocs },
  { mount: '', tag: 'sign-in', routes: loginDocs },
  { mount: '', tag: 'service', routes: [...healthDocs, ...metricsDocs] },
  { mount: '/api/v1/openapi.json', tag: 'service', routes: openapiDocs },
];

const SECURITY_SCHEMES = {
  bearerAuth: { type: 'http', scheme: 'bearer', description: '`server.apiToken`. Without it set, smoke asks for no credentials.' },
  sessionCookie: {
    type: 'apiKey',
    in: 'cookie',
    name: 'smoke_session',
    description: 'Set by signing in at `/login` (HttpOnly, SameSite=Strict): opens the pages, and GET/HEAD of the API.',
  },
} as const;

/** The OpenAPI 3.1 document of every route, for `server.publicUrl` (its path is the servers' base). */
export function openapiDocument(options: { publicUrl?: string }, mounted: readonly MountedDocs[] = MOUNTED_DOCS): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const ids = new Set<string>();
  for (const { mount, tag, routes } of mounted) {
    for (const route of routes) {
      const path = openapiPath(mount, route.path);
      const item = (paths[path] ??= {});
      const op = operation(route, path, tag);
      if (item[route.method] || ids.has(op.operationId)) throw new Error(`${route.method.toUpperCase()} ${path} is documented twice (operationId ${op.operationId})`);
      ids.add(op.operationId);
      item[route.method] = op;
    }
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'smoke',
      version: API_VERSION,
      summary: 'Deploy verification and synthetic monitoring with real Playwright flows.',
      description:
        'smoke runs critical Playwright flows against a fresh deploy and its production baseline, judges a verdict (pass, fail, inconclusive), sends signed rollback webhooks and exports Prometheus metrics. ' +
        'The JSON API lives under `/api/v1`; the pages a person opens (deployments, runs, schedules, the trace viewer and Playwright reports) at the top level. ' +
        'Every answer links both: `links.self`/`link` into the API, `links.page`/`page` to the page.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: options.publicUrl?.replace(/\/+$/, '') || '/', description: options.publicUrl ? '`server.publicUrl`' : 'this service' }],
    tags: TAGS,
    paths,
    components: { schemas: { Error: jsonSchema(errorSchema) }, securitySchemes: SECURITY_SCHEMES },
  };
}

/** Serves the document, built once when the app is: it describes code, not data. Mount at `/api/v1/openapi.json`. */
export function openapiRoutes(options: { publicUrl?: string }): Router {
  const body = JSON.stringify(openapiDocument(options));
  const router = Router();
  router.get('/', (_req, res) => {
    res.type('application/json').send(body);
  });
  return router;
}

/** Express path syntax under its mount → OpenAPI's: `/runs/:id/artifacts/*artifact` → `/runs/{id}/artifacts/{artifact}`. */
export function openapiPath(mount: string, path: string): string {
  const joined = (mount + (path === '/' ? '' : path)).replace(/[:*]([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
  return joined === '' ? '/' : joined;
}

function operation(route: RouteDoc, path: string, tag: string): { operationId: string } & Record<string, unknown> {
  const where = `${route.method.toUpperCase()} ${path}`;
  const parameters = [...pathParameters(route, path, where), ...queryParameters(route)];
  const body = route.body ?? route.form;
  const mediaType = route.body ? 'application/json' : 'application/x-www-form-urlencoded';
  return {
    operationId: operationId(route.method, path),
    tags: [tag],
    summary: route.summary,
    ...(route.description && { description: route.description }),
    ...(parameters.length > 0 && { parameters }),
    ...(body && { requestBody: { required: true, content: { [mediaType]: { schema: jsonSchema(body) } } } }),
    responses: responses(route),
    ...security(route),
  };
}

function pathParameters(route: RouteDoc, path: string, where: string) {
  const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  const shape = (route.params?.shape ?? {}) as Record<string, z.ZodType>;
  const stray = Object.keys(shape).find((key) => !names.includes(key));
  if (stray) throw new Error(`${where}: params names '${stray}', which is not in the path`);
  const wildcards = new Set([...route.path.matchAll(/\*([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
  return names.map((name) => {
    const schema = shape[name] ? jsonSchema(shape[name]) : { type: 'string' };
    const description = [schema.description, wildcards.has(name) && 'The rest of the path: it may hold `/`.'].filter(Boolean).join(' ');
    return { name, in: 'path', required: true, ...(description && { description }), schema: withoutDescription(schema) };
  });
}

function queryParameters(route: RouteDoc) {
  const shape = (route.query?.shape ?? {}) as Record<string, z.ZodType>;
  return Object.entries(shape).map(([name, field]) => {
    const schema = jsonSchema(field);
    return {
      name,
      in: 'query',
      required: !field.safeParse(undefined).success,
      ...(schema.description && { description: schema.description }),
      schema: withoutDescription(schema),
    };
  });
}

const ERROR_REF = { $ref: '#/components/schemas/Error' };

function responses(route: RouteDoc): Record<string, unknown> {
  const implied: Record<number, { description: string; contentType?: string; error?: boolean }> = {};
  if (route.auth === 'page') implied[303] = { description: 'A browser without a session, when `server.apiToken` is set: to the sign-in form.' };
  if (route.auth === 'bearer' || route.auth === 'page') implied[401] = { description: 'The token is missing or wrong (only when `server.apiToken` is set).' };
  if ((route.query && Object.keys(route.query.shape).length > 0) || route.params || route.body) implied[400] = { description: 'A parameter or field is wrong; `error.field` names it.' };
  const all = { ...implied, ...route.responses };
  return Object.fromEntries(
    Object.entries(all).map(([code, answer]) => {
      const status = Number(code);
      const contentType = answer.contentType ?? (status === 204 || (status >= 300 && status < 400) ? undefined : 'application/json');
      const isError = contentType === 'application/json' && status >= 400 && answer.error !== false;
      return [
        code,
        {
          description: answer.description,
          ...(status >= 300 && status < 400 && { headers: { Location: { description: 'Where to go instead.', schema: { type: 'string' } } } }),
          ...(contentType && { content: { [contentType]: isError ? { schema: ERROR_REF } : {} } }),
        },
      ];
    }),
  );
}

function security(route: RouteDoc): Record<string, unknown> {
  switch (route.auth) {
    case 'none':
      return { security: [] };
    case 'page':
      return { security: [{ bearerAuth: [] }, { sessionCookie: [] }] };
    case 'bearer':
      return { security: route.method === 'get' ? [{ bearerAuth: [] }, { sessionCookie: [] }] : [{ bearerAuth: [] }] };
    case 'gate':
      // Each gate checks its own credential, said in its description: a signature or a token in the body has no scheme here.
      return {};
  }
}

/** The input side of a zod schema as JSON Schema 2020-12, which OpenAPI 3.1 schemas are. */
function jsonSchema(schema: z.ZodType): Record<string, unknown> & { description?: string } {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest as Record<string, unknown> & { description?: string };
}

function withoutDescription(schema: Record<string, unknown>): Record<string, unknown> {
  const { description: _moved, ...rest } = schema;
  return rest;
}

/** `get /api/v1/runs/{id}` → `getApiRunsById`, `get /runs/{id}` (the page) → `getRunsById`: readable, stable, unique per route. */
function operationId(method: string, path: string): string {
  const words = path
    .replace(/^\/api\/v1(?=\/|$)/, '/api')
    .split('/')
    .filter(Boolean)
    .map((segment) => {
      const param = /^\{(.+)\}$/.exec(segment)?.[1];
      return param ? `By${capital(param)}` : segment.split(/[^A-Za-z0-9]+/).map(capital).join('');
    });
  return method + (words.length > 0 ? words.join('') : 'Root');
}

const capital = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);
