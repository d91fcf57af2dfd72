import type { Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { StorageKind } from '../metrics/storage-metrics.ts';

/**
 * Folders in a run's folder that hold its Playwright HTML report: `report/`,
 * the `.blob/` reports it is merged from, and their temp siblings while
 * being written (`report.tmp-…`).
 */
const REPORT_FOLDER = /^\.?(report|blob)(\b|$)/;

/** Entries stat'ed at once: enough to keep the disk busy, few enough to leave file handles for requests. */
const STAT_CONCURRENCY = 32;

/** What the artifacts folder holds; the database measures itself (`Store.sizeBytes`), on whichever engine. */
export type FolderKind = Exclude<StorageKind, 'database'>;

export interface Measurement {
  readonly bytes: Record<FolderKind, number>;
  /** Entries that could not be read (other than ones removed meanwhile): left out of the sizes. */
  readonly unreadable: number;
}

/**
 * Sizes of what the artifacts folder keeps, reports apart from the rest,
 * walked asynchronously so a large folder never holds up a request.
 */
export async function measureArtifacts(artifactsDir: string, signal?: AbortSignal): Promise<Measurement> {
  const walk = new Walk();
  let artifacts = 0;
  let reports = 0;
  for (const run of await walk.entries(artifactsDir)) {
    // Between run folders, so a shutdown does not wait for a walk of the whole history.
    signal?.throwIfAborted();
    const at = path.join(artifactsDir, run.name);
    if (!run.isDirectory()) {
      artifacts += await walk.bytes(at, run);
      continue;
    }
    for (const child of await walk.entries(at)) {
      const size = await walk.bytes(path.join(at, child.name), child);
      if (child.isDirectory() && REPORT_FOLDER.test(child.name)) reports += size;
      else artifacts += size;
    }
  }
  return { bytes: { artifacts, reports }, unreadable: walk.unreadable };
}

class Walk {
  unreadable = 0;

  async entries(dir: string): Promise<Dirent[]> {
    try {
      return await readdir(dir, { withFileTypes: true });
    } catch (err) {
      this.failed(err);
      return [];
    }
  }

  async fileBytes(file: string): Promise<number> {
    try {
      return (await lstat(file)).size;
    } catch (err) {
      this.failed(err);
      return 0;
    }
  }

  /** Bytes of the files in an entry, recursively; symbolic links count as themselves, never followed. */
  async bytes(at: string, entry: Dirent): Promise<number> {
    if (!entry.isDirectory()) return this.fileBytes(at);
    const children = await this.entries(at);
    let total = 0;
    for (let i = 0; i < children.length; i += STAT_CONCURRENCY) {
      const sizes = await Promise.all(children.slice(i, i + STAT_CONCURRENCY).map((c) => this.bytes(path.join(at, c.name), c)));
      for (const size of sizes) total += size;
    }
    return total;
  }

  /** A file or folder removed while the walk went by is not a problem: it just holds nothing now. */
  private failed(err: unknown): void {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.unreadable++;
  }
}
