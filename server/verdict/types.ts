/** What one critical flow did in one environment, after its retries. */
export type FlowOutcome = 'passed' | 'failed' | 'flaky' | 'skipped' | 'error';

export interface Artifact {
  /** `screenshot`, `trace`, `video` or the attachment's own name. */
  readonly name: string;
  readonly contentType: string;
  /** Path inside the run's artifact folder, `/`-separated. */
  readonly path: string;
}

export interface FlowResult {
  readonly environment: string;
  /** Stable identity of the flow across environments: file and title path. */
  readonly flow: string;
  readonly file: string;
  readonly line?: number;
  readonly outcome: FlowOutcome;
  /** Sum of all attempts, milliseconds. */
  readonly durationMs: number;
  /** Attempts beyond the first. */
  readonly retries: number;
  /** First line(s) of the last failing attempt's error. */
  readonly error?: string;
  /**
   * Set when the outcome is `error` because an attempt died of a browser,
   * worker or runner fault (the browser closed or crashed, the worker
   * exited): why, in a few words. The service's problem, never the deploy's.
   */
  readonly fault?: string;
  readonly artifacts: readonly Artifact[];
}

export type Reachability =
  | { readonly reachable: true; readonly status: number }
  | { readonly reachable: false; readonly error: string };

/** How the runner itself ended, apart from what the flows did. */
export type RunnerOutcome =
  | { readonly kind: 'completed' }
  /** The runner broke: crashed, could not load the suite, could not launch the browser. */
  | { readonly kind: 'fault'; readonly reason: string }
  | { readonly kind: 'deadline'; readonly seconds: number }
  | { readonly kind: 'cancelled'; readonly reason: string };

export interface FailedFlow {
  readonly flow: string;
  readonly environment: string;
  readonly error?: string;
}

export type Verdict =
  | { readonly kind: 'pass'; readonly reasons: readonly string[]; readonly flaky: readonly string[] }
  | { readonly kind: 'fail'; readonly reasons: readonly string[]; readonly failed: readonly FailedFlow[] }
  | {
      readonly kind: 'inconclusive';
      readonly reasons: readonly string[];
      /** Whose problem it is: never the deploy's. */
      readonly cause: 'baseline' | 'service' | 'unreachable' | 'no-flows';
    };

export type VerdictKind = Verdict['kind'];

/** How one browser attempt ended: `error` when the browser, worker or runner broke it rather than the page. */
export type AttemptKind = 'passed' | 'failed' | 'error' | 'interrupted';

/** A run's browser attempts, by environment and how each ended. */
export type AttemptCounts = Readonly<Record<string, Readonly<Record<AttemptKind, number>>>>;

/** Where a run's time went, milliseconds from the run's start unless named a duration; absent when it did not happen. */
export interface RunTimings {
  /** Duration of the reachability checks. */
  readonly reachabilityMs?: number;
  /** Duration from spawning the runner to its reporter's start: Node, Playwright, the config and the specs loaded. */
  readonly runnerStartMs?: number;
  /** Duration from the reporter's start to the first attempt beginning in a worker. */
  readonly workerStartMs?: number;
  /** Duration of the first attempt's `browser` fixture: a launch, or a connection to the warm browser. */
  readonly browserLaunchMs?: number;
  /** When the first flow's result arrived. */
  readonly firstFlowMs?: number;
  /** When the verdict was decided (before the run ended, when it failed fast). */
  readonly verdictMs?: number;
  /** When the run ended. */
  readonly totalMs?: number;
}
