import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { REPO } from './harness.ts';

export const RULES_FILE = path.join(REPO, 'deploy/prometheus/smoke-rules.yml');
export const RULES_TEST_FILE = path.join(REPO, 'deploy/prometheus/smoke-rules.test.yml');
export const DASHBOARD_FILE = path.join(REPO, 'deploy/grafana/smoke.json');

/** Output of promtool runs is small; a broken one that floods gets cut off here. */
const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

/**
 * Absolute path of Debian's `prometheus` or `promtool`. Throws, never skips:
 * a test that quietly passes without the tool would hide broken rules.
 */
export function prometheusTool(name: 'prometheus' | 'promtool'): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).concat('/usr/bin')) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this folder.
    }
  }
  throw new Error(`${name} is not installed: run scripts/setup.sh, which installs Debian's prometheus package (it brings ${name})`);
}

export interface ToolRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function promtool(args: readonly string[], input?: string): ToolRun {
  const result = spawnSync(prometheusTool('promtool'), args, {
    input: input ?? '',
    encoding: 'utf8',
    maxBuffer: MAX_OUTPUT_BYTES,
    timeout: 60_000,
  });
  if (result.error) throw new Error(`promtool ${args.join(' ')} did not run`, { cause: result.error });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
