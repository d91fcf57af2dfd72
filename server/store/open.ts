import type { Kysely } from 'kysely';
import { ServiceFault } from '../errors.ts';
import { connectPostgres, connectSqlite, redactUrl } from './connection.ts';
import { createDeployments } from './deployments.ts';
import { createSettle } from './endings.ts';
import type { Engine } from './engine.ts';
import { reading, writing } from './faults.ts';
import { createLatestFlowOutcomes } from './flow-outcomes.ts';
import { createGateDeliveryStore } from './gate-deliveries.ts';
import { createGitHubStatusStore } from './github-statuses.ts';
import { createHealth } from './health.ts';
import { createLeases } from './leases.ts';
import { migratePostgres, migrateSqlite } from './migrate.ts';
import { createOutboxStore } from './outbox.ts';
import { createStoreRetention } from './retention.ts';
import { createRuns } from './runs.ts';
import { lastFinishedRuns } from './scans.ts';
import type { Schema } from './schema.ts';
import type { Store, StoreLocation } from './store.ts';
import { createTickClaims } from './ticks.ts';

export interface OpenOptions {
  /** Told of an error on an idle PostgreSQL connection (the server restarting); the pool replaces the connection. */
  readonly onConnectionError?: (err: Error) => void;
}

/**
 * Opens the store and brings its schema up to date: a SQLite file (created
 * with its folder when missing) or a PostgreSQL database. Rejects with a
 * `ServiceFault` naming the location (never a password) when it cannot.
 */
export async function openStore(location: StoreLocation, options: OpenOptions = {}): Promise<Store> {
  if (location.kind === 'sqlite') {
    let opened: ReturnType<typeof connectSqlite> | undefined;
    try {
      opened = connectSqlite(location.file);
      migrateSqlite(opened.raw);
    } catch (err) {
      opened?.raw.close();
      throw new ServiceFault(`cannot open the SQLite store at ${location.file}`, { cause: err });
    }
    return composeStore(opened.db, 'sqlite', location.file, location.file);
  }
  const where = redactUrl(location.url);
  const { db } = connectPostgres(location.url, options.onConnectionError);
  try {
    await migratePostgres(db as Kysely<unknown>);
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw new ServiceFault(`cannot open the PostgreSQL store at ${where}`, { cause: err });
  }
  return composeStore(db, 'postgres', where);
}

/**
 * The `Store` over an open, migrated database: each concept's queries, with
 * every method turning the database's faults into `StoreUnavailable`. Tests
 * that need the connection itself (to make SQLite full or read-only) build
 * the store with this over a connection they made.
 */
export function composeStore(db: Kysely<Schema>, engine: Engine, location: string, file?: string): Store {
  const deployments = createDeployments(db, engine);
  const runs = createRuns(db, engine);
  const leases = createLeases(db, engine);
  const settle = createSettle(db, engine);
  const health = createHealth(db, engine, file);
  const claimTick = createTickClaims(db);
  const latestFlowOutcomes = createLatestFlowOutcomes(db);

  return {
    kind: engine,
    location,
    createDeployment: (input) => writing('record the deployment', () => deployments.createDeployment(input)),
    getDeployment: (id) => reading('read the deployment', () => deployments.getDeployment(id)),
    getDeploymentByKey: (key) => reading('read the deployment', () => deployments.getDeploymentByKey(key)),
    listDeployments: (filter) => reading('list deployments', () => deployments.listDeployments(filter)),
    openDeployments: () => reading('list open deployments', () => deployments.openDeployments()),
    orphanedDeployments: () => reading('list orphaned deployments', () => deployments.orphanedDeployments()),
    finishDeployment: async (id, verdict, supersededBy) => {
      await writing('finish the deployment', () => settle({ deployment: { id, ...(verdict && { verdict }), ...(supersededBy !== undefined && { supersededBy }) } }));
    },
    createRun: (input) => writing('record the run', () => runs.createRun(input)),
    getRun: (id) => reading('read the run', () => runs.getRun(id)),
    listRuns: (filter) => reading('list runs', () => runs.listRuns(filter)),
    runsOfDeployment: (id) => reading('list the runs of a deployment', () => runs.runsOfDeployment(id)),
    openRuns: () => reading('list open runs', () => runs.openRuns()),
    lastFinishedRunOfSchedule: (schedule) => reading("read the schedule's last run", () => runs.lastFinishedRunOfSchedule(schedule)),
    claimNextRun: (replica, leaseMs) => writing('claim a queued run', () => leases.claimNextRun(replica, leaseMs)),
    markRunRunning: (id, replica, leaseMs) => writing('start the run', () => leases.markRunRunning(id, replica, leaseMs)),
    renewLease: (runId, replica, leaseMs) => writing("renew the run's lease", () => leases.renewLease(runId, replica, leaseMs)),
    expireLeases: () => writing('expire run leases', () => leases.expireLeases()),
    claimTick: (schedule, slot, replica) => writing('claim the schedule tick', () => claimTick(schedule, slot, replica)),
    recordFlowResult: (runId, result) => writing('record a flow result', () => runs.recordFlowResult(runId, result)),
    finishRun: async (id, end) => {
      await writing('finish the run', () => settle({ run: { id, end } }));
    },
    settle: (settlement) => writing('store how the verification ended', () => settle(settlement)),
    latestDeployments: () => reading('read the latest deployments', () => deployments.latestDeployments()),
    lastFinishedRuns: () => reading('read the last finished runs', () => lastFinishedRuns(db)),
    latestFlowOutcomes: () => reading('read the latest flow outcomes', () => latestFlowOutcomes()),
    ping: () => reading('reach the database', () => health.ping()),
    probeWrite: () => writing('write the readiness probe', () => health.probeWrite()),
    sizeBytes: () => reading('measure the database', () => health.sizeBytes()),
    outbox: createOutboxStore(db, engine),
    gateDeliveries: createGateDeliveryStore(db),
    githubStatuses: createGitHubStatusStore(db, engine),
    retention: createStoreRetention(db, engine),
    close: () => db.destroy(),
  };
}
