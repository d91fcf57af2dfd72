import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config/config.ts';
import type { Gates } from '../gates/gates.ts';
import { createGateMetrics } from '../gates/metrics.ts';
import type { BrowserChoice } from '../runner/browser.ts';
import { createBrowserProbe } from '../runner/browser-probe.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import type { Signals } from '../signals/signals.ts';
import type { Store } from '../store/store.ts';
import type { Verifier } from '../verification/verifier.ts';
import type { AppDeps } from './app.ts';
import type { Readiness } from './health.ts';

/** The parts `createApp` is built over, as the composition root has them. */
export interface AppParts {
  readonly config: Config;
  readonly store: Store;
  readonly verifier: Verifier;
  readonly scheduler: Pick<Scheduler, 'list' | 'runNow'>;
  readonly signals: Signals;
  readonly gates: Gates;
  readonly browser: BrowserChoice;
  readonly readiness: Readiness;
  readonly logger: Logger;
  /** The service's registry: the gate metrics are registered in it, and it is served at /metrics. */
  readonly registry: Registry;
  readonly reports?: AppDeps['reports'];
}

/** The app's deps from the parts: the gate metrics and the browser probe are made here, so every caller wires them alike. */
export function appDeps({ gates, browser, registry, reports, ...parts }: AppParts): AppDeps {
  return {
    ...parts,
    gates: { gates, metrics: createGateMetrics(registry) },
    browser: createBrowserProbe(browser),
    metrics: registry,
    ...(reports && { reports }),
  };
}
