import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { findMarkedProcesses, killMarkedProcessesAndWait, RUN_MARK_VAR } from './processes.ts';

/** Gone, or a zombie waiting for its parent: either way it holds no file open. */
function running(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return false;
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat[stat.lastIndexOf(')') + 2] !== 'Z';
}

describe('marked processes', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  it('kills every process carrying the mark and returns only once none of them runs', async () => {
    const mark = `/tmp/smoke-processes-test-${process.pid}`;
    const children = [1, 2].map(() => spawn('sleep', ['60'], { env: { ...process.env, [RUN_MARK_VAR]: mark }, stdio: 'ignore' }));
    const other = spawn('sleep', ['60'], { env: { ...process.env, [RUN_MARK_VAR]: `${mark}-baseline-1` }, stdio: 'ignore' });
    try {
      const pids = children.map((c) => c.pid!);
      assert.deepEqual(findMarkedProcesses(mark).sort(), [...pids].sort());
      assert.equal(await killMarkedProcessesAndWait(mark, 10_000), 2);
      for (const pid of pids) assert.equal(running(pid), false, `${pid} still runs`);
      assert.equal(running(other.pid!), true, 'a process of another run is left alone');
    } finally {
      other.kill('SIGKILL');
      for (const c of children) c.kill('SIGKILL');
    }
  });
});
