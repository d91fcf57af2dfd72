import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { logTail, REPO } from '../demo/demo-stack.ts';

/**
 * `playwright test` as a pipeline runs it, timed: the comparison the
 * benchmarks hold smoke to. A run whose flows fail may be the expected one
 * (the rollback figure).
 */

/** How long a cancelled CLI run gets to close its browsers before it is killed, ms. */
const CLI_GRACE_MS = 5_000;
const PLAYWRIGHT_CLI = path.join(REPO, 'node_modules/@playwright/test/cli.js');

export class CliError extends Error {
  override name = 'CliError';
}

export interface CliRun {
  /** The Playwright config; the repo's own when absent. */
  readonly config?: string;
  readonly baseURL: string;
  readonly grep: string;
  readonly retries: number;
  readonly workers: number;
  /** Its own output folder, so the benchmark never clears the repo's test-results/; the log goes beside it. */
  readonly outputDir: string;
  /** `pass`: exit 0 expected; `fail`: exit 1 (flows failed) expected. Anything else is an error. */
  readonly expect: 'pass' | 'fail';
}

/** Runs the CLI once; resolves with its wall time in ms. */
export function timePlaywrightCli(run: CliRun, signal: AbortSignal): Promise<number> {
  mkdirSync(run.outputDir, { recursive: true });
  const logFile = `${run.outputDir}.log`;
  const log = openSync(logFile, 'a');
  const args = ['test', ...(run.config ? ['--config', run.config] : []), '--grep', run.grep, '--reporter=line'];
  args.push('--retries', String(run.retries), '--workers', String(run.workers), '--output', run.outputDir);
  const start = performance.now();
  const child = spawn(process.execPath, [PLAYWRIGHT_CLI, ...args], {
    cwd: REPO,
    // CI=1 as in a pipeline (and as smoke runs it).
    env: { ...process.env, BASE_URL: run.baseURL, CI: '1', FORCE_COLOR: '0' },
    stdio: ['ignore', log, log],
    // Its own process group, so a stop reaches its workers and browsers too.
    detached: true,
  });
  closeSync(log);
  return new Promise((resolve, reject) => {
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      signalGroup(child.pid, 'SIGINT');
      killTimer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), CLI_GRACE_MS);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => reject(new CliError(`could not start the Playwright CLI: ${err.message}`, { cause: err })));
    child.once('close', (code, how) => {
      const elapsed = performance.now() - start;
      signal.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      const expected = run.expect === 'pass' ? 0 : 1;
      if (signal.aborted) reject(signal.reason);
      else if (code === expected) resolve(elapsed);
      else {
        const outcome = how ? `was killed by ${how}` : `exited with ${code}, expected ${expected} (${run.expect === 'pass' ? 'every flow passing' : 'flows failing'})`;
        reject(new CliError(`playwright test against ${run.baseURL} ${outcome}; ${logFile} ends:\n${logTail(logFile)}`));
      }
    });
  });
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
