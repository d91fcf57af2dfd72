import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from '../demo/demo-stack.ts';
import { chooseBrowser } from '../server/runner/browser.ts';

/** What every benchmark states beside its figures: the machine, its load, and how figures are written. */

export function printMachine(print: (text: string) => void): void {
  const cpus = os.cpus();
  const browser = chooseBrowser();
  const playwright = (JSON.parse(readFileSync(path.join(REPO, 'node_modules/@playwright/test/package.json'), 'utf8')) as { version: string }).version;
  print(`node ${process.version} on ${os.platform()}/${os.arch()}, ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`);
  print(`@playwright/test ${playwright}, browser: ${browser.kind === 'missing' ? 'missing' : `${browser.kind} ${browser.executablePath}`}`);
  print(`load average at start: ${loadAverage()}`);
}

export function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' ');
}

/** The middle value (mean of the two middle ones for an even count); undefined for none. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function secs(ms: number | undefined): string {
  return ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(1)} s`;
}

/** `a / b` as a multiple, or n/a when either is missing. */
export function times(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined || b === 0 ? 'n/a' : `${(a / b).toFixed(2)}×`;
}
