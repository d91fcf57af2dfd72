import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startService, workspace, type Workspace } from '../integration/harness.ts';
import type { Service } from '../service.ts';
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
  const service = await startService(ws);
  const artifactsDir = path.join(ws.dir, 'data', 'artifacts');
  const run = service.store.createRun({ trigger: 'manual', target: 'canary', environments: ['canary'] });
  const trace = 'target/checkout-chromium/trace.zip';
  const screenshot = 'target/checkout-chromium/test-failed-1.png';
  const folder = path.join(artifactsDir, run.id);
  mkdirSync(path.join(folder, 'target', 'checkout-chromium'), { recursive: true });
  writeFileSync(path.join(folder, trace), options.traceZip ?? Buffer.from('PK\x05\x06'.padEnd(22, '\0')));
  writeFileSync(path.join(folder, screenshot), PNG_1X1);
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
      { name: 'trace', contentType: 'application/zip', path: trace },
      { name: 'screenshot', contentType: 'image/png', path: screenshot },
    ],
  };
  service.store.markRunRunning(run.id);
  service.store.recordFlowResult(run.id, result);
  service.store.finishRun(run.id, {
    status: 'done',
    verdict: { kind: 'fail', reasons: ['checkout failed on canary'], failed: [] },
    outcome: { kind: 'completed' },
  });
  return {
    url: service.url,
    prefix,
    service,
    ws,
    artifactsDir,
    runId: run.id,
    trace,
    screenshot,
    async close() {
      await service.close();
      ws.remove();
    },
  };
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
