import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'node:test';
import nock from 'nock';
import pino from 'pino';
import type { RollbackConfig, SignalEvent } from '../signals/config.ts';
import type { Outbox } from '../signals/outbox.ts';
import type { StatusClass } from '../signals/records.ts';
import { createSignals, type SignalMetrics, type Signals, type SignalsDeps } from '../signals/signals.ts';
import { openStore, type Store, type StoreLocation } from '../store/store.ts';
import { Secret } from '../values/secret.ts';
import type { Verdict } from '../verdict/types.ts';
import type { Receiver } from './webhook-receiver.ts';

/*
 * The rollback-signals module as one replica runs it, for tests: its own
 * store on a location other rigs may share (replicas), counted metrics, and
 * everything closed after each test.
 */

export const SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
export const FAIL: Verdict = { kind: 'fail', reasons: ['"checkout" failed on canary after 3 attempts: HTTP 500; it passes on production'], failed: [{ flow: 'checkout', environment: 'canary', error: 'HTTP 500' }] };

export interface Counted extends SignalMetrics {
  outcomes: string[];
  attempts: StatusClass[];
  pending: number[];
}

export function countingMetrics(): Counted {
  const m: Counted = {
    outcomes: [],
    attempts: [],
    pending: [],
    signalOutcome: (o) => void m.outcomes.push(o),
    deliveryAttempt: (c) => void m.attempts.push(c),
    outboxPending: (n) => void m.pending.push(n),
  };
  return m;
}

export interface Rig {
  store: Store;
  signals: Signals;
  metrics: Counted;
  location: StoreLocation;
}

/** What the running test opened, closed after it. */
export const open: { signals: Signals[]; receivers: Receiver[]; stores: Store[] } = { signals: [], receivers: [], stores: [] };

afterEach(async () => {
  await Promise.all(open.signals.map((s) => s.stop()));
  await Promise.all(open.receivers.map((r) => r.close()));
  await Promise.all(open.stores.map((s) => s.close()));
  Object.assign(open, { signals: [], receivers: [], stores: [] });
  nock.cleanAll();
  nock.enableNetConnect();
});

export function rollbackConfig(url: string, overrides: Partial<RollbackConfig> = {}, events: SignalEvent[] = ['deployment.rollback_requested']): RollbackConfig {
  return {
    webhooks: [{ name: 'deployer', url, secret: new Secret(SECRET), headers: { 'x-team': new Secret('checkout') }, events }],
    attemptTimeoutSeconds: 2,
    maxAgeSeconds: 3_600,
    initialBackoffSeconds: 1,
    maxBackoffSeconds: 2,
    ...overrides,
  };
}

/** A store of its own: a new SQLite file. */
export const freshSqlite = (): StoreLocation => ({ kind: 'sqlite', file: path.join(mkdtempSync(path.join(os.tmpdir(), 'smoke-signals-')), 'smoke.db') });

/** One replica: its own store at `location` (shared with other rigs at the same location) and its own signals module. */
export async function rig(
  config: RollbackConfig,
  location: StoreLocation = freshSqlite(),
  options: Partial<Pick<SignalsDeps, 'now' | 'pollMs'>> & { outbox?: (outbox: Outbox) => Outbox } = {},
): Promise<Rig> {
  const store = await openStore(location);
  const metrics = countingMetrics();
  const signals = createSignals({
    config,
    outbox: (options.outbox ?? ((o) => o))(store.outbox),
    store,
    ...(options.now && { now: options.now }),
    ...(options.pollMs !== undefined && { pollMs: options.pollMs }),
    logger: pino({ level: 'silent' }),
    metrics,
    publicBase: () => 'https://smoke.example.com',
    // The shortest backoff: half the base delay.
    random: () => 0,
  });
  open.signals.push(signals);
  open.stores.push(store);
  return { store, signals, metrics, location };
}

/** A deployment judged `verdict`, announced to the signals module as the verifier would. */
export async function judged(r: Rig, verdict: Verdict = FAIL, version = '1.2.0') {
  const { deployment } = await r.store.createDeployment({ service: 'shop', environment: 'canary', baseline: 'production', version, idempotencyKey: `k-${version}` });
  await r.store.finishDeployment(deployment.id, verdict);
  const done = (await r.store.getDeployment(deployment.id))!;
  await r.signals.observer.deploymentFinished!(done);
  return done;
}

export async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
