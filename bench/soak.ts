/**
 * Soak: the service running a schedule of a realistic suite for a long time,
 * to see that ticks, runs and memory stay steady.
 *
 *   node --import tsx bench/soak.ts [--minutes 10] [--sample-seconds 2]
 *
 * Two demo shops (production, canary) as their own processes; the service as a
 * child process (`node --import tsx server/main.ts --config …`) with one
 * schedule, every minute, of bench/soak-suite (20 critical flows) against the
 * canary with production as its baseline: 20 flows × 2 environments in one
 * runner invocation per run. Every few seconds it samples, from /proc, the
 * resident memory of the service alone and of the service with all its
 * descendants (runner, workers, Chromium). Prints figures; asserts nothing.
 * Everything listens on 127.0.0.1 and is stopped at the end, or on Ctrl-C.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { freePort, logTail, REPO, startProcess, startShop, type ManagedProcess } from '../demo/demo-stack.ts';
import { sampleTree, type TreeSample } from './proc-memory.ts';

const USAGE = `usage: node --import tsx bench/soak.ts [--minutes N] [--sample-seconds S]

  --minutes N          how long the schedule runs, minutes (default 10)
  --sample-seconds S   memory sampling interval, seconds (default 2)
`;
const SUITE_DIR = path.join(REPO, 'bench/soak-suite');
const SCHEDULE = 'soak';
const CONCURRENCY = 2;
/** How long the service gets to come up, and the last run to finish after the soak, ms. */
const READY_TIMEOUT_MS = 60_000;
const DRAIN_TIMEOUT_MS = 300_000;
/** Idle samples taken after the last run, for the end figure. */
const END_IDLE_SAMPLES = 5;

class BenchError extends Error {
  override name = 'BenchError';
}

const print = (text = '') => process.stdout.write(`${text}\n`);

async function main(argv: string[]): Promise<number> {
  let minutes: number;
  let sampleSeconds: number;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { minutes: { type: 'string', default: '10' }, 'sample-seconds': { type: 'string', default: '2' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      print(USAGE);
      return 0;
    }
    minutes = Number(values.minutes);
    sampleSeconds = Number(values['sample-seconds']);
    if (!(minutes >= 1 && minutes <= 24 * 60)) throw new BenchError('--minutes must be a number from 1 to 1440');
    if (!(sampleSeconds >= 0.5 && sampleSeconds <= 60)) throw new BenchError('--sample-seconds must be a number from 0.5 to 60');
  } catch (err) {
    process.stderr.write(`soak: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => interrupt.abort(signal);
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    await soak(minutes, sampleSeconds * 1000, interrupt.signal);
    return 0;
  } catch (err) {
    if (interrupt.signal.aborted) {
      print(`\ninterrupted (${String(interrupt.signal.reason)}): everything the soak started is stopped`);
      return 130;
    }
    process.stderr.write(`soak failed: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

interface Sample extends TreeSample {
  /** Seconds since the service was ready. */
  readonly t: number;
}

async function soak(minutes: number, sampleMs: number, signal: AbortSignal): Promise<void> {
  const flows = countFlows();
  print(`node ${process.version} on ${os.platform()}/${os.arch()}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`);
  print(`schedule '${SCHEDULE}': every minute for ${minutes} min, ${flows} flows × 2 environments (canary, baseline production), concurrency ${CONCURRENCY}`);
  print(`load average at start: ${loadAverage()}`);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-soak-'));
  let keepDir = true;
  const stops: (() => Promise<void>)[] = [];
  try {
    const production = await startShop('production', dir, 'none', signal);
    stops.push(production.process.stop);
    const canary = await startShop('canary', dir, 'none', signal);
    stops.push(canary.process.stop);
    const port = await freePort();
    const configFile = writeConfig(dir, port, production.url, canary.url);
    const smokeLog = path.join(dir, 'smoke.log');
    // Info level: the skipped-tick lines carry how busy the verifier was.
    const smoke = startProcess('smoke', 'server/main.ts', ['--config', configFile], smokeLog, { LOG_LEVEL: 'info' });
    stops.push(smoke.stop);
    const url = `http://127.0.0.1:${port}`;
    await waitUntilReady(url, smoke, signal);
    const pid = smoke.child.pid!;
    const readyAt = performance.now();
    print(`service pid ${pid} ready at ${url}; logs in ${dir}\n`);

    const samples: Sample[] = [];
    const sample = () => samples.push({ t: (performance.now() - readyAt) / 1000, ...sampleTree(pid) });
    const soakEnd = readyAt + minutes * 60_000;
    let lastReport = -Infinity;
    while (performance.now() < soakEnd) {
      sample();
      if (performance.now() - lastReport >= 60_000) {
        lastReport = performance.now();
        const s = samples.at(-1)!;
        print(`  t=${s.t.toFixed(0).padStart(4)} s  service ${mb(s.serviceRss)}, service+browsers ${mb(s.treeRss)} in ${s.processes} processes`);
      }
      await sleep(sampleMs, undefined, { signal });
    }

    // The last tick's run finishes, then the service idles a little for the end figure.
    const soakSeconds = (performance.now() - readyAt) / 1000;
    const drainBy = performance.now() + DRAIN_TIMEOUT_MS;
    for (;;) {
      sample();
      const listing = await getJson(url, `/api/v1/schedules/${SCHEDULE}`, signal);
      if (!listing.running && samples.at(-1)!.runProcesses === 0) break;
      if (performance.now() > drainBy) throw new BenchError(`the last run did not finish within ${DRAIN_TIMEOUT_MS / 1000} s of the end`);
      await sleep(sampleMs, undefined, { signal });
    }
    for (let i = 0; i < END_IDLE_SAMPLES; i++) {
      await sleep(sampleMs, undefined, { signal });
      sample();
    }

    const listing = await getJson(url, `/api/v1/schedules/${SCHEDULE}`, signal);
    const metrics = await getText(url, '/metrics', signal);
    const runs = ((await getJson(url, '/api/v1/runs?limit=500', signal)).runs as RunSummary[]).filter((r) => r.schedule === SCHEDULE).reverse();
    await smoke.stop();
    report({ soakSeconds, listing, metrics, runs, samples, skips: skippedTicks(smokeLog) });
    keepDir = false;
  } finally {
    for (const stop of stops.reverse()) await stop();
    if (keepDir) print(`logs kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

interface RunSummary {
  readonly id: string;
  readonly schedule: string | null;
  readonly trigger: string;
  readonly status: string;
  readonly verdict: string | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

interface Report {
  readonly soakSeconds: number;
  readonly listing: any;
  readonly metrics: string;
  readonly runs: readonly RunSummary[];
  readonly samples: readonly Sample[];
  readonly skips: readonly { activeRuns: number }[];
}

function report({ soakSeconds, listing, metrics, runs, samples, skips }: Report): void {
  const started = listing.ticks.started as number;
  const skipped = listing.ticks.skipped as number;
  const missed = listing.ticks.missed as number;
  const metric = (result: string) => metrics.match(new RegExp(`^smoke_schedule_ticks_total\\{schedule="${SCHEDULE}",result="${result}"\\} (\\d+)`, 'm'))?.[1];
  print(`\nsoaked ${(soakSeconds / 60).toFixed(1)} min; load average at end: ${loadAverage()}`);
  print(
    `ticks: fired ${started + skipped + missed}, started ${started}, skipped ${skipped}, missed ${missed}` +
      ` (/metrics: started ${metric('started')}, skipped ${metric('skipped')}, missed ${metric('missed')})`,
  );
  const withCapacity = skips.filter((s) => s.activeRuns < CONCURRENCY).length;
  print(
    `skips while the verifier had a free slot (active runs < ${CONCURRENCY}): ${withCapacity} of ${skips.length}` +
      (withCapacity ? ' (the previous run was running, just longer than the cadence)' : ''),
  );

  const byOutcome = new Map<string, number>();
  for (const r of runs) byOutcome.set(r.verdict ?? r.status, (byOutcome.get(r.verdict ?? r.status) ?? 0) + 1);
  const durations = runs.filter((r) => r.startedAt && r.finishedAt).map((r) => Date.parse(r.finishedAt!) - Date.parse(r.startedAt!));
  const waits = runs.filter((r) => r.startedAt).map((r) => Date.parse(r.startedAt!) - Date.parse(r.createdAt));
  const overlaps = runs.slice(1).filter((r, i) => !runs[i]!.finishedAt || r.createdAt < runs[i]!.finishedAt!).length;
  print(`runs: ${runs.length} (${[...byOutcome].map(([k, v]) => `${k} ${v}`).join(', ')}); overlapping runs of the schedule: ${overlaps}`);
  if (durations.length) print(`run duration: min ${secs(Math.min(...durations))}, median ${secs(median(durations))}, max ${secs(Math.max(...durations))}; queue wait max ${secs(Math.max(...waits))}`);

  // Windows: stretches of samples with no run process (idle: the service, its warm browser and waiting runner) or with some.
  const windows = splitWindows(samples);
  const idle = windows.filter((w) => !w.busy);
  const busy = windows.filter((w) => w.busy);
  const peakService = Math.max(...samples.map((s) => s.serviceRss));
  const peakTree = Math.max(...samples.map((s) => s.treeRss));
  const peakPss = Math.max(...samples.map((s) => s.treePss));
  print(`\nmemory, ${samples.length} samples (RSS from /proc/<pid>/status; PSS from smaps_rollup counts shared pages once):`);
  if (idle.length >= 3 && busy.length >= 3) {
    // Warm-up excluded: the first idle stretch is before any run, and the first run loads everything once.
    const startIdle = idle[1]!;
    const endIdle = idle.at(-1)!;
    const startService = median(startIdle.samples.map((s) => s.serviceRss));
    const endService = median(endIdle.samples.map((s) => s.serviceRss));
    print(
      `service alone: before any run ${mb(median(idle[0]!.samples.map((s) => s.serviceRss)))}; start ${mb(startService)}, peak ${mb(peakService)},` +
        ` end ${mb(endService)}; growth end vs start ${pct(endService, startService)}`,
    );
    // A run's peak depends on which moment a sample catches, so compare halves, not single runs.
    const counted = busy.slice(1);
    const half = Math.max(1, Math.floor(counted.length / 2));
    const peaksOf = (pick: (s: Sample) => number) => counted.map((w) => Math.max(...w.samples.map(pick)));
    for (const [label, pick, peak] of [
      ['RSS', (s: Sample) => s.treeRss, peakTree],
      ['PSS', (s: Sample) => s.treePss, peakPss],
    ] as const) {
      const peaks = peaksOf(pick);
      const first = median(peaks.slice(0, half));
      const last = median(peaks.slice(-half));
      print(
        `service+browsers ${label}: start ${mb(first)} (median peak of runs 2-${half + 1}), peak ${mb(peak)},` +
          ` end ${mb(last)} (median peak of the last ${half} runs); growth end vs start ${pct(last, first)}`,
      );
      print(`  peak of each run after the first: ${peaks.map((p) => (p / 2 ** 20).toFixed(0)).join(' ')} MiB`);
    }
    print(`idle stretches after runs with no run process left (the warm browser and the waiting runner stay): ${idle.length - 1} for ${busy.length} runs (a runner, worker or browser outliving its run would merge them)`);
    print(
      'how: service alone is the median of the idle stretch after the 1st run (start) and after the last run (end);' +
        ' service+browsers is each run\'s highest sample, the first run excluded as warm-up',
    );
  } else {
    print(`too few runs to compare start and end (${busy.length} runs seen by the sampler); peak service ${mb(peakService)}, peak service+browsers ${mb(peakTree)}`);
  }
}

function splitWindows(samples: readonly Sample[]): { busy: boolean; samples: Sample[] }[] {
  const windows: { busy: boolean; samples: Sample[] }[] = [];
  for (const s of samples) {
    const busy = s.runProcesses > 0;
    if (windows.at(-1)?.busy !== busy) windows.push({ busy, samples: [] });
    windows.at(-1)!.samples.push(s);
  }
  return windows;
}

/** The skipped-tick lines of the service's log, with how many runs the verifier had going then. */
function skippedTicks(logFile: string): { activeRuns: number }[] {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((line) => line.includes('schedule tick skipped'))
    .map((line) => {
      try {
        return { activeRuns: Number((JSON.parse(line) as { activeRuns?: number }).activeRuns ?? NaN) };
      } catch {
        return { activeRuns: NaN };
      }
    });
}

function writeConfig(dir: string, port: number, production: string, canary: string): string {
  const q = JSON.stringify;
  const file = path.join(dir, 'smoke.config.yaml');
  writeFileSync(
    file,
    `# Written by bench/soak.ts for one soak.
service: shop
server:
  host: 127.0.0.1
  port: ${port}
suite:
  config: ${q(SUITE_DIR)}
  grep: "@critical"
  retries: 1
  workers: 2
runs:
  deadlineSeconds: 300
  concurrency: ${CONCURRENCY}
storage:
  database: ./data/smoke.db
  artifacts: ./data/artifacts
environments:
  production:
    baseURL: ${q(production)}
  canary:
    baseURL: ${q(canary)}
    baseline: production
schedules:
  - name: ${SCHEDULE}
    cron: "* * * * *"
    environments: [canary]
`,
  );
  return file;
}

function countFlows(): number {
  return readdirSync(SUITE_DIR)
    .filter((f) => f.endsWith('.spec.ts'))
    .reduce((n, f) => n + (readFileSync(path.join(SUITE_DIR, f), 'utf8').match(/tag: '@critical'/g)?.length ?? 0), 0);
}

async function waitUntilReady(url: string, proc: ManagedProcess, signal: AbortSignal): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (proc.child.exitCode !== null) throw new BenchError(`the service exited with ${proc.child.exitCode}; its log ends:\n${logTail(proc.logFile)}`);
    try {
      if ((await fetch(`${url}/readyz`, { signal })).ok) return;
    } catch {
      signal.throwIfAborted();
      // Not listening yet.
    }
    await sleep(250, undefined, { signal });
  }
  throw new BenchError(`the service was not ready within ${READY_TIMEOUT_MS / 1000} s; see ${proc.logFile}`);
}

async function getJson(url: string, route: string, signal: AbortSignal): Promise<any> {
  return JSON.parse(await getText(url, route, signal));
}

async function getText(url: string, route: string, signal: AbortSignal): Promise<string> {
  const response = await fetch(`${url}${route}`, { signal });
  if (!response.ok) throw new BenchError(`GET ${route} answered ${response.status}`);
  return response.text();
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const pct = (end: number, start: number) => `${end >= start ? '+' : ''}${(((end - start) / start) * 100).toFixed(1)} %`;
const loadAverage = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: unexpected failure: ${String(err)}\n`);
    process.exit(1);
  },
);
