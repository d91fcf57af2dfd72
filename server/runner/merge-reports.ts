import { spawn } from 'node:child_process';

/** Bytes of merge-reports' stderr kept for the error; the rest is dropped. */
const STDERR_TAIL_BYTES = 8 * 1024;

export interface MergeRequest {
  /** Playwright's CLI (`@playwright/test/cli`), the one that wrote the blobs. */
  readonly cli: string;
  /** A folder of blob `.zip` files; merging unpacks their attachments into it. */
  readonly input: string;
  /** Where the HTML report is written; must not exist yet or be disposable. */
  readonly output: string;
  /** An empty folder: no config is loaded, so Playwright's defaults resolve against it. */
  readonly cwd: string;
  readonly title: string;
  readonly deadlineMs: number;
  readonly signal: AbortSignal;
}

/**
 * Runs `playwright merge-reports --reporter html` as a child process in its
 * own process group, killed whole at the deadline or on abort. Without
 * `--config`, Playwright loads an empty config rather than the team's, so
 * nothing of theirs (web servers, global setup, reporters) runs here.
 * Rejects with the cause, stderr's tail included.
 */
export function mergeReports(request: MergeRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    if (request.signal.aborted) {
      reject(new Error('merge-reports was not started: the service is shutting down'));
      return;
    }
    const child = spawn(process.execPath, [request.cli, 'merge-reports', '--reporter', 'html', request.input], {
      cwd: request.cwd,
      env: mergeEnvironment(request),
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL_BYTES);
    });
    let killedFor: string | undefined;
    const kill = (why: string) => {
      killedFor ??= why;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => kill(`it took longer than ${Math.round(request.deadlineMs / 1000)}s`), request.deadlineMs);
    const onAbort = () => kill('the service is shutting down');
    request.signal.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      request.signal.removeEventListener('abort', onAbort);
    };
    child.once('error', (err) => {
      done();
      reject(new Error('could not start Playwright merge-reports', { cause: err }));
    });
    child.once('close', (code, signal) => {
      done();
      if (code === 0 && !killedFor) return resolve();
      const how = killedFor ? `was killed: ${killedFor}` : signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const tail = stderr.trim();
      reject(new Error(`Playwright merge-reports ${how}${tail ? `:\n${tail}` : ''}`));
    });
  });
}

/** The service's environment without the variables that would steer the html reporter elsewhere, plus ours. */
function mergeEnvironment(request: MergeRequest): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(
    ([key]) => !key.startsWith('PLAYWRIGHT_HTML_') && !key.startsWith('PLAYWRIGHT_BLOB_') && key !== 'PW_TEST_HTML_REPORT_OPEN',
  );
  return {
    ...Object.fromEntries(inherited),
    PLAYWRIGHT_HTML_OUTPUT_DIR: request.output,
    PLAYWRIGHT_HTML_OPEN: 'never',
    PLAYWRIGHT_HTML_TITLE: request.title,
    // CI: the reporter neither serves the report nor prints how to open it.
    CI: '1',
    FORCE_COLOR: '0',
  };
}
