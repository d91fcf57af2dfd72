import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { unzipSync } from 'fflate';
import type { Logger } from 'pino';
import { describeError } from '../errors.ts';
import type { Scrubber } from './scrub.ts';

/**
 * Playwright's blob reports of a run, one `.zip` per runner invocation, from
 * which its HTML report is merged when first asked for (html-report.ts), and
 * removed then.
 * Inside the run's artifacts folder, where nothing is served unless a flow
 * result names it; a dot folder, so no invocation's output folder is it.
 */
export function blobFolder(runFolder: string): string {
  return path.join(runFolder, '.blob');
}

/** One invocation's blob (`run`, `target`, `baseline-1`, …): the names sort into the merged report's order of machines. */
export function blobFile(runFolder: string, invocation: string): string {
  return path.join(blobFolder(runFolder), `${invocation}.zip`);
}

/**
 * Keeps an invocation's blob only whole and free of secrets, once its runner
 * has exited. A runner killed while zipping (past the stop's grace) leaves
 * half a zip, whose compressed entries no scrubbing can read: such a blob is
 * removed, and the run simply has no HTML report. `scrubbedLater` when the
 * blob sits in a folder the caller scrubs whole anyway.
 */
export async function settleBlob(file: string, scrubber: Scrubber, logger: Logger, scrubbedLater: boolean): Promise<void> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    // No blob: the runner never reached its end (a crash, a kill); nothing to keep.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') await discardBlob(file, logger, err);
    return;
  }
  try {
    // Reads the central directory only, which a cut zip lacks.
    unzipSync(data, { filter: () => false });
  } catch (err) {
    await discardBlob(file, logger, err);
    return;
  }
  if (scrubbedLater) return;
  try {
    await scrubber.file(file);
  } catch (err) {
    await discardBlob(file, logger, err);
  }
}

async function discardBlob(file: string, logger: Logger, cause: unknown): Promise<void> {
  logger.warn({ blob: file, err: describeError(cause) }, 'removed an unusable Playwright blob report: the run will have no HTML report');
  await rm(file, { force: true }).catch(() => {
    // Left for retention; an unreadable blob fails its merge, which says so.
  });
}

/** True when `file` lies inside `folder` (or is it). */
export function isInside(folder: string, file: string): boolean {
  const relative = path.relative(folder, file);
  return !relative.startsWith('..') && !path.isAbsolute(relative);
}
