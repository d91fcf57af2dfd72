import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, spawnService, type Workspace } from '../server/integration/harness.ts';

/**
 * The benchmark's smoke replicas: each its own process (`smoke --config …`),
 * as in production, tracked so that every one is gone at the end whatever
 * happened, even on Ctrl-C or an uncaught error (`killAllSync` on exit).
 */

/** How long a replica may take to stop on SIGTERM before it is killed, ms. */
const STOP_TIMEOUT_MS = 30_000;

export interface Replica {
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  /** The end of `server.instanceId`'s default (`<hostname>-<pid>`): tells which replica a run names. */
  readonly idSuffix: string;
  readonly output: () => string;
}

export interface Fleet {
  /** Starts `count` replicas of one workspace at once, each on its own free port. */
  start(ws: Workspace, count: number): Promise<Replica[]>;
  /** Starts one replica on a given port (a killed one's, say). */
  startOn(ws: Workspace, port: number): Promise<Replica>;
  /** SIGTERM, then SIGKILL of its process tree if it lingers. */
  stop(replica: Replica): Promise<void>;
  /**
   * `kill -9` of the replica and every process it started (runner, workers,
   * browsers), as when its node or pod goes away; returns the wall-clock
   * time of the kill, ms since the epoch.
   */
  kill(replica: Replica): number;
  stopAll(): Promise<void>;
  killAllSync(): void;
}

export function createFleet(): Fleet {
  const live = new Set<Replica>();

  const startOn = async (ws: Workspace, port: number): Promise<Replica> => {
    const { child, url, output } = await spawnService(ws, port);
    const replica: Replica = { port, url, child, idSuffix: `-${child.pid}`, output };
    live.add(replica);
    child.once('exit', () => live.delete(replica));
    return replica;
  };

  const kill = (replica: Replica): number => {
    const tree = descendants(replica.child.pid!);
    const at = Date.now();
    signal(replica.child.pid!, 'SIGKILL');
    for (const pid of tree) signal(pid, 'SIGKILL');
    live.delete(replica);
    return at;
  };

  const stop = async (replica: Replica): Promise<void> => {
    const { child } = replica;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const outcome = await Promise.race([exited, sleep(STOP_TIMEOUT_MS, 'timeout' as const)]);
    if (outcome === 'timeout') {
      kill(replica);
      await exited;
    }
  };

  return {
    async start(ws, count) {
      const ports: number[] = [];
      for (let i = 0; i < count; i++) ports.push(await freePort());
      const started = await Promise.allSettled(ports.map((port) => startOn(ws, port)));
      const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw new Error(`a replica did not start`, { cause: failed.reason });
      return started.map((s) => (s as PromiseFulfilledResult<Replica>).value);
    },
    startOn,
    stop,
    kill,
    stopAll: async () => {
      await Promise.all([...live].map(stop));
    },
    killAllSync: () => {
      for (const replica of [...live]) kill(replica);
    },
  };
}

/** Every process below `root`, from /proc's parent links (Linux only); read before the kill, which orphans them. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // "pid (comm) state ppid …": comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // Exited while we looked.
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}
