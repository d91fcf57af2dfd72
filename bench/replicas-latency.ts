import { secs } from './machine.ts';
import { BenchError, describeVerdict, getDeployment, getRun, postDeploy, until, verdictOf } from './replicas-api.ts';
import type { Replica } from './replicas-fleet.ts';
import { SLOW_CANARY, type Rig } from './replicas-rig.ts';

/**
 * The two per-deploy figures: what PostgreSQL costs one deploy's time to a
 * verdict against SQLite, and how long a deployment stays without a replica
 * after `kill -9` of the one running it.
 */

/** Longest one verification may take, ms. */
const VERDICT_TIMEOUT_MS = 300_000;
/** Longest a posted deploy may take to start running on some replica, ms. */
const START_TIMEOUT_MS = 60_000;
/** Longest the take-over may take: far above the lease and sweep, so a miss is an error, not a figure, ms. */
const TAKEOVER_TIMEOUT_MS = 180_000;

export interface OverheadResult {
  readonly sqliteMs: readonly number[];
  readonly postgresMs: readonly number[];
}

/**
 * One replica on SQLite and one on PostgreSQL, both up throughout (the idle
 * one costs next to nothing); one untimed warm-up deploy each, then rounds
 * that time one deploy on each, in turn, the order swapped every round so
 * drift in the machine's load hits both alike.
 */
export async function measureOverhead(rig: Rig, rounds: number, signal: AbortSignal, progress: (line: string) => void): Promise<OverheadResult> {
  const sqliteWs = rig.workspace({});
  const postgresWs = rig.workspace({ postgres: await rig.database('overhead') });
  const [sqlite] = await rig.fleet.start(sqliteWs, 1);
  const [postgres] = await rig.fleet.start(postgresWs, 1);
  try {
    const contenders = [
      { replica: sqlite!, samples: [] as number[] },
      { replica: postgres!, samples: [] as number[] },
    ];
    for (const c of contenders) await timeDeploy(c.replica, 'overhead-warm-up', signal);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? contenders : [...contenders].reverse();
      for (const c of order) c.samples.push(await timeDeploy(c.replica, `overhead-${round + 1}`, signal));
      progress(`overhead round ${round + 1}/${rounds}: SQLite ${secs(contenders[0]!.samples[round]!)}, PostgreSQL ${secs(contenders[1]!.samples[round]!)}`);
    }
    return { sqliteMs: contenders[0]!.samples, postgresMs: contenders[1]!.samples };
  } finally {
    await Promise.all([sqlite, postgres].map((r) => r && rig.fleet.stop(r)));
  }
}

/** POST with `?wait=` to its verdict, ms; only a `pass` makes the time mean anything. */
async function timeDeploy(replica: Replica, version: string, signal: AbortSignal): Promise<number> {
  const started = performance.now();
  let answer = await postDeploy(replica.url, { environment: 'canary-1', version }, signal, VERDICT_TIMEOUT_MS / 1000);
  if (answer.status !== 'done') answer = await verdictOf(replica.url, answer.id, signal, VERDICT_TIMEOUT_MS);
  const ms = performance.now() - started;
  if (answer.verdict !== 'pass') throw new BenchError(`deploy ${version} on ${replica.url} was judged ${describeVerdict(answer)}, not pass`);
  return ms;
}

export interface TakeoverSample {
  /** From the kill to the resumed run's `startedAt` on another replica, ms. */
  readonly toStartMs: number;
  /** From the kill to the deployment's verdict, ms. */
  readonly toVerdictMs: number;
  readonly verdict: string;
  /** The killed run's status and note, as the API shows them. */
  readonly killedRun: string;
}

/**
 * Two replicas on PostgreSQL with a short lease. Each round posts a deploy
 * to the slow canary, waits until some replica runs it, kills that replica
 * and every process it started (`kill -9`, as when its node goes away), and
 * watches the other replica take the deployment over; then starts the killed
 * one again (on its port) for the next round.
 */
export async function measureTakeover(rig: Rig, rounds: number, leaseSeconds: number, signal: AbortSignal, progress: (line: string) => void): Promise<TakeoverSample[]> {
  const ws = rig.workspace({ postgres: await rig.database('takeover'), leaseSeconds });
  const replicas = await rig.fleet.start(ws, 2);
  try {
    const samples: TakeoverSample[] = [];
    for (let round = 0; round < rounds; round++) {
      const posted = await postDeploy(replicas[round % 2]!.url, { environment: SLOW_CANARY, version: `takeover-${round + 1}` }, signal);
      const running = await until('the deploy to start running', START_TIMEOUT_MS, signal, async () => {
        const { runs } = await getDeployment(replicas[(round + 1) % 2]!.url, posted.id, signal);
        return runs[0]?.status === 'running' && runs[0].replica ? runs[0] : undefined;
      });
      const victim = replicas.find((r) => running.replica!.endsWith(r.idSuffix));
      if (!victim) throw new BenchError(`run ${running.id} names replica ${running.replica}, none of ours`);
      const survivor = replicas.find((r) => r !== victim)!;
      const killedAt = rig.fleet.kill(victim);

      const resumed = await until('another replica to start the deployment again', TAKEOVER_TIMEOUT_MS, signal, async () => {
        const { runs } = await getDeployment(survivor.url, posted.id, signal);
        const later = runs.find((r) => r.id !== running.id && r.status !== 'queued');
        return later ? getRun(survivor.url, later.id, signal) : undefined;
      });
      if (!resumed.startedAt) throw new BenchError(`resumed run ${resumed.id} is ${resumed.status} without a startedAt`);
      const done = await verdictOf(survivor.url, posted.id, signal, VERDICT_TIMEOUT_MS);
      const toVerdictMs = Date.now() - killedAt;
      const killed = done.runs.find((r) => r.id === running.id);
      samples.push({
        toStartMs: Date.parse(resumed.startedAt) - killedAt,
        toVerdictMs,
        verdict: done.verdict ?? 'none',
        killedRun: killed ? `${killed.status}${killed.note ? `: ${killed.note}` : ''}` : 'missing',
      });
      progress(`take-over round ${round + 1}/${rounds}: run started elsewhere ${secs(samples.at(-1)!.toStartMs)} after the kill, verdict ${done.verdict} after ${secs(toVerdictMs)}`);
      replicas[replicas.indexOf(victim)] = await rig.fleet.startOn(ws, victim.port);
    }
    return samples;
  } finally {
    await Promise.all(replicas.map((r) => rig.fleet.stop(r)));
  }
}
