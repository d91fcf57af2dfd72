import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/config.ts';
import { startService, workspace, type Workspace } from '../integration/harness.ts';
import type { Service } from '../service.ts';
import { openStore, type Store } from '../store/store.ts';
import type { FlowResult } from '../verdict/types.ts';

/** The service with its pages, one finished run seeded with a trace and a screenshot, nothing ever run. */
export interface SiteRig {
  readonly url: string;
  /** '' or the path part of `server.publicUrl`. */
  readonly prefix: string;
  readonly service: Service;
  readonly ws: Workspace;
  readonly artifactsDir: string;
  readonly runId: string;
  /** A run still going on another replica (running, with a lease that outlasts the test): it has no report yet. */
  readonly openRunId: string;
  /** Artifact paths of the seeded flow, relative to the run's folder. */
  readonly trace: string;
  readonly screenshot: string;
  close(): Promise<void>;
}

export interface SiteOptions {
  readonly apiToken?: string;
  /** Sets `server.publicUrl` to `http://127.0.0.1:1<prefix>`: only its path matters to the pages. */
  readonly prefix?: string;
  /** The bytes of the seeded trace.zip; a placeholder unless a test needs a real one. */
  readonly traceZip?: Buffer;
  /** Flow name of the seeded failure. */
  readonly flow?: string;
}

export const PNG_1X1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

export async function startSite(options: SiteOptions = {}): Promise<SiteRig> {
  const ws = workspace(
    { canary: { baseURL: 'http://127.0.0.1:9' } },
    { ...(options.apiToken && { apiToken: options.apiToken }), warmBrowser: false, warmRunner: false },
  );
  const prefix = options.prefix ?? '';
  if (prefix) {
    const text = readFileSync(ws.configFile, 'utf8');
    writeFileSync(ws.configFile, text.replace('server:\n', `server:\n  publicUrl: http://127.0.0.1:1${prefix}\n`));
  }
  const artifactsDir = path.join(ws.dir, 'data', 'artifacts');
  // Seeded before the service starts: a queued run in a live service would be claimed and run by its verifier.
  const database = loadConfig(ws.configFile).storage.database;
  mkdirSync(path.dirname(database), { recursive: true });
  const store = await openStore({ kind: 'sqlite', file: database });
  const seeded = await seed(store, artifactsDir, options);
  await store.close();
  const service = await startService(ws);
  return {
    url: service.url,
    prefix,
    service,
    ws,
    artifactsDir,
    ...seeded,
    async close() {
      await service.close();
      ws.remove();
    },
  };
}

const TRACE = 'target/checkout-chromium/trace.zip';
const SCREENSHOT = 'target/checkout-chromium/test-failed-1.png';
/** Longer than any test: the open run's replica never seems to have died. */
const OPEN_RUN_LEASE_MS = 24 * 60 * 60 * 1000;

/** One finished run with a failed flow, its trace and screenshot on disk, and one run still going elsewhere. */
async function seed(store: Store, artifactsDir: string, options: SiteOptions) {
  const run = (await store.createRun({ trigger: 'manual', target: 'canary', environments: ['canary'] }))!;
  const folder = path.join(artifactsDir, run.id);
  mkdirSync(path.join(folder, 'target', 'checkout-chromium'), { recursive: true });
  writeFileSync(path.join(folder, TRACE), options.traceZip ?? Buffer.from('PK\x05\x06'.padEnd(22, '\0')));
  writeFileSync(path.join(folder, SCREENSHOT), PNG_1X1);
  // Playwright leaves more in the folder than the results name; none of it is served.
  writeFileSync(path.join(folder, 'target', 'unnamed.txt'), 'not named by any result');
  writeFileSync(path.join(artifactsDir, 'outside.txt'), 'outside any run');
  const result: FlowResult = {
    environment: 'canary',
    flow: options.flow ?? 'checkout.spec.ts › checkout',
    file: 'checkout.spec.ts',
    line: 3,
    outcome: 'failed',
    durationMs: 1200,
    retries: 1,
    error: 'expect(locator).toBeVisible() failed',
    artifacts: [
      { name: 'trace', contentType: 'application/zip', path: TRACE },
      { name: 'screenshot', contentType: 'image/png', path: SCREENSHOT },
    ],
  };
  await store.markRunRunning(run.id);
  await store.recordFlowResult(run.id, result);
  await store.finishRun(run.id, {
    status: 'done',
    verdict: { kind: 'fail', reasons: ['checkout failed on canary'], failed: [] },
    outcome: { kind: 'completed' },
  });
  const open = (await store.createRun({ trigger: 'manual', target: 'canary', environments: ['canary'] }))!;
  await store.markRunRunning(open.id, 'replica-elsewhere', OPEN_RUN_LEASE_MS);
  return { runId: run.id, openRunId: open.id, trace: TRACE, screenshot: SCREENSHOT };
}

/** Writes a report folder for the run, as the report builder leaves it. */
export function writeReport(rig: SiteRig, files: Record<string, string>): string {
  const folder = path.join(rig.artifactsDir, rig.runId, 'report');
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(folder, name)), { recursive: true });
    writeFileSync(path.join(folder, name), body);
  }
  return folder;
}
