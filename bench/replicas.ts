/**
 * Scale-out on PostgreSQL (issue 7): what N replicas buy, what PostgreSQL
 * costs, and how soon a killed replica's work is taken over.
 *
 *   1. Throughput: verdicts per minute with 1, 2 and 3 replicas on one
 *      PostgreSQL, the demo suite, the same `runs.concurrency` per replica,
 *      every slot kept busy (bench/replicas-throughput.ts).
 *   2. Overhead: POST to verdict of one deploy, one replica on PostgreSQL
 *      against one on SQLite, alternating, medians of rounds.
 *   3. Take-over: `kill -9` of the replica running a verification (with its
 *      runner and browsers) to another replica starting it, with a short
 *      `runs.leaseSeconds` (bench/replicas-latency.ts).
 *
 * Real parts only: a real PostgreSQL in a temp folder (a database per
 * scenario), each replica its own `smoke` process, the demo shops, the
 * repo's demo suite, deploys and verdicts through the HTTP API. Everything
 * listens on 127.0.0.1, is bounded in time, and is stopped and removed at
 * the end, on an error, at the deadline or on Ctrl-C. Prints figures;
 * asserts nothing about timing.
 *
 *   node --import tsx bench/replicas.ts [--minutes 2] [--rounds 3] [--replicas 1,2,3]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { CLAIM_POLL_MS } from '../server/verification/claims.ts';
import { SWEEP_EVERY_MS } from '../server/verification/recovery.ts';
import { loadAverage, median, printMachine, secs, times } from './machine.ts';
import { BenchError } from './replicas-api.ts';
import { measureOverhead, measureTakeover, type OverheadResult, type TakeoverSample } from './replicas-latency.ts';
import { startRig } from './replicas-rig.ts';
import { measureThroughput, type ThroughputResult } from './replicas-throughput.ts';

const USAGE = `usage: node --import tsx bench/replicas.ts [--minutes M] [--rounds N] [--replicas 1,2,3] [--concurrency C] [--lease S]

  --minutes M       throughput window per replica count, minutes, 0.5 to 30 (default 2)
  --rounds N        overhead and take-over rounds, 1 to 20 (default 3)
  --replicas LIST   replica counts for the throughput, each 1 to 6 (default 1,2,3)
  --concurrency C   runs.concurrency of every replica, 1 to 8 (default 2, the service's default)
  --lease S         runs.leaseSeconds in the take-over scenario, 5 to 60 (default 10)
`;

interface Options {
  readonly minutes: number;
  readonly rounds: number;
  readonly replicas: readonly number[];
  readonly concurrency: number;
  readonly lease: number;
}

const print = (text = '') => process.stdout.write(`${text}\n`);

async function main(argv: string[]): Promise<number> {
  let options: Options;
  try {
    const parsed = parseOptions(argv);
    if (!parsed) {
      print(USAGE);
      return 0;
    }
    options = parsed;
  } catch (err) {
    process.stderr.write(`replicas: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => stop.abort(signal);
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const budgetMs = budget(options);
  const deadline = setTimeout(() => stop.abort(`deadline (${secs(budgetMs)})`), budgetMs);
  try {
    await bench(options, stop.signal);
    return 0;
  } catch (err) {
    if (stop.signal.aborted) {
      print(`\nstopped early (${String(stop.signal.reason)}): everything the benchmark started is stopped and removed`);
      return 130;
    }
    process.stderr.write(`replicas failed: ${describe(err)}\n`);
    return 1;
  } finally {
    clearTimeout(deadline);
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '3' },
      replicas: { type: 'string', default: '1,2,3' },
      concurrency: { type: 'string', default: '2' },
      lease: { type: 'string', default: '10' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return undefined;
  const minutes = Number(values.minutes);
  if (!Number.isFinite(minutes) || minutes < 0.5 || minutes > 30) throw new BenchError(`--minutes must be a number from 0.5 to 30, not "${values.minutes}"`);
  const replicas = values.replicas.split(',').map((r) => wholeNumber('--replicas', r.trim(), 1, 6));
  return {
    minutes,
    rounds: wholeNumber('--rounds', values.rounds, 1, 20),
    replicas: [...new Set(replicas)].sort((a, b) => a - b),
    concurrency: wholeNumber('--concurrency', values.concurrency, 1, 8),
    lease: wholeNumber('--lease', values.lease, 5, 60),
  };
}

function wholeNumber(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new BenchError(`${flag} takes whole numbers from ${min} to ${max}, not "${value}"`);
  return n;
}

/** The most the whole benchmark may take before it stops itself: generous, for a loaded 2-core machine, ms. */
function budget(options: Options): number {
  const minute = 60_000;
  const throughput = options.replicas.length * (options.minutes + 5) * minute;
  const overhead = 2 * minute + options.rounds * 3 * minute;
  const takeover = 2 * minute + options.rounds * (options.lease * 1000 + 3 * minute);
  return throughput + overhead + takeover + 5 * minute;
}

async function bench(options: Options, signal: AbortSignal): Promise<void> {
  const began = performance.now();
  printMachine(print);
  const canaries = 2 * Math.max(...options.replicas) * options.concurrency;
  const rig = await startRig({ canaries, concurrency: options.concurrency });
  const killOnExit = () => rig.fleet.killAllSync();
  process.once('exit', killOnExit);
  try {
    print(`PostgreSQL in ${rig.postgres.folder}; ${canaries} canary environments; budget ${secs(budget(options))}\n`);
    // Each table as soon as its scenario ends: a later failure or Ctrl-C keeps what was measured.
    const throughput: ThroughputResult[] = [];
    for (const count of options.replicas) {
      signal.throwIfAborted();
      const result = await measureThroughput(rig, count, options.minutes * 60_000, signal);
      throughput.push(result);
      print(`throughput with ${count} replica${count === 1 ? '' : 's'}: ${result.verdicts} verdicts in ${secs(result.windowMs)}`);
    }
    printThroughput(throughput, options);
    signal.throwIfAborted();
    printOverhead(await measureOverhead(rig, options.rounds, signal, print), options.rounds);
    signal.throwIfAborted();
    printTakeover(await measureTakeover(rig, options.rounds, options.lease, signal, print), options.lease);
    print(`\nload average at end: ${loadAverage()}; the benchmark took ${secs(performance.now() - began)}`);
  } finally {
    await rig.close();
    process.off('exit', killOnExit);
  }
}

function printThroughput(results: readonly ThroughputResult[], options: Options): void {
  const base = results[0];
  const perMinute = (r: ThroughputResult) => r.verdicts / (r.windowMs / 60_000);
  print(`\nThroughput: demo suite, runs.concurrency ${options.concurrency} per replica, one PostgreSQL, ${os.cpus().length} cores`);
  print('(twice as many deploys in flight as run slots, so POST→verdict includes time queued in the store)');
  table([
    ['replicas', 'in flight', 'window', 'verdicts', 'per minute', `vs ${base?.replicas ?? 1} replica${base?.replicas === 1 ? '' : 's'}`, 'POST→verdict (median)', 'verdicts per replica', 'not pass', 'load avg 1/5/15'],
    ...results.map((r) => [
      String(r.replicas),
      String(r.inFlight),
      secs(r.windowMs),
      String(r.verdicts),
      perMinute(r).toFixed(1),
      base ? times(perMinute(r), perMinute(base)) : 'n/a',
      secs(r.medianMs),
      r.perReplica.join(' / '),
      r.notPass.length === 0 ? '0' : `${r.notPass.length} (${r.notPass.join(', ')})`,
      r.loadAverage,
    ]),
  ]);
}

function printOverhead(result: OverheadResult, rounds: number): void {
  const sqlite = median(result.sqliteMs);
  const postgres = median(result.postgresMs);
  print(`\nOverhead: one deploy, POST to verdict, one replica per store, ${rounds} rounds alternating after a warm-up each`);
  const rows = (label: string, ms: readonly number[]) => [label, ...ms.map((m) => secs(m)), secs(median(ms))];
  table([
    ['store', ...Array.from({ length: rounds }, (_, i) => `round ${i + 1}`), 'median'],
    rows('SQLite', result.sqliteMs),
    rows('PostgreSQL', result.postgresMs),
  ]);
  const ratio = sqlite !== undefined && postgres !== undefined ? postgres / sqlite : undefined;
  const verdict = ratio === undefined ? '' : Math.abs(ratio - 1) <= 0.1 ? ' (within 10 %)' : ' (outside 10 %)';
  print(`PostgreSQL / SQLite, medians: ${times(postgres, sqlite)}${verdict}`);
}

function printTakeover(samples: readonly TakeoverSample[], lease: number): void {
  const bound = lease * 1000 + SWEEP_EVERY_MS + CLAIM_POLL_MS;
  print(`\nTake-over: 2 replicas on PostgreSQL, runs.leaseSeconds ${lease}; kill -9 of the replica running the deploy, its runner and browsers`);
  table([
    ['round', 'kill → started elsewhere', 'kill → verdict', 'verdict', 'killed run'],
    ...samples.map((s, i) => [String(i + 1), secs(s.toStartMs), secs(s.toVerdictMs), s.verdict, s.killedRun]),
  ]);
  const started = median(samples.map((s) => s.toStartMs));
  print(`median kill → started elsewhere ${secs(started)}; bound: lease ${lease} s + sweep ≤ ${secs(SWEEP_EVERY_MS)} + claim poll ${secs(CLAIM_POLL_MS)} = ${secs(bound)}`);
}

function table(rows: readonly (readonly string[])[]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  for (const row of rows) print(row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
}

function describe(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && parts.length < 5; e = (e as { cause?: unknown }).cause) {
    parts.push(e instanceof Error ? e.message : String(e));
  }
  return parts.join(': ');
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`replicas: unexpected failure: ${describe(err)}\n`);
    process.exit(1);
  },
);
