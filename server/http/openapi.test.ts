import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import express from 'express';
import { z } from 'zod';
import { openapiDocument, openapiPath, openapiRoutes } from './openapi.ts';
import type { MountedDocs } from './route-doc.ts';

// Loose on purpose: the tests read the document as any client would, as JSON.
type Doc = { servers: { url: string }[]; paths: Record<string, Record<string, any>>; components: Record<string, any> };

async function validate(doc: unknown) {
  const validator = new Validator();
  const result = await validator.validate(doc as Record<string, unknown>);
  return { ...result, version: validator.version };
}

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document by the official schema', async () => {
    for (const publicUrl of [undefined, 'https://ci.example.com/smoke']) {
      const result = await validate(openapiDocument({ ...(publicUrl && { publicUrl }) }));
      assert.deepEqual(result.errors, undefined, `publicUrl ${publicUrl}`);
      assert.equal(result.valid, true);
      assert.equal(result.version, '3.1');
    }
  });

  it('is checked for real: the validator refuses a broken document', async () => {
    const broken = structuredClone(openapiDocument({})) as Doc;
    delete broken.paths['/api/v1/deployments']!.post.responses;
    broken.paths['/api/v1/runs']!.get.parameters[0].in = 'body';
    const result = await validate(broken);
    assert.equal(result.valid, false);
  });

  it('takes request schemas from the zod schemas the routes validate with', () => {
    const doc = openapiDocument({}) as Doc;
    const post = doc.paths['/api/v1/deployments']!.post;
    const body = post.requestBody.content['application/json'].schema;
    assert.deepEqual(body.required, ['environment', 'version']);
    assert.equal(body.additionalProperties, false, 'the body is a strict object: unknown fields are refused');
    assert.equal(body.properties.version.maxLength, 128);
    assert.deepEqual(
      post.parameters.map((p: { name: string; in: string; required: boolean }) => [p.name, p.in, p.required]),
      [['wait', 'query', false]],
    );
    const signals = doc.paths['/api/v1/signals']!.get;
    assert.deepEqual(signals.parameters.find((p: { name: string }) => p.name === 'status').schema.enum, ['pending', 'delivered', 'rejected', 'dead']);
    const login = doc.paths['/login']!.post;
    assert.ok(login.requestBody.content['application/x-www-form-urlencoded'].schema.properties.token, 'the login form is urlencoded');
  });

  it('describes path parameters, errors and who may call each route', () => {
    const doc = openapiDocument({}) as Doc;
    const artifact = doc.paths['/api/v1/runs/{id}/artifacts/{artifact}']!.get;
    assert.deepEqual(
      artifact.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`),
      ['path:id', 'path:artifact'],
    );
    assert.equal(artifact.parameters[0].schema.pattern, '^[A-Za-z0-9_-]{1,100}$');
    assert.deepEqual(doc.paths['/api/v1/deployments/{id}']!.get.responses['404'].content['application/json'].schema, { $ref: '#/components/schemas/Error' });
    assert.deepEqual(Object.keys(doc.components.schemas.Error.properties.error.properties), ['code', 'message', 'field']);
    assert.deepEqual(doc.paths['/api/v1/deployments']!.post.security, [{ bearerAuth: [] }], 'the session cookie never opens a write');
    assert.deepEqual(doc.paths['/api/v1/deployments']!.get.security, [{ bearerAuth: [] }, { sessionCookie: [] }]);
    assert.deepEqual(doc.paths['/deployments/{id}']!.get.security, [{ bearerAuth: [] }, { sessionCookie: [] }]);
    assert.ok(doc.paths['/deployments/{id}']!.get.responses['303'], 'a browser without a session is sent to sign in');
    assert.deepEqual(doc.paths['/healthz']!.get.security, []);
    assert.equal(doc.paths['/api/v1/gates/github']!.post.security, undefined, 'the GitHub gate checks its signature, said in its description');
    assert.equal(doc.paths['/api/v1/gates/flagger']!.post.responses['412'].content['application/json'].schema, undefined, "a gate's refusal is its own answer, not an Error");
    assert.deepEqual(doc.components.securitySchemes.sessionCookie, {
      type: 'apiKey',
      in: 'cookie',
      name: 'smoke_session',
      description: doc.components.securitySchemes.sessionCookie.description,
    });
  });

  it('names the server by server.publicUrl, path included', () => {
    assert.deepEqual((openapiDocument({ publicUrl: 'https://ci.example.com/smoke/' }) as Doc).servers.map((s) => s.url), ['https://ci.example.com/smoke']);
    assert.deepEqual((openapiDocument({}) as Doc).servers.map((s) => s.url), ['/']);
  });

  const paths: [string, string, string][] = [
    ['', '/', '/'],
    ['', '/healthz', '/healthz'],
    ['/api/v1/deployments', '/', '/api/v1/deployments'],
    ['/api/v1/deployments', '/:id', '/api/v1/deployments/{id}'],
    ['/api/v1/runs', '/:id/artifacts/*artifact', '/api/v1/runs/{id}/artifacts/{artifact}'],
    ['/api/v1/schedules', '/:name/run', '/api/v1/schedules/{name}/run'],
  ];
  for (const [mount, path, expected] of paths) {
    it(`writes ${mount}${path} as ${expected}`, () => assert.equal(openapiPath(mount, path), expected));
  }

  const mounted = (routes: MountedDocs['routes']): MountedDocs[] => [{ mount: '/api/v1/things', tag: 'things', routes }];
  const route = { method: 'get', path: '/:id', summary: 'A thing', responses: { 200: { description: 'ok' } }, auth: 'bearer' } as const;

  it('refuses docs that disagree with their route, naming it', () => {
    assert.throws(() => openapiDocument({}, mounted([{ ...route, params: z.object({ name: z.string() }) }])), /GET \/api\/v1\/things\/\{id\}: params names 'name', which is not in the path/);
    assert.throws(() => openapiDocument({}, mounted([route, route])), /GET \/api\/v1\/things\/\{id\} is documented twice/);
  });

  it('is served as JSON', async () => {
    const app = express().use('/api/v1/openapi.json', openapiRoutes({ publicUrl: 'https://ci.example.com/smoke' }));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/openapi.json`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      const doc = (await response.json()) as Doc & { openapi: string };
      assert.equal(doc.openapi, '3.1.1');
      assert.equal(doc.servers[0]!.url, 'https://ci.example.com/smoke');
    } finally {
      server.close();
    }
  });
});
