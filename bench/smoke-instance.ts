import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeSmokeConfig, type DemoWebhook, type SmokeConfigOptions } from '../demo/demo-config.ts';
import { freePort, logTail, poll, startProcess, StackError, type ManagedProcess, type Shop } from '../demo/demo-stack.ts';

/**
 * One smoke service as its own process, with one variant of its config,
 * against shops that are already running. The time-to-verdict benchmark
 * keeps one per variant side by side so it can interleave them round by round.
 */

/** How long the service gets to report ready (it checks that Chromium launches), ms. */
const READY_TIMEOUT_MS = 60_000;

export interface SmokeVariant {
  /** A short name for output and for its folder: letters, digits, `-`. */
  readonly label: string;
  readonly suite?: SmokeConfigOptions['suite'];
  readonly runs?: SmokeConfigOptions['runs'];
  readonly webhook?: DemoWebhook;
}

export interface SmokeInstance {
  readonly variant: SmokeVariant;
  readonly url: string;
  readonly process: ManagedProcess;
}

export async function startSmoke(dir: string, variant: SmokeVariant, shops: { production: Shop; canary: Shop }, signal?: AbortSignal): Promise<SmokeInstance> {
  const home = path.join(dir, `smoke-${variant.label}`);
  mkdirSync(home, { recursive: true });
  const port = await freePort();
  const configFile = writeSmokeConfig(home, {
    port,
    production: shops.production.url,
    canary: shops.canary.url,
    ...(variant.suite && { suite: variant.suite }),
    ...(variant.runs && { runs: variant.runs }),
    webhooks: variant.webhook ? [variant.webhook] : [],
  });
  const proc = startProcess(`smoke (${variant.label})`, 'server/main.ts', ['--config', configFile], path.join(home, 'smoke.log'), { LOG_LEVEL: 'warn' });
  const url = `http://127.0.0.1:${port}`;
  try {
    const ready = await poll(READY_TIMEOUT_MS, signal, async () => {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        throw new StackError(`${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode}) before it was ready; ${proc.logFile} ends:\n${logTail(proc.logFile)}`);
      }
      const response = await fetch(`${url}/readyz`, { signal }).catch(() => undefined);
      return response?.status === 200 ? true : undefined;
    });
    if (!ready) throw new StackError(`${proc.name} was not ready on ${url} after ${READY_TIMEOUT_MS / 1000} s; see ${proc.logFile}`);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { variant, url, process: proc };
}
