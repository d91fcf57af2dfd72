import { lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

/** Folders removed at once. */
const REMOVE_CONCURRENCY = 8;

/** Names a run's artifacts folder can have (the store's run ids); anything else in the folder is not ours to remove. */
const RUN_FOLDER = /^run_[a-z0-9]+$/;

export interface Removal {
  readonly removed: number;
  readonly failures: readonly { readonly folder: string; readonly err: unknown }[];
}

/** Removes `<artifactsDir>/<runId>/` of each run that has one (its report and blobs with it); counts those that were there. */
export async function removeRunFolders(artifactsDir: string, runIds: readonly string[]): Promise<Removal> {
  let removed = 0;
  const failures: { folder: string; err: unknown }[] = [];
  for (let i = 0; i < runIds.length; i += REMOVE_CONCURRENCY) {
    await Promise.all(
      runIds.slice(i, i + REMOVE_CONCURRENCY).map(async (id) => {
        const folder = path.join(artifactsDir, id);
        try {
          await rm(folder, { recursive: true });
          removed++;
        } catch (err) {
          // A run that failed before writing anything has no folder.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') failures.push({ folder, err });
        }
      }),
    );
  }
  return { removed, failures };
}

/** The run folders in the artifacts folder, by run id; none when the folder does not exist yet. */
export async function runFolders(artifactsDir: string): Promise<string[]> {
  try {
    const entries = await readdir(artifactsDir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && RUN_FOLDER.test(e.name)).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`cannot list the artifacts folder ${artifactsDir} (storage.artifacts)`, { cause: err });
  }
}

/**
 * Of these folders with no run row, those last changed before `beforeMs`:
 * a crash between deleting a run's row and its folder leaves one behind, and
 * a recent one may belong to a database restored from a backup.
 */
export async function staleFolders(artifactsDir: string, runIds: readonly string[], beforeMs: number): Promise<string[]> {
  const stale = await Promise.all(
    runIds.map(async (id) => {
      try {
        return (await lstat(path.join(artifactsDir, id))).mtimeMs < beforeMs ? id : undefined;
      } catch {
        // Gone meanwhile, or unreadable: the next pass looks again.
        return undefined;
      }
    }),
  );
  return stale.filter((id): id is string => id !== undefined);
}
