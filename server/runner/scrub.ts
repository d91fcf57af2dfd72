import { randomUUID } from 'node:crypto';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
// fflate rather than yauzl + yazl: one small package with no dependencies and
// its own types, whose in-memory API fits "read a trace, rewrite its entries,
// write it back" and lets us take one entry at a time. playwright-core
// bundles yauzl/yazl, but inside its internal coreBundle, no public or stable API.
import { unzipSync, Zip, ZipDeflate, ZipPassThrough } from 'fflate';

/** What takes the place of a secret in text: JSON- and Markdown-safe. */
export const REDACTED = '<redacted>';
/**
 * Header values shorter than this are not scrubbed: `x-debug: 1` or
 * `x-env: canary` are no credentials, and replacing every "1" or "canary" in a
 * trace would mangle it (a bare `true` in JSON turned into `<redacted>` is no
 * longer JSON). Any real token is longer.
 */
export const MIN_SECRET_CHARS = 8;
/** Base64 fragments shorter than this could match unrelated text by chance. */
const MIN_FRAGMENT_CHARS = 8;
const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
/** Deepest zip-in-zip that is opened; deeper ones are scrubbed as plain bytes. */
const MAX_ZIP_DEPTH = 4;

interface Pattern {
  readonly needle: Buffer;
  /** Used in text; binary files get a same-length filler so offsets and sizes hold. */
  readonly marker: Buffer;
  readonly filler: number;
}

/**
 * Replaces the given secret values in strings, bytes, zip archives and
 * folders. A Playwright 1.65 trace.zip holds request headers as JSON strings
 * (`{"name":"x-canary-auth","value":"…"}`) in its `*.trace` and `*.network`
 * entries, response bodies raw under `resources/`, and the error context
 * under `attachments/`; the error-context.md beside it holds the page as
 * text. So besides the raw value it finds the forms those may hold when a
 * page echoes the value: JSON- and HTML-escaped, percent-encoded (URLs, form
 * bodies) and base64 (Basic credentials, embedded bodies), the latter at each
 * of the three byte alignments a value can have inside a longer base64 text.
 */
export class Scrubber {
  readonly #patterns: readonly Pattern[];

  constructor(secrets: Iterable<string>) {
    const patterns = new Map<string, Pattern>();
    for (const secret of secrets) {
      if (secret.length < MIN_SECRET_CHARS) continue;
      for (const pattern of patternsFor(secret)) patterns.set(pattern.needle.toString('latin1'), pattern);
    }
    // Longest first, so an encoded form is replaced whole before a shorter form inside it.
    this.#patterns = [...patterns.values()].sort((a, b) => b.needle.length - a.needle.length);
  }

  get empty(): boolean {
    return this.#patterns.length === 0;
  }

  text(value: string): string {
    if (this.empty) return value;
    return replaceAll(Buffer.from(value, 'utf8'), this.#patterns, 'text').toString('utf8');
  }

  /** The bytes with every secret replaced; the same object when there was none. */
  async bytes(data: Uint8Array, depth = 0): Promise<Uint8Array> {
    if (this.empty) return data;
    const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const zip = depth < MAX_ZIP_DEPTH && buffer.subarray(0, 4).equals(ZIP_MAGIC) ? await this.#zip(buffer, depth) : undefined;
    // A NUL byte says binary (PNG, WebM): keep every length as it was.
    const clean = zip ?? replaceAll(buffer, this.#patterns, buffer.includes(0) ? 'binary' : 'text');
    return clean === buffer ? data : clean;
  }

  /** Rewrites the file in place when it held a secret; true when it did. */
  async file(file: string): Promise<boolean> {
    if (this.empty) return false;
    const data = await readFile(file);
    const clean = await this.bytes(data);
    if (clean === data) return false;
    // Through a temp file and a rename, so no reader ever sees half a file.
    const temp = path.join(path.dirname(file), `.scrub-${randomUUID()}.tmp`);
    await writeFile(temp, clean);
    await rename(temp, file);
    return true;
  }

  /** Scrubs every file under the folder; returns how many held a secret. */
  async folder(dir: string): Promise<number> {
    if (this.empty) return 0;
    let entries;
    try {
      entries = await readdir(dir, { recursive: true, withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw new Error(`could not list ${dir} to scrub it`, { cause: err });
    }
    let changed = 0;
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath, entry.name);
      try {
        if (await this.file(file)) changed += 1;
      } catch (err) {
        throw new Error(`could not scrub ${file}`, { cause: err });
      }
    }
    return changed;
  }

  /**
   * Entry by entry: names and order kept, stored entries stay stored. Returns
   * undefined when the bytes only look like a zip, and the input when no
   * entry changed (the archive is then left byte for byte as it was).
   */
  async #zip(data: Buffer, depth: number): Promise<Uint8Array | undefined> {
    const listed: { name: string; stored: boolean }[] = [];
    try {
      // Lists the entries without inflating any.
      unzipSync(data, { filter: (info) => (listed.push({ name: info.name, stored: info.compression === 0 }), false) });
    } catch {
      return undefined;
    }
    // One entry at a time with a yield in between: inflating and deflating a
    // 20 MB trace at once stalls the service's event loop for a second.
    const entries: { name: string; stored: boolean; content: Uint8Array }[] = [];
    let changed = false;
    for (const entry of listed) {
      await yieldToEventLoop();
      let content: Uint8Array | undefined;
      try {
        content = unzipSync(data, { filter: (info) => info.name === entry.name })[entry.name];
      } catch (err) {
        throw new Error(`could not read zip entry ${entry.name}`, { cause: err });
      }
      if (content === undefined) throw new Error(`could not read zip entry ${entry.name}`);
      const clean = await this.bytes(content, depth + 1);
      if (clean !== content) changed = true;
      entries.push({ ...entry, content: clean });
    }
    if (!changed) return data;

    const chunks: Uint8Array[] = [];
    let failure: Error | null = null;
    const archive = new Zip((err, chunk) => {
      if (err) failure = err;
      else chunks.push(chunk);
    });
    for (const { name, stored, content } of entries) {
      await yieldToEventLoop();
      const file = stored ? new ZipPassThrough(name) : new ZipDeflate(name, { level: 6 });
      archive.add(file);
      file.push(content, true);
    }
    archive.end();
    if (failure) throw new Error('could not rewrite a zip', { cause: failure });
    return Buffer.concat(chunks);
  }

}

function patternsFor(secret: string): Pattern[] {
  const text = (needle: string, marker = REDACTED): Pattern => ({ needle: Buffer.from(needle), marker: Buffer.from(marker), filler: 0x2a /* * */ });
  const out = [text(secret)];
  const json = JSON.stringify(secret).slice(1, -1);
  if (json !== secret) out.push(text(json));
  const html = secret.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  if (html !== secret) out.push(text(html), text(secret.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')));
  const percent = encodeURIComponent(secret);
  if (percent !== secret) {
    const marker = encodeURIComponent(REDACTED);
    out.push(text(percent, marker), text(percent.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()), marker));
    const form = new URLSearchParams({ v: secret }).toString().slice(2);
    if (form !== percent) out.push(text(form, marker));
  }
  for (const fragment of base64Fragments(Buffer.from(secret))) {
    // Same length in the base64 alphabet: the surrounding base64 still decodes.
    out.push({ needle: Buffer.from(fragment), marker: Buffer.alloc(fragment.length, 'A'), filler: 0x41 });
  }
  return out.filter((p) => p.needle.length > 0);
}

/**
 * The base64 characters that depend on the value's bytes alone, for the value
 * starting at each offset modulo 3 inside a longer base64 text; standard and
 * URL-safe alphabets.
 */
export function base64Fragments(value: Buffer): string[] {
  const out = new Set<string>();
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), value]).toString('base64');
    // Character i holds bits [6i, 6i + 6); keep those inside the value's bits.
    const fragment = encoded.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + value.length)) / 6));
    if (fragment.length < MIN_FRAGMENT_CHARS) continue;
    out.add(fragment);
    out.add(fragment.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return [...out];
}

function replaceAll(data: Buffer, patterns: readonly Pattern[], mode: 'text' | 'binary'): Buffer {
  let current = data;
  for (const pattern of patterns) {
    let at = current.indexOf(pattern.needle);
    if (at === -1) continue;
    const replacement = mode === 'text' ? pattern.marker : Buffer.alloc(pattern.needle.length, pattern.filler);
    const parts: Buffer[] = [];
    let from = 0;
    while (at !== -1) {
      parts.push(current.subarray(from, at), replacement);
      from = at + pattern.needle.length;
      at = current.indexOf(pattern.needle, from);
    }
    parts.push(current.subarray(from));
    current = Buffer.concat(parts);
  }
  return current;
}
