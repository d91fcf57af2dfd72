import { readdirSync, readFileSync } from 'node:fs';

/** Memory of one process and everything below it, from /proc (Linux only), bytes. */
export interface TreeSample {
  /** Resident set of the root process alone. */
  readonly serviceRss: number;
  /** Sum of the resident sets of the root and all its descendants; shared pages count once per process. */
  readonly treeRss: number;
  /** Sum of proportional set sizes: shared pages split between the processes that map them. */
  readonly treePss: number;
  /** The root included. */
  readonly processes: number;
  /**
   * Processes of runs going on: descendants other than those the service
   * keeps between runs (its warm browser, and the runner waiting for the next
   * run: one started ahead that has no workers yet).
   */
  readonly runProcesses: number;
}

export function sampleTree(root: number): TreeSample {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = parentOf(Number(entry));
    if (ppid === undefined) continue;
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const tree: number[] = [];
  // A process without a mark of its own belongs where its parent does: Chromium clears the environment of its zygote and children.
  const marks = new Map<number, string | undefined>();
  for (const queue = [root]; queue.length > 0; ) {
    const pid = queue.shift()!;
    tree.push(pid);
    const parent = parentOf(pid);
    marks.set(pid, pid === root ? undefined : (markOf(pid) ?? (parent === undefined ? undefined : marks.get(parent))));
    queue.push(...(children.get(pid) ?? []));
  }
  let treeRss = 0;
  let treePss = 0;
  let processes = 0;
  let runProcesses = 0;
  for (const pid of tree) {
    // A process that ended between the listing and now simply counts no more.
    const rss = kiB(`/proc/${pid}/status`, 'VmRSS');
    if (rss === undefined) continue;
    processes++;
    treeRss += rss;
    treePss += kiB(`/proc/${pid}/smaps_rollup`, 'Pss') ?? rss;
    if (pid !== root && !keptBetweenRuns(marks.get(pid), markOf(pid), (children.get(pid) ?? []).length)) runProcesses++;
  }
  return { serviceRss: kiB(`/proc/${root}/status`, 'VmRSS') ?? 0, treeRss, treePss, processes, runProcesses };
}

/**
 * The service's warm browser (any of its processes, whatever mark they
 * inherit), or a runner started ahead that has no workers yet (by its own
 * mark: a worker's browser inherits the same one).
 */
function keptBetweenRuns(inherited: string | undefined, own: string | undefined, children: number): boolean {
  if (inherited?.split('/').includes('warm-browser')) return true;
  return own !== undefined && /\/ahead\/\d+$/.test(own) && children === 0;
}

/** The smoke run mark (`SMOKE_RUN_MARK`) in a process's environment. */
function markOf(pid: number): string | undefined {
  try {
    const entry = readFileSync(`/proc/${pid}/environ`, 'latin1')
      .split('\0')
      .find((v) => v.startsWith('SMOKE_RUN_MARK='));
    return entry?.slice('SMOKE_RUN_MARK='.length);
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: the fields after it start at the last ')'.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** A `Key:   123 kB` line of a /proc file, in bytes. */
function kiB(file: string, key: string): number | undefined {
  try {
    const match = readFileSync(file, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
