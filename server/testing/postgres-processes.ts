import { readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import path from 'node:path';

/**
 * Finding and reaping the processes of a test PostgreSQL by its folder. Every
 * PostgreSQL process (the postmaster and each backend) works in its data
 * directory, so its cwd names the folder even after a backend rewrote its
 * command line. Linux only (/proc); elsewhere none are found.
 */

/** The name every test cluster's folder starts with, under the temp folder. */
export const FOLDER_PREFIX = 'smoke-pg-';

/** The file in a test cluster's folder naming the pid of the process that owns it. */
export const OWNER_FILE = 'owner.pid';

/** How long a clean-up at exit waits for an immediate shutdown before SIGKILL, milliseconds. */
const EXIT_SHUTDOWN_MS = 3_000;

/** Pids of live processes whose working directory is `folder` or under it. */
export function processesIn(folder: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${entry}/cwd`).replace(/ \(deleted\)$/, '');
    } catch {
      continue; // Gone in the meantime, or not ours to read.
    }
    if ((cwd === folder || cwd.startsWith(`${folder}/`)) && !isZombie(entry)) found.push(Number(entry));
  }
  return found;
}

function isZombie(pid: string): boolean {
  try {
    // The state follows the command name in parentheses, which may itself hold spaces or parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already exited.
  }
}

/**
 * Synchronously ends the cluster in `folder` and removes the folder, for when
 * no event loop is left to await a shutdown (process exit, a stale folder):
 * SIGQUIT to the postmaster (an immediate shutdown that still frees its shared
 * memory), a bounded wait, then SIGKILL to whatever is left.
 */
export function reapSync(folder: string, postmasterPid: number | undefined): void {
  // Only a pid working in the folder: a stale lock file may name a pid reused since.
  if (postmasterPid !== undefined && processesIn(folder).includes(postmasterPid)) signal(postmasterPid, 'SIGQUIT');
  const deadline = Date.now() + EXIT_SHUTDOWN_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (processesIn(folder).length > 0 && Date.now() < deadline) Atomics.wait(pause, 0, 0, 20);
  for (const pid of processesIn(folder)) signal(pid, 'SIGKILL');
  rmSync(folder, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * Reaps the folders of test clusters whose owning process died without
 * cleaning up (a test runner killed with SIGKILL runs no exit handler): their
 * servers would otherwise run until the machine restarts.
 */
export function reapOrphans(tmpRoot: string): void {
  let names: string[];
  try {
    names = readdirSync(tmpRoot).filter((name) => name.startsWith(FOLDER_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const folder = path.join(tmpRoot, name);
    let owner: number;
    try {
      owner = Number(readFileSync(path.join(folder, OWNER_FILE), 'utf8'));
    } catch {
      continue; // Being created right now, or not one of ours.
    }
    if (!Number.isInteger(owner) || owner <= 0 || isAlive(owner)) continue;
    try {
      reapSync(folder, postmasterPid(path.join(folder, 'data')));
    } catch {
      // Another user's folder: not ours to remove.
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, only not ours to signal.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** The postmaster's pid from its lock file: the first line of postmaster.pid. */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Clusters still running when the process ends. A test that fails or a runner
 * that is interrupted must not leave a server behind: the handlers are only
 * installed once a cluster exists, never on import.
 */
const onExit = new Set<() => void>();
let handlersInstalled = false;

/** Runs `cleanUp` (synchronously) when the process ends; returns the function that cancels it. */
export function atExit(cleanUp: () => void): () => void {
  onExit.add(cleanUp);
  installExitHandlers();
  return () => onExit.delete(cleanUp);
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const cleanUp = () => {
    for (const fn of onExit) {
      try {
        fn();
      } catch {
        // Best effort at exit: the next start reaps what is left (reapOrphans).
      }
    }
    onExit.clear();
  };
  process.on('exit', cleanUp);
  for (const name of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = () => {
      cleanUp();
      // Alone, this listener would swallow the signal: end the process the way the signal would have.
      if (process.listenerCount(name) === 1) {
        process.removeListener(name, onSignal);
        process.kill(process.pid, name);
      }
    };
    process.on(name, onSignal);
  }
}
