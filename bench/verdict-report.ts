import type { SmokeConfigOptions } from '../demo/demo-config.ts';
import { SUITE } from '../demo/demo-stack.ts';
import { FLOOR_FLOW_COUNT } from './floor-flows.ts';
import { median, secs, times } from './machine.ts';
import { PHASES, type RunFigures } from './run-figures.ts';

/** The time-to-verdict benchmark's figures, printed as the issue asks for them (sections 1–4). */

/** The goals in issue 9. */
const FLOOR_GOAL = 1.5;
const CLI_SPEED_UP_GOAL = 2;
const ROLLBACK_GOAL = 0.75;

export interface Variant {
  readonly label: string;
  readonly title: string;
  readonly runs: NonNullable<SmokeConfigOptions['runs']>;
}

export interface VerdictSample {
  /** From the POST to its answer with the verdict, ms. */
  readonly ms: number;
  readonly figures: RunFigures;
}

export interface RollbackSample {
  readonly verdictMs: number;
  /** From the POST to the signed rollback webhook arriving at the receiver, ms. */
  readonly signalMs: number;
  /** From the POST to the run's end (`finishedAt`), ms. */
  readonly runEndMs: number | undefined;
  readonly figures: RunFigures;
}

export interface Results {
  readonly rounds: number;
  readonly rollbackRounds: number;
  readonly variants: readonly Variant[];
  readonly failFast: readonly Variant[];
  readonly floorMs: readonly number[];
  /** Sequential CLI, canary then production, per round. */
  readonly cliMs: readonly number[];
  /** Timed good-deploy samples by variant label. */
  readonly good: ReadonlyMap<string, readonly VerdictSample[]>;
  /** One broken-deploy sample (demo suite) by variant label; warm-browser variants only. */
  readonly broken: ReadonlyMap<string, VerdictSample>;
  readonly rollback: {
    readonly samples: ReadonlyMap<string, readonly RollbackSample[]>;
    /** `playwright test` of just the regressed flows on the canary, per round. */
    readonly cliMs: readonly number[];
  };
}

export function printFigures(print: (text?: string) => void, r: Results): void {
  const floor = median(r.floorMs);
  const cli = median(r.cliMs);
  print(`\n1. Warm-browser floor: POST to verdict on a good deploy, median of ${r.rounds} round${r.rounds === 1 ? '' : 's'}`);
  const rows1 = [
    ['contender', 'time', '× floor', 'CLI ÷ it'],
    [`floor: ${FLOOR_FLOW_COUNT} flows × 2 environments, ${SUITE.workers} lanes, 1 browser`, secs(floor), times(floor, floor), times(cli, floor)],
    ...r.variants.map((v) => {
      const ms = median((r.good.get(v.label) ?? []).map((s) => s.ms));
      return [`smoke, ${v.title}`, secs(ms), times(ms, floor), times(cli, ms)];
    }),
    ['sequential playwright test (canary, then production)', secs(cli), times(cli, floor), times(cli, cli)],
  ];
  print(table(rows1));
  print(`   goals (issue 9): smoke ≤ ${FLOOR_GOAL.toFixed(2)}× the floor; sequential CLI ÷ smoke ≥ ${CLI_SPEED_UP_GOAL.toFixed(2)}×`);

  print(`\n2. Fixed-cost breakdown: median per phase of the timed good-deploy runs (run JSON \`timings\`; n/a: not reported)`);
  const rows2 = [
    ['phase', ...r.variants.map((v) => v.label)],
    ...PHASES.map((phase) => [phase, ...r.variants.map((v) => secs(medianOf((r.good.get(v.label) ?? []).map((s) => s.figures.timings[phase]))))]),
    ['(client) POST → verdict', ...r.variants.map((v) => secs(median((r.good.get(v.label) ?? []).map((s) => s.ms))))],
  ];
  print(table(rows2));

  const regressedCli = median(r.rollback.cliMs);
  print(`\n3. Time to rollback: broken canary, rollback suite, baseline on-failure, median of ${r.rollbackRounds} round${r.rollbackRounds === 1 ? '' : 's'}`);
  const rows3 = [
    ['contender', 'POST → signal', '× CLI', 'POST → verdict', 'POST → run end'],
    ...r.failFast.map((v) => {
      const samples = r.rollback.samples.get(v.label) ?? [];
      const signalMs = median(samples.map((s) => s.signalMs));
      return [`smoke, ${v.title}`, secs(signalMs), times(signalMs, regressedCli), secs(median(samples.map((s) => s.verdictMs))), secs(medianOf(samples.map((s) => s.runEndMs)))];
    }),
    ['playwright test of the regressed flows only, canary', secs(regressedCli), times(regressedCli, regressedCli), '', ''],
  ];
  print(table(rows3));
  print(`   goal (issue 9): POST → signal ≤ ${ROLLBACK_GOAL.toFixed(2)}× the CLI run (same retries ${SUITE.retries}, workers ${SUITE.workers})`);

  print(`\n4. Browser attempts per verdict (run JSON \`attempts\`)`);
  const rows4: string[][] = [['deploy', 'suite', 'config', 'attempts', 'by environment']];
  for (const v of r.variants.filter((v) => v.runs.warmBrowser)) {
    const samples = r.good.get(v.label) ?? [];
    rows4.push(['good', 'demo', v.title, count(medianOf(samples.map((s) => s.figures.attempts))), byEnvironment(samples.at(-1)?.figures)]);
  }
  for (const v of r.variants.filter((v) => v.runs.warmBrowser)) {
    const sample = r.broken.get(v.label);
    rows4.push(['broken', 'demo', `${v.title}, failFast true`, count(sample?.figures.attempts), byEnvironment(sample?.figures)]);
  }
  for (const v of r.failFast) {
    const samples = r.rollback.samples.get(v.label) ?? [];
    rows4.push(['broken', 'rollback', `baseline on-failure, ${v.title}`, count(medianOf(samples.map((s) => s.figures.attempts))), byEnvironment(samples.at(-1)?.figures)]);
  }
  print(table(rows4));
}

function medianOf(values: readonly (number | undefined)[]): number | undefined {
  return median(values.filter((v): v is number => v !== undefined));
}

function count(n: number | undefined): string {
  return n === undefined ? 'n/a' : String(n);
}

function byEnvironment(figures: RunFigures | undefined): string {
  const entries = Object.entries(figures?.attemptsByEnvironment ?? {});
  if (entries.length === 0) return 'n/a';
  return entries
    .map(([environment, outcomes]) => {
      const nonZero = Object.entries(outcomes).filter(([, n]) => n > 0);
      return `${environment}: ${nonZero.length ? nonZero.map(([outcome, n]) => `${n} ${outcome}`).join(', ') : 'none'}`;
    })
    .join('; ');
}

/** Rows as aligned columns, the first one a header; columns of figures right-aligned, of words left-aligned. */
function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  const figures = rows[0]!.map((_, i) => rows.slice(1).every((row) => /^(\d|n\/a$|$)/.test(row[i] ?? '')));
  return rows
    .map((row) => `   ${row.map((cell, i) => (figures[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ')}`.trimEnd())
    .join('\n');
}
