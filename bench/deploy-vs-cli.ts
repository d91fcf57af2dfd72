/**
 * The figure the README cites: how long a deploy verdict takes from smoke,
 * against what a team's pipeline does today.
 *
 *   (A) service: POST /api/v1/deployments?wait=… until the verdict; canary and
 *       production run side by side in one Playwright runner invocation.
 *   (B) sequential CLI: `playwright test --grep @critical` once against the
 *       canary, then once against production, with the same retries and the
 *       same number of workers (browsers) per invocation.
 *
 * Both against healthy demo shops. One untimed warm-up of each, then A and B
 * interleaved per round so drift in machine load hits both alike. Prints
 * figures; asserts nothing about timing.
 *
 *   node --import tsx bench/deploy-vs-cli.ts [--rounds 3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readDeployment } from '../demo/demo-print.ts';
import { notifyDeploy, startStack, SUITE, type Stack } from '../demo/demo-stack.ts';
import { loadAverage, median, printMachine, secs } from './machine.ts';
import { timePlaywrightCli } from './playwright-cli.ts';

const USAGE = `usage: node --import tsx bench/deploy-vs-cli.ts [--rounds N]

  --rounds N   timed rounds of (service, sequential CLI) after one warm-up (default 3)
`;
const MAX_ROUNDS = 50;

class BenchError extends Error {
  override name = 'BenchError';
}

interface Round {
  readonly serviceMs: number;
  /** The part of `serviceMs` the service spent verifying (reachability, runner, judging), by its own clock. */
  readonly verifyMs: number | undefined;
  readonly cliMs: number;
}

const print = (text = '') => process.stdout.write(`${text}\n`);

async function main(argv: string[]): Promise<number> {
  let rounds: number;
  try {
    const { values } = parseArgs({ args: argv, options: { rounds: { type: 'string', default: '3' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      print(USAGE);
      return 0;
    }
    rounds = Number(values.rounds);
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > MAX_ROUNDS) throw new BenchError(`--rounds must be a whole number from 1 to ${MAX_ROUNDS}`);
  } catch (err) {
    process.stderr.write(`deploy-vs-cli: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }

  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => interrupt.abort(signal);
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    await bench(rounds, interrupt.signal);
    return 0;
  } catch (err) {
    if (interrupt.signal.aborted) {
      print(`\ninterrupted (${String(interrupt.signal.reason)}): everything the benchmark started is stopped`);
      return 130;
    }
    process.stderr.write(`deploy-vs-cli failed: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

async function bench(rounds: number, signal: AbortSignal): Promise<void> {
  printMachine(print);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-bench-'));
  let keepDir = true;
  const stack = await startStack(dir, signal);
  try {
    print(`shops: production ${stack.production.url}, canary ${stack.canary.url}; smoke ${stack.smokeUrl}`);
    print(`suite: grep ${SUITE.grep}, retries ${SUITE.retries}, workers ${SUITE.workers}\n`);

    await timeService(stack, 'warmup', signal);
    await timeCli(stack, dir, 'warmup', signal);
    print('warm-up done (untimed)');

    const results: Round[] = [];
    for (let i = 1; i <= rounds; i++) {
      const { serviceMs, verifyMs } = await timeService(stack, `r${i}`, signal);
      const cliMs = await timeCli(stack, dir, `r${i}`, signal);
      results.push({ serviceMs, verifyMs, cliMs });
      const verify = verifyMs === undefined ? '' : ` (verifying ${secs(verifyMs)})`;
      print(`round ${i}/${rounds}: service ${secs(serviceMs)}${verify}, sequential CLI ${secs(cliMs)}, B/A ${(cliMs / serviceMs).toFixed(2)}x`);
    }
    printSummary(results);
    keepDir = false;
  } finally {
    await stack.stop();
    if (keepDir) print(`logs kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** (A) A deploy notice to smoke, timed until its verdict arrives; only a `pass` is a valid measurement. */
async function timeService(stack: Stack, label: string, signal: AbortSignal): Promise<{ serviceMs: number; verifyMs: number | undefined }> {
  const version = `bench-${label}-${Date.now()}`;
  const start = performance.now();
  const answer = await notifyDeploy(stack.smokeUrl, { environment: 'canary', version, service: 'shop' }, signal);
  const elapsed = performance.now() - start;
  const deployment = readDeployment(answer);
  if (deployment.verdict !== 'pass') {
    throw new BenchError(`the service judged healthy shops ${deployment.verdict ?? 'without a verdict'}, so its time means nothing: ${deployment.reasons.join('; ')}`);
  }
  const verifyMs =
    deployment.startedAt && deployment.finishedAt ? Date.parse(deployment.finishedAt) - Date.parse(deployment.startedAt) : undefined;
  return { serviceMs: elapsed, verifyMs };
}

/** (B) The critical flows through the Playwright CLI, canary then production, as a pipeline runs them. */
async function timeCli(stack: Stack, dir: string, label: string, signal: AbortSignal): Promise<number> {
  let total = 0;
  for (const shop of [stack.canary, stack.production]) {
    const outputDir = path.join(dir, `cli-${label}-${shop.name}`);
    total += await timePlaywrightCli({ baseURL: shop.url, grep: SUITE.grep, retries: SUITE.retries, workers: SUITE.workers, outputDir, expect: 'pass' }, signal);
  }
  return total;
}

function printSummary(results: readonly Round[]): void {
  const service = median(results.map((r) => r.serviceMs))!;
  const cli = median(results.map((r) => r.cliMs))!;
  const ratio = cli / service;
  print(`\nmedian of ${results.length} round${results.length === 1 ? '' : 's'}:`);
  const verdict = ratio >= 1 ? 'faster' : '(the service was slower)';
  print(`service: ${secs(service)}, sequential CLI: ${secs(cli)}, ratio ${ratio.toFixed(2)}x ${verdict}`);
  print(`load average at end: ${loadAverage()}`);
  print(`(A) spends its ${SUITE.workers} workers on both environments at once and includes reachability checks and storing results;`);
  print(`(B) gives each environment the same ${SUITE.workers} workers, one environment after the other. Neither records a trace unless a flow is retried.`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`deploy-vs-cli: unexpected failure: ${String(err)}\n`);
    process.exit(1);
  },
);
