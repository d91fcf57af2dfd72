/**
 * How close smoke's time to a verdict comes to what running the flows costs
 * at all, and how soon a broken canary is rolled back (issue 9).
 *
 *   1. Warm-browser floor: the demo's critical flows on the bare library in a
 *      browser launched once (bench/floor-flows.ts), canary and production at
 *      once; smoke's POST-to-verdict time on a good deploy as a multiple of it,
 *      per `runs.baseline` mode and `runs.warmBrowser` on/off, and against the
 *      sequential `playwright test` pipeline (canary, then production).
 *   2. Fixed-cost breakdown: the median of each phase in the timed runs' JSON.
 *   3. Time to rollback: a canary whose UI checkout is broken, in a suite where
 *      other flows fail on production too (bench/rollback-suite/); POST to the
 *      signed rollback webhook arriving, `runs.failFast` on and off, against a
 *      plain `playwright test` of just the regressed flows on the canary.
 *   4. Browser attempts per verdict, good and broken deploy, per baseline mode.
 *
 * One untimed warm-up of every contender, then rounds that run each once, the
 * order rotating per round, so drift in machine load hits all alike; medians
 * of rounds. Everything it starts (two demo shops, one smoke process per
 * config variant, webhook receivers, a browser, CLI runs) listens on
 * 127.0.0.1 and is stopped at the end or on Ctrl-C. Prints figures; asserts
 * nothing about timing.
 *
 *   node --import tsx bench/time-to-verdict.ts [--rounds 3] [--rollback-rounds 2]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser } from 'playwright-core';
import { newWebhookSecret } from '../demo/demo-config.ts';
import { readDeployment, type DeploymentView } from '../demo/demo-print.ts';
import { notifyDeploy, poll, REPO, startShop, SUITE, type Shop } from '../demo/demo-stack.ts';
import { startReceiver, type Receiver } from '../server/testing/webhook-receiver.ts';
import { FLOOR_FLOW_COUNT, launchFloorBrowser, runFloor } from './floor-flows.ts';
import { timePlaywrightCli } from './playwright-cli.ts';
import { printFigures, type VerdictSample, type RollbackSample, type Results, type Variant } from './verdict-report.ts';
import { readRunFigures } from './run-figures.ts';
import { startSmoke, type SmokeInstance } from './smoke-instance.ts';
import { loadAverage, printMachine, secs } from './machine.ts';

const USAGE = `usage: node --import tsx bench/time-to-verdict.ts [--rounds N] [--rollback-rounds M]

  --rounds N            timed rounds of the good-deploy contenders after one warm-up (default 3)
  --rollback-rounds M   timed rounds of the broken-canary contenders (default 2)
`;
const MAX_ROUNDS = 50;
const ROLLBACK_SUITE = path.join(REPO, 'bench/rollback-suite/playwright.config.ts');
/** The rollback suite's flows that the `broken-button` canary regresses. */
const REGRESSED_GREP = '@checkout-ui';
/** How long a rollback signal may take to arrive after its verdict, and a run to end after it, ms. */
const SIGNAL_TIMEOUT_MS = 60_000;
const RUN_END_TIMEOUT_MS = 300_000;

class BenchError extends Error {
  override name = 'BenchError';
}

const print = (text = '') => process.stdout.write(`${text}\n`);

/** The defaults first; then each saving taken away on its own; then all of them (smoke before issue 9). */
const VARIANTS: readonly Variant[] = Object.freeze([
  { label: 'defaults', title: 'on-failure, warm browser, warm runner (defaults)', runs: { baseline: 'on-failure', warmBrowser: true, warmRunner: true } },
  { label: 'always', title: 'baseline always, warm browser, warm runner', runs: { baseline: 'always', warmBrowser: true, warmRunner: true } },
  { label: 'cold-browser', title: 'on-failure, browser per worker, warm runner', runs: { baseline: 'on-failure', warmBrowser: false, warmRunner: true } },
  { label: 'cold-runner', title: 'on-failure, warm browser, runner per run', runs: { baseline: 'on-failure', warmBrowser: true, warmRunner: false } },
  { label: 'before', title: 'always, browser per worker, runner per run', runs: { baseline: 'always', warmBrowser: false, warmRunner: false } },
]);
const FAIL_FAST: readonly Variant[] = Object.freeze([
  { label: 'fail-fast', title: 'failFast true', runs: { failFast: true, baseline: 'on-failure', warmBrowser: true, warmRunner: true } },
  { label: 'run-on', title: 'failFast false', runs: { failFast: false, baseline: 'on-failure', warmBrowser: true, warmRunner: true } },
]);

async function main(argv: string[]): Promise<number> {
  let rounds: number;
  let rollbackRounds: number;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { rounds: { type: 'string', default: '3' }, 'rollback-rounds': { type: 'string', default: '2' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      print(USAGE);
      return 0;
    }
    rounds = wholeNumber('--rounds', values.rounds);
    rollbackRounds = wholeNumber('--rollback-rounds', values['rollback-rounds']);
  } catch (err) {
    process.stderr.write(`time-to-verdict: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }

  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => interrupt.abort(signal);
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    await bench(rounds, rollbackRounds, interrupt.signal);
    return 0;
  } catch (err) {
    if (interrupt.signal.aborted) {
      print(`\ninterrupted (${String(interrupt.signal.reason)}): everything the benchmark started is stopped`);
      return 130;
    }
    process.stderr.write(`time-to-verdict failed: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

function wholeNumber(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_ROUNDS) throw new BenchError(`${flag} must be a whole number from 1 to ${MAX_ROUNDS}, not "${value}"`);
  return n;
}

async function bench(rounds: number, rollbackRounds: number, signal: AbortSignal): Promise<void> {
  const began = performance.now();
  printMachine(print);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-bench-verdict-'));
  let keepDir = true;
  // Stopped in reverse at the end, whatever happened; stopping twice is harmless.
  const started: (() => Promise<void>)[] = [];
  try {
    const production = await startShop('production', dir, 'none', signal);
    started.push(production.process.stop);
    const canary = await startShop('canary', dir, 'none', signal);
    started.push(canary.process.stop);
    const shops = { production, canary };
    print(`shops: production ${production.url}, canary ${canary.url}; logs in ${dir}`);
    print(`suite: demo ${SUITE.grep} (${FLOOR_FLOW_COUNT} flows), retries ${SUITE.retries}, workers ${SUITE.workers}\n`);

    const smokes: SmokeInstance[] = [];
    for (const variant of VARIANTS) {
      const smoke = await startSmoke(dir, variant, shops, signal);
      started.push(smoke.process.stop);
      smokes.push(smoke);
    }
    const browser = await launchFloorBrowser();
    started.push(() => browser.close());

    const good = await goodDeployRounds(rounds, smokes, browser, shops, dir, signal);
    print(`load average after the good-deploy rounds: ${loadAverage()}`);

    // Broken deploy of the demo suite, for the attempts figure: one run per baseline mode.
    await canary.deploy('bench-broken', 'broken-button', signal);
    const broken = new Map<string, VerdictSample>();
    for (const smoke of smokes.filter((s) => s.variant.runs?.warmBrowser)) {
      broken.set(smoke.variant.label, await timeVerdict(smoke, 'broken', 'fail', signal));
    }
    for (const smoke of smokes) await smoke.process.stop();
    await browser.close();

    const rollback = await rollbackMeasurements(rollbackRounds, shops, dir, started, signal);
    await canary.deploy('bench-good', 'none', signal);

    const results: Results = { rounds, rollbackRounds, variants: VARIANTS, failFast: FAIL_FAST, ...good, broken, rollback };
    printFigures(print, results);
    print(`\nload average at end: ${loadAverage()}; the benchmark took ${secs(performance.now() - began)}`);
    keepDir = false;
  } finally {
    for (const stop of [...started].reverse()) await stop().catch(() => undefined);
    if (keepDir) print(`logs kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

interface Contender {
  readonly label: string;
  run(round: string): Promise<void>;
}

/** Section 1's rounds: the floor, each smoke variant and the sequential CLI, each once per round. */
async function goodDeployRounds(
  rounds: number,
  smokes: readonly SmokeInstance[],
  browser: Browser,
  shops: { production: Shop; canary: Shop },
  dir: string,
  signal: AbortSignal,
): Promise<Pick<Results, 'floorMs' | 'cliMs' | 'good'>> {
  const floorMs: number[] = [];
  const cliMs: number[] = [];
  const good = new Map<string, VerdictSample[]>(smokes.map((s) => [s.variant.label, []]));
  let timed = false;
  const targets = [
    { name: 'canary', baseURL: shops.canary.url },
    { name: 'production', baseURL: shops.production.url },
  ];
  const contenders: Contender[] = [
    {
      label: 'floor',
      async run() {
        const ms = await runFloor(browser, targets, SUITE.workers, signal);
        if (timed) floorMs.push(ms);
      },
    },
    ...smokes.map((smoke) => ({
      label: smoke.variant.label,
      async run(round: string) {
        const sample = await timeVerdict(smoke, round, 'pass', signal);
        if (timed) good.get(smoke.variant.label)!.push(sample);
      },
    })),
    {
      label: 'sequential-cli',
      async run(round: string) {
        let ms = 0;
        for (const shop of [shops.canary, shops.production]) {
          const outputDir = path.join(dir, `cli-${round}-${shop.name}`);
          ms += await timePlaywrightCli({ baseURL: shop.url, grep: SUITE.grep, retries: SUITE.retries, workers: SUITE.workers, outputDir, expect: 'pass' }, signal);
        }
        if (timed) cliMs.push(ms);
      },
    },
  ];

  for (const contender of contenders) await contender.run('warmup');
  print('warm-up done (untimed)');
  timed = true;
  for (let i = 0; i < rounds; i++) {
    // Rotated, so no contender always runs right after the same other one.
    const order = contenders.map((_, k) => contenders[(k + i) % contenders.length]!);
    for (const contender of order) await contender.run(`r${i + 1}`);
    const parts = [`floor ${secs(floorMs[i]!)}`, ...smokes.map((s) => `${s.variant.label} ${secs(good.get(s.variant.label)![i]!.ms)}`), `CLI ${secs(cliMs[i]!)}`];
    print(`round ${i + 1}/${rounds}: ${parts.join(', ')}`);
  }
  return { floorMs, cliMs, good };
}

/** A deploy notice to one smoke, timed until its verdict arrives; any other verdict than `expected` makes the time meaningless. */
async function timeVerdict(smoke: SmokeInstance, round: string, expected: 'pass' | 'fail', signal: AbortSignal): Promise<VerdictSample> {
  const version = `bench-${round}-${Date.now()}`;
  const start = performance.now();
  const deployment = readDeployment(await notifyDeploy(smoke.url, { environment: 'canary', version, service: 'shop' }, signal));
  const ms = performance.now() - start;
  checkVerdict(smoke, deployment, expected);
  // A `fail` can come before the run ends (failFast); its attempts are counted at the end.
  const run = await endedRun(deployment, signal);
  return { ms, figures: readRunFigures(run) };
}

/** The deployment's run as `GET /api/v1/runs/:id` answers it once it has ended (`finishedAt` set). */
async function endedRun(deployment: DeploymentView, signal: AbortSignal): Promise<{ finishedAt: string }> {
  const runLink = deployment.run?.link;
  if (!runLink) throw new BenchError(`smoke's answer for ${deployment.id} links no run`);
  const run = await poll(RUN_END_TIMEOUT_MS, signal, async () => {
    const body = (await (await fetch(runLink, { signal })).json()) as { finishedAt?: unknown };
    return typeof body.finishedAt === 'string' ? { ...body, finishedAt: body.finishedAt } : undefined;
  });
  if (!run) throw new BenchError(`run ${runLink} had not ended ${RUN_END_TIMEOUT_MS / 1000} s after its verdict`);
  return run;
}

function checkVerdict(smoke: SmokeInstance, deployment: DeploymentView, expected: 'pass' | 'fail'): void {
  if (deployment.verdict === expected) return;
  const why = deployment.reasons.join('; ') || 'no reasons';
  throw new BenchError(`smoke (${smoke.variant.label}) judged ${deployment.version} ${deployment.verdict ?? 'without a verdict'}, not ${expected}, so its time means nothing: ${why}`);
}

/** Section 3's rounds: the broken canary through each failFast variant, and the regressed flows through the CLI. */
async function rollbackMeasurements(
  rounds: number,
  shops: { production: Shop; canary: Shop },
  dir: string,
  started: (() => Promise<void>)[],
  signal: AbortSignal,
): Promise<Results['rollback']> {
  const smokes: { smoke: SmokeInstance; receiver: Receiver }[] = [];
  for (const variant of FAIL_FAST) {
    const secret = newWebhookSecret();
    const receiver = await startReceiver(secret);
    started.push(() => receiver.close());
    const webhook = { name: `bench-${variant.label}`, url: receiver.url, secret };
    const smoke = await startSmoke(dir, { ...variant, suite: { config: ROLLBACK_SUITE }, webhook }, shops, signal);
    started.push(smoke.process.stop);
    smokes.push({ smoke, receiver });
  }
  await shops.canary.deploy('bench-regressed', 'broken-button', signal);
  print(`\nrollback suite: ${path.relative(REPO, ROLLBACK_SUITE)}, canary with its Checkout button broken (${rounds} round${rounds === 1 ? '' : 's'}, no warm-up)`);

  const samples = new Map<string, RollbackSample[]>(FAIL_FAST.map((v) => [v.label, []]));
  const cliMs: number[] = [];
  const contenders: Contender[] = [
    ...smokes.map(({ smoke, receiver }) => ({
      label: smoke.variant.label,
      async run(round: string) {
        samples.get(smoke.variant.label)!.push(await timeRollback(smoke, receiver, round, signal));
      },
    })),
    {
      label: 'regressed-cli',
      async run(round: string) {
        const outputDir = path.join(dir, `cli-regressed-${round}`);
        const run = { config: ROLLBACK_SUITE, baseURL: shops.canary.url, grep: REGRESSED_GREP, retries: SUITE.retries, workers: SUITE.workers };
        cliMs.push(await timePlaywrightCli({ ...run, outputDir, expect: 'fail' }, signal));
      },
    },
  ];
  for (let i = 0; i < rounds; i++) {
    const order = contenders.map((_, k) => contenders[(k + i) % contenders.length]!);
    for (const contender of order) await contender.run(`rollback-r${i + 1}`);
    const parts = FAIL_FAST.map((v) => {
      const s = samples.get(v.label)![i]!;
      return `${v.label} signal ${secs(s.signalMs)} (run ended ${s.runEndMs === undefined ? 'n/a' : secs(s.runEndMs)})`;
    });
    print(`round ${i + 1}/${rounds}: ${parts.join(', ')}, regressed flows via CLI ${secs(cliMs[i]!)}`);
  }
  for (const { smoke } of smokes) await smoke.process.stop();
  return { samples, cliMs };
}

/**
 * A deploy notice for the broken canary: from the POST to its verdict, to its
 * signed rollback webhook arriving at the receiver, and to the run's end
 * (after which the next measurement may start).
 */
async function timeRollback(smoke: SmokeInstance, receiver: Receiver, round: string, signal: AbortSignal): Promise<RollbackSample> {
  const version = `bench-${round}-${Date.now()}`;
  // The receiver stamps arrivals with the wall clock; the same clock starts the count.
  const startWall = Date.now();
  const start = performance.now();
  const deployment = readDeployment(await notifyDeploy(smoke.url, { environment: 'canary', version, service: 'shop' }, signal));
  const verdictMs = performance.now() - start;
  checkVerdict(smoke, deployment, 'fail');

  const arrived = await poll(SIGNAL_TIMEOUT_MS, signal, () => receiver.received.find((r) => signalDeployment(r.body) === deployment.id));
  if (!arrived) throw new BenchError(`no rollback signal for ${deployment.id} reached the receiver within ${SIGNAL_TIMEOUT_MS / 1000} s of its verdict`);
  if (!arrived.verification.ok) throw new BenchError(`the rollback signal for ${deployment.id} failed verification: ${arrived.verification.reason}`);

  const run = await endedRun(deployment, signal);
  const finishedAt = Date.parse(run.finishedAt);
  return {
    verdictMs,
    signalMs: arrived.at - startWall,
    runEndMs: Number.isFinite(finishedAt) ? finishedAt - startWall : undefined,
    figures: readRunFigures(run),
  };
}

function signalDeployment(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { type?: unknown; data?: { deploymentId?: unknown } };
    return parsed.type === 'deployment.rollback_requested' && typeof parsed.data?.deploymentId === 'string' ? parsed.data.deploymentId : undefined;
  } catch {
    return undefined;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`time-to-verdict: unexpected failure: ${String(err)}\n`);
    process.exit(1);
  },
);
