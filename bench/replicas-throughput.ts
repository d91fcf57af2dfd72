import { setTimeout as sleep } from 'node:timers/promises';
import { loadAverage, median } from './machine.ts';
import { BenchError, postDeploy, verdictOf } from './replicas-api.ts';
import type { Replica } from './replicas-fleet.ts';
import type { Rig } from './replicas-rig.ts';

/**
 * Throughput: N replicas on one PostgreSQL kept busy with deploys, each to an
 * environment of its own, posted round-robin to the replicas and waited for on
 * the next one. Twice as many deploys are kept in flight as the replicas have
 * run slots, so a slot never waits for the benchmark. After a warm-up (every
 * slot's worth of verdicts, so first browser launches are not counted),
 * verdicts arriving within the window are counted.
 */

/** Longest warm-up before the window opens anyway, ms. */
const WARM_UP_LIMIT_MS = 180_000;
/** Longest one verification may take while the machine is saturated, ms. */
const VERDICT_TIMEOUT_MS = 600_000;

export interface ThroughputResult {
  readonly replicas: number;
  readonly inFlight: number;
  readonly windowMs: number;
  /** Verdicts that arrived within the window. */
  readonly verdicts: number;
  /** Of those, verdicts other than `pass` (none expected: every canary is good). */
  readonly notPass: readonly string[];
  /** POST to verdict of the deploys whose verdict arrived within the window, ms. */
  readonly medianMs: number | undefined;
  /** Verdicts in the window per replica, in start order. */
  readonly perReplica: readonly number[];
  readonly loadAverage: string;
}

interface Sample {
  readonly at: number;
  readonly ms: number;
  readonly verdict: string;
  readonly replica: string | null;
}

export async function measureThroughput(rig: Rig, count: number, windowMs: number, signal: AbortSignal): Promise<ThroughputResult> {
  const inFlight = 2 * count * rig.concurrency;
  if (inFlight > rig.canaries) throw new BenchError(`${inFlight} deploys in flight need as many canary environments; the rig has ${rig.canaries}`);
  const ws = rig.workspace({ postgres: await rig.database(`throughput_${count}`) });
  const replicas = await rig.fleet.start(ws, count);
  const lanes = new AbortController();
  const stopLanes = () => lanes.abort(signal.reason);
  signal.addEventListener('abort', stopLanes, { once: true });
  try {
    const samples: Sample[] = [];
    let next = 0;
    const lane = async (environment: string): Promise<void> => {
      while (!lanes.signal.aborted) {
        const k = next++;
        const started = Date.now();
        const posted = await postDeploy(replicas[k % count]!.url, { environment, version: `throughput-${count}-${k}` }, lanes.signal);
        const done = await verdictOf(replicas[(k + 1) % count]!.url, posted.id, lanes.signal, VERDICT_TIMEOUT_MS);
        samples.push({ at: Date.now(), ms: Date.now() - started, verdict: done.verdict ?? 'none', replica: done.runs.at(-1)?.replica ?? null });
      }
    };
    const running = Promise.all(Array.from({ length: inFlight }, (_, i) => lane(`canary-${i + 1}`))).catch((error: unknown) => {
      if (lanes.signal.aborted) return;
      throw error;
    });
    // A lane's failure ends the measurement at once rather than after the window.
    const failed = running.then(() => {
      throw new BenchError('the deploy lanes stopped before the window closed');
    });
    failed.catch(() => undefined);

    const warm = waitForSamples(samples, count * rig.concurrency, WARM_UP_LIMIT_MS, lanes.signal);
    await Promise.race([warm, failed]);
    const from = Date.now();
    await Promise.race([sleep(windowMs, undefined, { signal: lanes.signal }), failed]);
    const to = Date.now();
    const load = loadAverage();
    lanes.abort('window closed');
    await running;
    signal.throwIfAborted();

    const inWindow = samples.filter((s) => s.at >= from && s.at < to);
    return {
      replicas: count,
      inFlight,
      windowMs: to - from,
      verdicts: inWindow.length,
      notPass: inWindow.filter((s) => s.verdict !== 'pass').map((s) => s.verdict),
      medianMs: median(inWindow.map((s) => s.ms)),
      perReplica: replicas.map((r) => inWindow.filter((s) => ownedBy(s.replica, r)).length),
      loadAverage: load,
    };
  } finally {
    signal.removeEventListener('abort', stopLanes);
    lanes.abort('measurement over');
    await Promise.all(replicas.map((r) => rig.fleet.stop(r)));
  }
}

function ownedBy(name: string | null, replica: Replica): boolean {
  return name !== null && name.endsWith(replica.idSuffix);
}

async function waitForSamples(samples: readonly Sample[], wanted: number, limitMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (samples.length < wanted && Date.now() < deadline) await sleep(250, undefined, { signal });
}
