import { startShop, workspace, type Shop, type Workspace, type WorkspaceOptions } from '../server/integration/harness.ts';
import { startPostgres, type Postgres } from '../server/testing/postgres.ts';
import { createFleet, type Fleet } from './replicas-fleet.ts';

/**
 * What every scenario of the replicas benchmark shares: one real PostgreSQL
 * (a database per scenario), the demo shops, and a config per scenario with
 * many canary environments. Each in-flight deploy needs an environment of its
 * own (a newer deploy to an environment supersedes the older), so
 * `canary-1…N` all point at one canary shop, each with `production` as its
 * baseline. Everything listens on 127.0.0.1; `close` stops it all.
 */

/** Where the take-over scenario deploys: a canary answering slowly, so the kill always lands mid-run. */
export const SLOW_CANARY = 'canary-slow';
/** The slow canary's delay per response, ms: well inside the demo suite's 5 s expect timeout. */
const SLOW_MS = 300;

export interface RigOptions {
  /** `canary-1…canaries`. */
  readonly canaries: number;
  /** `runs.concurrency` of every replica of every scenario. */
  readonly concurrency: number;
}

export interface Rig {
  readonly postgres: Postgres;
  readonly fleet: Fleet;
  readonly concurrency: number;
  readonly canaries: number;
  /** A new empty database on the shared server, for one scenario. */
  database(name: string): Promise<string>;
  /** A config (temp folder) for replicas of one scenario; SQLite unless `postgres` is given. */
  workspace(options: WorkspaceOptions): Workspace;
  close(): Promise<void>;
}

export async function startRig(options: RigOptions): Promise<Rig> {
  const fleet = createFleet();
  const shops: Shop[] = [];
  const workspaces: Workspace[] = [];
  let postgres: Postgres | undefined;
  // Replicas first, while their database and shops still answer; their folders last.
  const close = async () => {
    await fleet.stopAll().catch(() => undefined);
    await Promise.all(shops.splice(0).map((s) => s.close().catch(() => undefined)));
    await postgres?.stop().catch(() => undefined);
    for (const ws of workspaces.splice(0)) ws.remove();
  };
  try {
    const shop = async (...args: Parameters<typeof startShop>) => {
      const started = await startShop(...args);
      shops.push(started);
      return started;
    };
    const production = await shop('production');
    const canary = await shop('canary');
    const slow = await shop(SLOW_CANARY, 'slow', SLOW_MS);
    const environments: Record<string, { baseURL: string; baseline?: string }> = { production: { baseURL: production.url } };
    for (let i = 1; i <= options.canaries; i++) environments[`canary-${i}`] = { baseURL: canary.url, baseline: 'production' };
    environments[SLOW_CANARY] = { baseURL: slow.url, baseline: 'production' };
    const pg = (postgres = await startPostgres({ database: 'bench' }));
    return {
      postgres: pg,
      fleet,
      concurrency: options.concurrency,
      canaries: options.canaries,
      database: (name) => pg.createDatabase(name),
      workspace(extra) {
        const ws = workspace(environments, { concurrency: options.concurrency, ...extra });
        workspaces.push(ws);
        return ws;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
