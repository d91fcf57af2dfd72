import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { unzipSync, zipSync } from 'fflate';
import pino from 'pino';
import { isInside, settleBlob } from './blob.ts';
import { Scrubber } from './scrub.ts';

const SECRET = 'blob-secret-4f9a2c7e';
const logger = pino({ level: 'silent' });
const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-blob-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A blob as Playwright writes it: report.jsonl and a trace zip among its resources. */
function blob(): Uint8Array {
  const trace = zipSync({ 'trace.network': Buffer.from(`{"name":"x-auth","value":"${SECRET}"}`) });
  return zipSync({ 'report.jsonl': Buffer.from(`{"method":"onStdOut","params":{"text":"token ${SECRET}"}}\n`), 'resources/abc.zip': trace });
}

describe('settleBlob', () => {
  const scrubber = new Scrubber([SECRET]);

  it('scrubs a whole blob down to the trace inside it', async () => {
    const file = path.join(dir, 'whole.zip');
    writeFileSync(file, blob());
    await settleBlob(file, scrubber, logger, false);
    const entries = unzipSync(readFileSync(file));
    assert.equal(Buffer.from(entries['report.jsonl']!).includes(SECRET), false);
    const trace = unzipSync(entries['resources/abc.zip']!);
    assert.equal(Buffer.from(trace['trace.network']!).toString(), '{"name":"x-auth","value":"<redacted>"}');
  });

  it('leaves a blob its caller scrubs with its folder as it is', async () => {
    const file = path.join(dir, 'later.zip');
    writeFileSync(file, blob());
    await settleBlob(file, scrubber, logger, true);
    assert.deepEqual(readFileSync(file), Buffer.from(blob()));
  });

  it('removes half a blob (a runner killed while zipping): its compressed entries could hide a secret', async () => {
    const file = path.join(dir, 'cut.zip');
    const whole = blob();
    writeFileSync(file, whole.subarray(0, Math.floor(whole.length / 2)));
    await settleBlob(file, scrubber, logger, false);
    assert.equal(existsSync(file), false);
  });

  it('does nothing when the runner wrote none', async () => {
    await settleBlob(path.join(dir, 'absent.zip'), scrubber, logger, false);
  });
});

describe('isInside', () => {
  for (const [folder, file, inside] of [
    ['/a/run', '/a/run/.blob/run.zip', true],
    ['/a/run/target', '/a/run/.blob/target.zip', false],
    ['/a/run', '/a/run-2/.blob/x.zip', false],
  ] as const) {
    it(`${file} in ${folder}: ${inside}`, () => assert.equal(isInside(folder, file), inside));
  }
});
