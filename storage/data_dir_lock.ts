/**
 * One process per data directory: an exclusive OS lock (`flock`) on `<dir>/LOCK`, holding the
 * owner's process id. The kernel releases the lock when the process dies, however it dies, so a
 * crash never leaves a stale lock behind; the file itself is never deleted.
 *
 * @module
 */
import { join } from "@std/path";
import { DataDirLockedError, StorageError } from "./errors.ts";

/** The lock file's name inside a data directory. */
export const LOCK_FILE = "LOCK";

/**
 * An exclusive lock on a data directory.
 *
 * @example Only one holder at a time
 * ```ts
 * import { DataDirLock, DataDirLockedError } from "@prkdb/prkdb/storage";
 * const dir = await Deno.makeTempDir();
 * const lock = await DataDirLock.acquire(dir);
 * try {
 *   await DataDirLock.acquire(dir);
 * } catch (error) {
 *   console.log(error instanceof DataDirLockedError); // true
 * }
 * lock.release();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class DataDirLock {
  readonly #file: Deno.FsFile;
  #released = false;

  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /**
   * Takes the lock, or fails at once if another process (or handle) holds it.
   *
   * @param dir The data directory (must exist).
   * @returns The held lock.
   * @throws {DataDirLockedError} Naming the holder's process id.
   */
  static async acquire(dir: string): Promise<DataDirLock> {
    // A handle this very process closed a moment ago can hold the lock until the runtime has
    // finished closing it (seen under load, right after a refused start): look again, briefly.
    for (let attempt = 1;; attempt++) {
      try {
        return await DataDirLock.#tryAcquire(dir);
      } catch (error) {
        if (!(error instanceof DataDirLockedError) || error.pid !== Deno.pid || attempt >= 10) {
          throw error;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  static async #tryAcquire(dir: string): Promise<DataDirLock> {
    const path = join(dir, LOCK_FILE);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true, create: true });
    } catch (error) {
      throw new StorageError(`Cannot open ${path}: ${(error as Error).message}`, { cause: error });
    }
    let locked: boolean;
    try {
      locked = await file.tryLock(true);
    } catch (error) {
      file.close();
      throw new StorageError(`Cannot lock ${path}: ${(error as Error).message}`, { cause: error });
    }
    if (!locked) {
      file.close();
      const pid = Number.parseInt(await Deno.readTextFile(path).catch(() => ""), 10);
      throw new DataDirLockedError(path, Number.isSafeInteger(pid) ? pid : undefined);
    }
    // The holder's id, for the message a second process prints.
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
    return new DataDirLock(file);
  }

  /** Releases the lock (closing the file releases it too). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#file.close();
  }
}
