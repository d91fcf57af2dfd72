import type { z } from 'zod';

/**
 * What one route takes and answers, written next to the route from the same
 * zod schemas that validate its input; `openapi.ts` assembles these into the
 * OpenAPI document, and a test checks them against the routes the app serves.
 */
export interface RouteDoc {
  readonly method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express syntax, relative to where the router is mounted: '/:id', '/:id/artifacts/*artifact'. */
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  /** Path parameters, when they are more than free ids. */
  readonly params?: z.ZodObject;
  readonly query?: z.ZodObject;
  /** A JSON request body. */
  readonly body?: z.ZodType;
  /** An application/x-www-form-urlencoded request body (the login form). */
  readonly form?: z.ZodObject;
  /**
   * Status code → what it means; `contentType` defaults to application/json
   * (none for a redirect or 204). A JSON 4xx/5xx body is the shared `Error`
   * object unless `error: false` (a gate's answer, a failed readiness check).
   */
  readonly responses: Readonly<Record<number, { readonly description: string; readonly contentType?: string; readonly error?: boolean }>>;
  /** bearer: the API token (or the page cookie on GET); page: token or cookie, else a login redirect; none: open; gate: the gate's own check. */
  readonly auth: 'bearer' | 'page' | 'none' | 'gate';
}

/** A router's documentation, with the path it is mounted at ('' for the root, '/api/v1/deployments'). */
export interface MountedDocs {
  readonly mount: string;
  readonly tag: string;
  readonly routes: readonly RouteDoc[];
}
