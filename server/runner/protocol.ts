/**
 * Messages the stream reporter (inside the Playwright runner process) sends
 * to the service, one JSON object per line on file descriptor 3.
 */

export interface TestAttemptMessage {
  readonly type: 'test';
  readonly environment: string;
  readonly flow: string;
  readonly file: string;
  readonly line: number;
  /** 0 for the first attempt. */
  readonly attempt: number;
  readonly status: 'passed' | 'failed' | 'timedOut' | 'skipped' | 'interrupted';
  readonly durationMs: number;
  /** True when no further attempt of this test will run in this environment. */
  readonly final: boolean;
  /** Playwright's outcome over all attempts, on the final attempt only. */
  readonly outcome?: 'expected' | 'unexpected' | 'flaky' | 'skipped';
  readonly error?: string;
  /**
   * Set on a failed attempt that died of a browser, worker or runner fault
   * rather than on the page: why, in a few words. Such an attempt is no
   * evidence against the deploy, whatever its error says.
   */
  readonly fault?: string;
  readonly attachments: readonly { name: string; contentType: string; path: string }[];
  /** What a test list names to run this flow again in another invocation over the same suite. */
  readonly test: TestRef;
  /** How long this attempt's `browser` fixture took to set up (launch or connect), when it was set up in this attempt. */
  readonly browserMs?: number;
}

/** One test, as Playwright's `--test-list` names it. */
export interface TestRef {
  /** The spec file, relative to the config's root folder (its top-level testDir, else its own folder), `/`-separated. */
  readonly file: string;
  readonly titles: readonly string[];
}

export type ReporterMessage =
  | { readonly type: 'begin'; readonly tests: number }
  /** A worker starts an attempt (its fixtures are not set up yet). */
  | { readonly type: 'testBegin'; readonly environment: string }
  | TestAttemptMessage
  /** An error outside any test: the config or a spec failed to load, a worker crashed. */
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'end'; readonly status: 'passed' | 'failed' | 'timedout' | 'interrupted' };

/** The run description the service hands the wrapper config through the environment. */
export interface RunDescription {
  readonly runId: string;
  readonly environments: readonly {
    readonly name: string;
    readonly baseURL: string;
    readonly headers: Record<string, string>;
    readonly storageState?: string;
  }[];
  readonly grep: string;
  readonly grepInvert?: string;
  readonly retries: number;
  /** Workers of the whole run. */
  readonly workers: number;
  /** Workers any one project may hold, so every environment runs at once and keeps its workers. */
  readonly workersPerProject: number;
  readonly outputDir: string;
  readonly reporterPath: string;
  /** Where Playwright's blob reporter writes this invocation's report (a `.zip`), for the run's HTML report; none when absent. */
  readonly blobFile?: string;
  readonly globalTimeoutMs: number;
  /** Set when Playwright's own Chromium is absent and the system one is used. */
  readonly launchOptions: { executablePath?: string; args?: string[] };
  /** When the suite is a folder of specs rather than a config file. */
  readonly testDir?: string;
  /**
   * The browser server the service keeps warm; Chromium projects that launch
   * nothing of their own connect to it (`use.connectOptions`) instead of
   * launching a browser per worker.
   */
  readonly connectWsEndpoint?: string;
}

/**
 * Where the runner finds its run description: the service writes it to this
 * pipe once the run is known (the runner may have been started ahead of it);
 * the runner puts it in `RUN_ENV_VAR` for its workers, which load the config
 * again.
 */
export const DESCRIPTION_FD = 4;
export const RUN_ENV_VAR = 'SMOKE_RUN';
export const REPORT_FD = 3;
