import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { unzipSync, zipSync } from 'fflate';
import { base64Fragments, REDACTED, Scrubber } from './scrub.ts';

const SECRET = 'sk_live_4f9a"c2/7+e1&b<8>d0 z';
const TOKEN = 'tok-0123456789abcdef';

/** Every form in which a leak would still count as one. */
function leakForms(secret: string): string[] {
  const b64 = Buffer.from(secret).toString('base64');
  return [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret), b64.slice(0, -4), b64.replace(/\+/g, '-').replace(/\//g, '_').slice(0, -4)];
}

function assertClean(text: string, secrets: string[] = [SECRET, TOKEN]): void {
  for (const secret of secrets) for (const form of leakForms(secret)) assert.ok(!text.includes(form), `"${form}" left in: ${text}`);
}

describe('Scrubber.text', () => {
  const scrubber = new Scrubber([SECRET, TOKEN, 'short']);
  const cases: { name: string; input: string; expected?: string }[] = [
    { name: 'the raw value', input: `x-canary-auth: ${TOKEN}`, expected: `x-canary-auth: ${REDACTED}` },
    { name: 'every occurrence', input: `${TOKEN}/${TOKEN}`, expected: `${REDACTED}/${REDACTED}` },
    { name: 'JSON-escaped, as in a trace event', input: JSON.stringify({ headers: [{ name: 'x', value: SECRET }] }), expected: `{"headers":[{"name":"x","value":"${REDACTED}"}]}` },
    { name: 'percent-encoded in a URL', input: `GET /a?k=${encodeURIComponent(SECRET)}&b=1`, expected: `GET /a?k=${encodeURIComponent(REDACTED)}&b=1` },
    { name: 'percent-encoded with lower-case hex', input: encodeURIComponent(SECRET).toLowerCase() },
    { name: 'form-encoded', input: new URLSearchParams({ k: SECRET }).toString() },
    { name: 'HTML-escaped in a DOM snapshot', input: `<p>${SECRET.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')}</p>` },
    { name: 'base64 on its own', input: `Basic ${Buffer.from(TOKEN).toString('base64')}` },
    { name: 'base64url on its own', input: Buffer.from(SECRET).toString('base64url') },
    ...[0, 1, 2].map((offset) => ({
      name: `base64 inside a longer body at offset ${offset}`,
      input: Buffer.concat([Buffer.alloc(offset + 30, 'p'), Buffer.from(SECRET), Buffer.from(' and more')]).toString('base64'),
    })),
    { name: 'short values are no secrets and stay', input: 'a short note', expected: 'a short note' },
    { name: 'text without secrets stays', input: 'nothing here', expected: 'nothing here' },
  ];
  for (const { name, input, expected } of cases) {
    it(name, () => {
      const out = scrubber.text(input);
      assertClean(out);
      if (expected !== undefined) assert.equal(out, expected);
      else assert.notEqual(out, input);
    });
  }

  it('keeps base64 around a scrubbed fragment decodable, with the value gone', () => {
    for (let offset = 0; offset < 3; offset++) {
      const body = Buffer.concat([Buffer.alloc(offset + 7, 'q'), Buffer.from(SECRET), Buffer.from('!')]);
      const out = scrubber.text(body.toString('base64'));
      assert.equal(out.length, body.toString('base64').length);
      const decoded = Buffer.from(out, 'base64');
      assert.equal(decoded.length, body.length);
      assert.ok(!decoded.includes(SECRET));
      assert.equal(decoded.subarray(0, offset + 6).toString(), 'q'.repeat(offset + 6), 'bytes before the value survive');
    }
  });

  it('finds every value from a fixed set of generated ones, whatever its bytes', () => {
    // A seeded generator: the same draws every run.
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const alphabet = 'abcXYZ0189+/=_-."&<>% ';
    for (let i = 0; i < 200; i++) {
      const secret = Array.from({ length: 8 + (next() % 40) }, () => alphabet[next() % alphabet.length]).join('');
      const prefix = 'z'.repeat(next() % 5);
      const out = new Scrubber([secret]).text(
        [secret, JSON.stringify(secret), encodeURIComponent(secret), Buffer.from(prefix + secret).toString('base64')].join('\n'),
      );
      assertClean(out, [secret]);
    }
  });
});

describe('Scrubber.bytes', () => {
  const scrubber = new Scrubber([TOKEN]);

  it('keeps lengths in binary files', async () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13]), Buffer.from(TOKEN), Buffer.from([0, 1, 2])]);
    const out = Buffer.from(await scrubber.bytes(png));
    assert.equal(out.length, png.length);
    assert.ok(!out.includes(TOKEN));
    assert.deepEqual(out.subarray(0, 8), png.subarray(0, 8));
  });

  it('returns the same bytes when nothing matched', async () => {
    const data = Buffer.from('clean');
    assert.equal(await scrubber.bytes(data), data);
    assert.equal(await new Scrubber([]).bytes(data), data);
  });

  it('rewrites a zip entry by entry: names, stored entries and untouched entries kept', async () => {
    const network = Buffer.from(`${JSON.stringify({ type: 'resource-snapshot', snapshot: { request: { headers: [{ name: 'x-canary-auth', value: TOKEN }] } } })}\n`.repeat(50));
    const screenshot = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]);
    const zip = zipSync({
      'trace.network': [network, { level: 9 }],
      'resources/page@abc.jpeg': [screenshot, { level: 0 }],
      'trace.trace': [Buffer.from('{"type":"context-options"}\n'), { level: 6 }],
    });
    assert.ok(!Buffer.from(zip).includes(TOKEN), 'the value is compressed: a byte search of the archive would miss it');

    const out = await scrubber.bytes(zip);
    const entries = unzipSync(out);
    assert.deepEqual(Object.keys(entries), ['trace.network', 'resources/page@abc.jpeg', 'trace.trace']);
    assert.ok(!Buffer.from(entries['trace.network']!).toString().includes(TOKEN));
    assert.match(Buffer.from(entries['trace.network']!).toString(), /"value":"<redacted>"/);
    assert.deepEqual(Buffer.from(entries['resources/page@abc.jpeg']!), screenshot);
    assert.equal(Buffer.from(entries['trace.trace']!).toString(), '{"type":"context-options"}\n');
    const stored = Buffer.from(out).indexOf(screenshot);
    assert.ok(stored > 0, 'a stored entry stays stored');
  });

  it('opens a zip inside a zip', async () => {
    const inner = zipSync({ 'note.txt': Buffer.from(`token ${TOKEN}`) });
    const outer = zipSync({ 'inner.zip': inner });
    const out = unzipSync(await scrubber.bytes(outer));
    const note = unzipSync(out['inner.zip']!)['note.txt']!;
    assert.equal(Buffer.from(note).toString(), `token ${REDACTED}`);
  });

  it('leaves an unchanged zip byte for byte', async () => {
    const zip = zipSync({ 'a.txt': Buffer.from('nothing') });
    assert.equal(await scrubber.bytes(zip), zip);
  });

  it('treats bytes that only start like a zip as bytes', async () => {
    const fake = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.from(` ${TOKEN}`)]);
    assert.ok(!Buffer.from(await scrubber.bytes(fake)).includes(TOKEN));
  });
});

describe('Scrubber.folder', () => {
  it('rewrites every file that held a value and no other', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'scrub-test-'));
    try {
      mkdirSync(path.join(dir, 'flow-canary-retry1'), { recursive: true });
      writeFileSync(path.join(dir, 'flow-canary-retry1', 'error-context.md'), `# Page\n- text: "${TOKEN}"\n`);
      writeFileSync(path.join(dir, 'flow-canary-retry1', 'trace.zip'), zipSync({ 'trace.network': Buffer.from(TOKEN) }));
      writeFileSync(path.join(dir, 'clean.txt'), 'clean');
      const changed = await new Scrubber([TOKEN]).folder(dir);
      assert.equal(changed, 2);
      assert.equal(readFileSync(path.join(dir, 'flow-canary-retry1', 'error-context.md'), 'utf8'), `# Page\n- text: "${REDACTED}"\n`);
      const trace = unzipSync(readFileSync(path.join(dir, 'flow-canary-retry1', 'trace.zip')));
      assert.equal(Buffer.from(trace['trace.network']!).toString(), REDACTED);
      assert.equal(await new Scrubber([TOKEN]).folder(path.join(dir, 'missing')), 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('base64Fragments', () => {
  it('has a fragment in the encoding whatever the value is preceded by', () => {
    const value = Buffer.from('abcdefghijkl');
    for (const around of ['', 'x', 'xy']) {
      const encoded = Buffer.concat([Buffer.from(around), value, Buffer.from('!?')]).toString('base64');
      assert.ok(base64Fragments(value).some((f) => encoded.includes(f)), `no fragment in ${encoded}`);
    }
  });
});
