import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Marks every process of a run (runner, workers, browsers) through an
 * environment variable, which children inherit. Chromium is launched in a
 * process group of its own, so killing the runner's group does not reach it;
 * the mark does.
 */
export const RUN_MARK_VAR = 'SMOKE_RUN_MARK';

/**
 * Pids of live processes whose mark is `prefix` or a folder under it. Linux
 * only; elsewhere none. Not a bare string prefix: run `r1`'s clean-up must
 * not kill run `r1-baseline-1`, still running.
 */
export function findMarkedProcesses(prefix: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const needle = `${RUN_MARK_VAR}=${prefix}`;
  const found: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (environ.split('\0').some((v) => v === needle || v.startsWith(`${needle}/`))) found.push(pid);
    } catch {
      // Gone in the meantime, or not ours to read.
    }
  }
  return found;
}

/** SIGKILLs every process carrying the mark; returns how many there were. */
export function killMarkedProcesses(prefix: string): number {
  const pids = findMarkedProcesses(prefix);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already exited.
    }
  }
  return pids.length;
}

/** How often a wait for killed processes looks again, milliseconds. */
const EXIT_POLL_MS = 25;

/**
 * SIGKILLs every process carrying the mark, then waits (at most `timeoutMs`)
 * until none of them runs: a SIGKILLed browser can still be writing its
 * profile for a moment, and removing the folder under it fails (ENOTEMPTY).
 */
export async function killMarkedProcessesAndWait(prefix: string, timeoutMs: number): Promise<number> {
  const pids = findMarkedProcesses(prefix);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already exited.
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isRunning) && Date.now() < deadline) await sleep(EXIT_POLL_MS);
  return pids.length;
}

/** False once the process is gone or a zombie (which holds no files open). Linux only. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // `pid (comm) S ...`: the state follows the last ')', since comm may hold one.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
