/**
 * The end-to-end demo (`npm run demo`): two demo shops, the smoke service as
 * its own process, and a few "deploys" to the canary, each judged against
 * production. Doubles as a sanity check: exits 0 only when every deploy got
 * the verdict it should.
 *
 *   node --import tsx demo/run-demo.ts [--all] [--keep]
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { VerdictKind } from '../server/verdict/types.ts';
import { colours, formatDeployment, heading, readDeployment, seconds, verdictColour, type Colours } from './demo-print.ts';
import { notifyDeploy, startStack, type Stack } from './demo-stack.ts';
import type { Fault } from './shop.ts';

const USAGE = `usage: node --import tsx demo/run-demo.ts [--all] [--keep]

  --all    also deploy a flaky version and one with a broken Checkout button
  --keep   leave the service and the shops running afterwards (Ctrl-C stops them)
`;

interface Scenario {
  readonly version: string;
  readonly fault: Fault;
  readonly story: string;
  readonly expected: VerdictKind;
  /** Only with `--all`. */
  readonly extra: boolean;
}

const SCENARIOS: readonly Scenario[] = [
  { version: '1.1.0', fault: 'none', story: 'a good version', expected: 'pass', extra: false },
  { version: '1.2.0', fault: 'checkout-500', story: 'a broken version: the checkout API answers 500', expected: 'fail', extra: false },
  { version: '1.3.0', fault: 'flaky-products', story: 'a flaky version: the products API fails every other request', expected: 'pass', extra: true },
  { version: '1.4.0', fault: 'broken-button', story: 'a broken Checkout button: only the UI flow notices', expected: 'fail', extra: true },
];

interface Played {
  readonly scenario: Scenario;
  readonly verdict: VerdictKind | null;
}

const print = (text = '') => process.stdout.write(`${text}\n`);

async function main(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseArgs({ args: argv, options: { all: { type: 'boolean' }, keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (err) {
    process.stderr.write(`run-demo: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    print(USAGE);
    return 0;
  }

  const c = colours(Boolean(process.stdout.isTTY) && !process.env.NO_COLOR);
  const interrupt = new AbortController();
  // npm forwards Ctrl-C a second time; the first one starts the shutdown, the rest are ignored.
  const onSignal = (signal: NodeJS.Signals) => interrupt.abort(signal);
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    return await runDemo(c, { all: Boolean(options.all), keep: Boolean(options.keep) }, interrupt.signal);
  } catch (err) {
    if (interrupt.signal.aborted) {
      print(c.yellow(`\ninterrupted (${String(interrupt.signal.reason)}): everything the demo started is stopped`));
      return 130;
    }
    process.stderr.write(`${c.red('demo failed:')} ${(err as Error).message ?? String(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

async function runDemo(c: Colours, options: { all: boolean; keep: boolean }, signal: AbortSignal): Promise<number> {
  const started = performance.now();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-demo-'));
  print(heading(c, 'starting two demo shops and the smoke service'));
  const stack = await startStack(dir, signal);
  try {
    printStack(c, stack);
    const scenarios = SCENARIOS.filter((s) => options.all || !s.extra);
    const played: Played[] = [];
    for (const [i, scenario] of scenarios.entries()) {
      print(heading(c, `${i + 1}/${scenarios.length} deploy ${scenario.version} to the canary: ${scenario.story}`));
      played.push(await play(c, stack, scenario, signal));
    }
    const ok = played.every((p) => p.verdict === p.scenario.expected);
    print(`\n${summary(c, played, performance.now() - started)}`);
    print(c.dim(`logs, database and artifacts of this demo: ${dir}`));
    if (options.keep) await keepRunning(c, stack, scenarios.at(-1), signal);
    return ok ? 0 : 1;
  } finally {
    await stack.stop();
  }
}

function printStack(c: Colours, stack: Stack): void {
  print(`  production shop  ${stack.production.url}  ${c.dim('(1.0.0, healthy)')}`);
  print(`  canary shop      ${stack.canary.url}`);
  print(`  smoke service    ${stack.smokeUrl}  ${c.dim('ready')}`);
  print(`  smoke log        ${stack.smokeLog}`);
}

/** Deploys the scenario's version to the canary shop, tells smoke, prints the verdict. */
async function play(c: Colours, stack: Stack, scenario: Scenario, signal: AbortSignal): Promise<Played> {
  await stack.canary.deploy(scenario.version, scenario.fault, signal);
  print(c.dim(`  canary shop now runs ${scenario.version} (fault: ${scenario.fault}); POST /api/v1/deployments?wait=… to smoke`));
  const sent = performance.now();
  const answer = await notifyDeploy(stack.smokeUrl, { environment: 'canary', version: scenario.version, service: 'shop' }, signal);
  const deployment = readDeployment(answer);
  print(formatDeployment(c, deployment, performance.now() - sent));
  return { scenario, verdict: deployment.verdict };
}

/** One line a CI log or a person can read: did every deploy get the verdict it should? */
function summary(c: Colours, played: readonly Played[], elapsedMs: number): string {
  const ok = played.every((p) => p.verdict === p.scenario.expected);
  const parts = played.map(({ scenario, verdict }) => {
    const got = verdictColour(c, verdict)(verdict ?? 'no verdict');
    return verdict === scenario.expected ? `${scenario.version} ${got}` : `${scenario.version} ${got} (expected ${scenario.expected})`;
  });
  const matched = played.filter((p) => p.verdict === p.scenario.expected).length;
  const label = ok ? c.bold(c.green('demo OK')) : c.bold(c.red('demo FAILED'));
  return `${label}: ${parts.join(', ')}; ${matched} of ${played.length} verdicts as expected in ${seconds(elapsedMs)}`;
}

async function keepRunning(c: Colours, stack: Stack, last: Scenario | undefined, signal: AbortSignal): Promise<void> {
  print(heading(c, 'still running (--keep); Ctrl-C stops everything'));
  printStack(c, stack);
  if (last) print(`  the canary runs ${last.version} (fault: ${last.fault}); to try another deploy:`);
  const json = `-H 'content-type: application/json'`;
  print(c.dim(`    curl -s -XPOST ${json} ${stack.canary.url}/__demo/deploy -d '{"version":"2.0.0","fault":"none"}'`));
  print(c.dim(`    curl -s -XPOST ${json} '${stack.smokeUrl}/api/v1/deployments?wait=300' -d '{"environment":"canary","version":"2.0.0"}'`));
  if (signal.aborted) return;
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  print(c.dim('\nstopping…'));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`run-demo: unexpected failure: ${String(err)}\n`);
    process.exit(1);
  },
);
