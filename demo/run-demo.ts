/**
 * The end-to-end demo (`npm run demo`): two demo shops, the smoke service as
 * its own process, and a few "deploys" to the canary, each judged against
 * production; a webhook receiver standing in for the deployer that gets the
 * rollback request; a schedule watching production; and the metrics Grafana
 * graphs. Doubles as a sanity check: exits 0 only when every deploy got the
 * verdict it should, every fail (and nothing else) sent exactly one signed
 * rollback webhook, and the schedule ran and passed.
 *
 *   node --import tsx demo/run-demo.ts [--all] [--keep]
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { VerdictKind } from '../server/verdict/types.ts';
import type { DemoSchedule } from './demo-config.ts';
import { fetchMetricsExcerpt, formatMetrics, formatSchedule, waitForScheduledRun, SCHEDULE_WAIT_MS } from './demo-monitoring.ts';
import { colours, formatDeployment, heading, readDeployment, seconds, verdictColour, type Colours } from './demo-print.ts';
import { auditRollbacks, checkRollback, formatRollback, type RollbackCheck } from './demo-rollback.ts';
import { notifyDeploy, startStack, type RollbackReceiver, type Stack } from './demo-stack.ts';
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

/** The demo's stand-in for the deployer that rolls a failed canary back. */
const ROLLBACK_RECEIVER = 'demo-deployer';

/** Synthetic monitoring of production, often enough to tick a few times during the demo. */
const SCHEDULE: DemoSchedule = { name: 'production-watch', cron: '*/15 * * * * *', environments: ['production'] };

interface Played {
  readonly scenario: Scenario;
  readonly deploymentId: string;
  readonly verdict: VerdictKind | null;
  readonly rollback: RollbackCheck;
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
  // One run at a time: a canary run already drives two browsers per environment, and a scheduled
  // run beside it competes for the same CPUs, slowing both and tightening the flows' timeouts on
  // a small machine. Scheduled runs queue behind deploys instead, as in a busy service.
  const stack = await startStack(dir, signal, { rollbackReceiver: ROLLBACK_RECEIVER, schedules: [SCHEDULE], runConcurrency: 1 });
  try {
    const receiver = stack.rollback;
    if (!receiver) throw new Error('the demo stack started no webhook receiver');
    printStack(c, stack);
    const scenarios = SCENARIOS.filter((s) => options.all || !s.extra);
    const played: Played[] = [];
    for (const [i, scenario] of scenarios.entries()) {
      print(heading(c, `${i + 1}/${scenarios.length} deploy ${scenario.version} to the canary: ${scenario.story}`));
      played.push(await play(c, stack, receiver, scenario, signal));
    }

    print(heading(c, `synthetic monitoring: GET /api/v1/schedules ${c.dim(`(waits for a scheduled run, at most ${SCHEDULE_WAIT_MS / 1000} s)`)}`));
    const scheduled = await showSchedule(c, stack, signal);

    print(heading(c, 'metrics: GET /metrics (excerpt: what Grafana graphs)'));
    const excerpt = await fetchMetricsExcerpt(stack.smokeUrl, signal);
    print(formatMetrics(c, excerpt));

    const problems = [
      ...played.flatMap((p) => (p.verdict === p.scenario.expected ? [] : [`${p.scenario.version}: ${p.verdict ?? 'no verdict'}, expected ${p.scenario.expected}`])),
      ...rollbackProblems(receiver, played),
      ...(scheduled === 'pass' ? [] : [`${SCHEDULE.name}: ${scheduled ?? 'no scheduled run finished'}, expected pass`]),
      ...excerpt.missing.map((family) => `/metrics has no ${family} series`),
    ];
    print(`\n${summary(c, played, scheduled, problems, performance.now() - started)}`);
    print(c.dim(`logs, database and artifacts of this demo: ${dir}`));
    if (options.keep) await keepRunning(c, stack, scenarios.at(-1), signal);
    return problems.length === 0 ? 0 : 1;
  } finally {
    await stack.stop();
  }
}

function printStack(c: Colours, stack: Stack): void {
  print(`  production shop  ${stack.production.url}  ${c.dim('(1.0.0, healthy)')}`);
  print(`  canary shop      ${stack.canary.url}`);
  print(`  smoke service    ${stack.smokeUrl}  ${c.dim('ready')}`);
  print(`  smoke log        ${stack.smokeLog}`);
  if (stack.rollback) print(`  rollback webhook ${stack.rollback.receiver.url}  ${c.dim(`(${stack.rollback.name}: verifies Standard Webhooks signatures, whsec_ secret)`)}`);
  for (const s of stack.schedules) print(`  schedule         ${s.name}: ${s.cron} → ${s.environments.join(', ')}  ${c.dim('(6 fields: seconds first)')}`);
}

/** Deploys the scenario's version to the canary shop, tells smoke, prints the verdict. */
async function play(c: Colours, stack: Stack, receiver: RollbackReceiver, scenario: Scenario, signal: AbortSignal): Promise<Played> {
  await stack.canary.deploy(scenario.version, scenario.fault, signal);
  print(c.dim(`  canary shop now runs ${scenario.version} (fault: ${scenario.fault}); POST /api/v1/deployments?wait=… to smoke`));
  const sent = performance.now();
  const sentAt = Date.now();
  const answer = await notifyDeploy(stack.smokeUrl, { environment: 'canary', version: scenario.version, service: 'shop' }, signal);
  const deployment = readDeployment(answer);
  print(formatDeployment(c, deployment, performance.now() - sent, sentAt));
  const rollback = await checkRollback(receiver, deployment, deployment.verdict === 'fail', signal);
  print(`\n${formatRollback(c, rollback)}`);
  return { scenario, deploymentId: deployment.id, verdict: deployment.verdict, rollback };
}

/**
 * What each deploy's check found, and the receiver's whole log judged again
 * at the end: a duplicate delivery may come after the first check.
 */
function rollbackProblems(receiver: RollbackReceiver, played: readonly Played[]): string[] {
  const atVerdict = played.flatMap((p) => (p.rollback.ok ? [] : [`${p.scenario.version}: ${p.rollback.problem}`]));
  const deploys = played.map((p) => ({ id: p.deploymentId, version: p.scenario.version, expectRollback: p.verdict === 'fail' }));
  // The same problem seen at the verdict and at the end is reported once.
  return [...new Set([...atVerdict, ...auditRollbacks(receiver, deploys)])];
}

/** Prints the schedule as the API shows it; returns the verdict of its last scheduled run. */
async function showSchedule(c: Colours, stack: Stack, signal: AbortSignal): Promise<VerdictKind | null | undefined> {
  const { schedule, run } = await waitForScheduledRun(stack.smokeUrl, SCHEDULE.name, signal);
  if (!schedule) {
    print(c.red(`  ✗ GET /api/v1/schedules does not list ${SCHEDULE.name}`));
    return undefined;
  }
  print(formatSchedule(c, schedule, run));
  return schedule.lastRun?.trigger === 'schedule' ? schedule.lastRun.verdict : undefined;
}

/** A line a CI log or a person can read (did every deploy get the verdict it should?), then each problem. */
function summary(c: Colours, played: readonly Played[], scheduled: VerdictKind | null | undefined, problems: readonly string[], elapsedMs: number): string {
  const parts = played.map(({ scenario, verdict, rollback }) => {
    const got = verdictColour(c, verdict)(verdict ?? 'no verdict');
    const signalled = rollback.ok && rollback.kind === 'sent' ? ' + rollback' : '';
    return verdict === scenario.expected ? `${scenario.version} ${got}${signalled}` : `${scenario.version} ${got} (expected ${scenario.expected})`;
  });
  const watch = `${SCHEDULE.name} ${verdictColour(c, scheduled ?? null)(scheduled ?? 'no run')}`;
  const matched = played.filter((p) => p.verdict === p.scenario.expected).length;
  const label = problems.length === 0 ? c.bold(c.green('demo OK')) : c.bold(c.red('demo FAILED'));
  const line = `${label}: ${parts.join(', ')}; ${watch}; ${matched} of ${played.length} verdicts as expected in ${seconds(elapsedMs)}`;
  return [line, ...problems.map((p) => c.red(`  ✗ ${p}`))].join('\n');
}

async function keepRunning(c: Colours, stack: Stack, last: Scenario | undefined, signal: AbortSignal): Promise<void> {
  print(heading(c, 'still running (--keep); Ctrl-C stops everything'));
  printStack(c, stack);
  print(`  the pages (deployments, schedules, traces): ${stack.smokeUrl}/`);
  if (last) print(`  the canary runs ${last.version} (fault: ${last.fault}); to try another deploy:`);
  const json = `-H 'content-type: application/json'`;
  print(c.dim(`    curl -s -XPOST ${json} ${stack.canary.url}/__demo/deploy -d '{"version":"2.0.0","fault":"none"}'`));
  print(c.dim(`    curl -s -XPOST ${json} '${stack.smokeUrl}/api/v1/deployments?wait=300' -d '{"environment":"canary","version":"2.0.0"}'`));
  print(`  the schedule keeps watching production; its state and the metrics:`);
  print(c.dim(`    curl -s ${stack.smokeUrl}/api/v1/schedules`));
  print(c.dim(`    curl -s ${stack.smokeUrl}/metrics | grep '^smoke_'`));
  print(`  rollback webhooks smoke sent (a fail sends one to ${stack.rollback?.name ?? 'the receiver'}):`);
  print(c.dim(`    curl -s ${stack.smokeUrl}/api/v1/signals`));
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
