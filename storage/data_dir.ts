/**
 * Opening a node's data directory: lock it, check its identity, check the files that identity
 * promises are there, open the storage backend, and record the identity on the first start.
 *
 * A node never starts with less than it promised. A directory with an identity must still hold
 * its store; a directory that exists but has no identity (emptied, or never used) starts blank
 * only when asked to explicitly, because a blank start forgets votes and acknowledged writes.
 *
 * @module
 */
import { ifExists } from "./if_exists.ts";
import { join } from "@std/path";
import { DataLossError, NodeIdentityError, StorageError } from "./errors.ts";
import { DataDirLock, LOCK_FILE } from "./data_dir_lock.ts";
import {
  checkNodeIdentity,
  IDENTITY_FILE,
  type NodeIdentity,
  readNodeIdentity,
  writeNodeIdentity,
} from "./node_identity.ts";
import type { PartitionState, PartitionWrite, RaftStorage } from "./raft_storage.ts";

/**
 * Options for {@linkcode openDataDir}.
 *
 * @example Usage
 * ```ts
 * import { FileStorage, type OpenDataDirOptions } from "@prkdb/prkdb/storage";
 * const options: OpenDataDirOptions = {
 *   identity: { cluster: "c", node: 1, partitions: 4, members: [1], storage: "file", storageFormat: 2 },
 *   open: (dir) => FileStorage.open(dir),
 * };
 * ```
 */
export interface OpenDataDirOptions {
  /** Who the node is started as. */
  identity: NodeIdentity;
  /** Opens the backend in the (locked, checked) directory. */
  open: (dir: string) => Promise<RaftStorage>;
  /** Start even though the directory exists without an identity (empty, or partly created). */
  allowBlankStart?: boolean;
}

/** The files each backend's store cannot lose, relative to the data directory. */
export const REQUIRED_FILES: Readonly<Record<NodeIdentity["storage"], readonly string[]>> = {
  file: ["high-water", "wal"],
  kv: ["prkdb.sqlite", "prkdb.sqlite.high-water"],
};

async function exists(path: string): Promise<boolean> {
  return (await ifExists(path, Deno.lstat)) !== undefined;
}

/** A store that releases the directory lock when it closes. */
class LockedStorage implements RaftStorage {
  readonly #inner: RaftStorage;
  readonly #lock: DataDirLock;

  constructor(inner: RaftStorage, lock: DataDirLock) {
    this.#inner = inner;
    this.#lock = lock;
  }

  load(partition: number): Promise<PartitionState> {
    return this.#inner.load(partition);
  }

  write(batch: readonly PartitionWrite[]): Promise<void> {
    return this.#inner.write(batch);
  }

  async close(): Promise<void> {
    try {
      await this.#inner.close();
    } finally {
      this.#lock.release();
    }
  }
}

/**
 * Opens a node's data directory and its store. A refused start changes nothing in it.
 *
 * @param dir The data directory (created when it does not exist).
 * @param options Who the node is, and how to open its backend.
 * @returns The store; closing it releases the directory.
 * @throws {DataDirLockedError} When another process has the directory open.
 * @throws {NodeIdentityError} When the directory belongs to another node or layout, or has no identity and no blank start was allowed.
 * @throws {DataLossError} When the identity says the node ran, but its store is gone.
 *
 * @example First start, then a restart as another node is refused
 * ```ts
 * import { FileStorage, NodeIdentityError, openDataDir } from "@prkdb/prkdb/storage";
 * const parent = await Deno.makeTempDir();
 * const dir = `${parent}/node-1`;
 * const identity = { cluster: "c", node: 1, partitions: 4, members: [1, 2, 3], storage: "file" as const, storageFormat: 2 };
 * const open = (d: string) => FileStorage.open(d);
 * await (await openDataDir(dir, { identity, open })).close();
 * try {
 *   await openDataDir(dir, { identity: { ...identity, node: 2 }, open });
 * } catch (error) {
 *   console.log(error instanceof NodeIdentityError); // true
 * }
 * await Deno.remove(parent, { recursive: true });
 * ```
 */
export async function openDataDir(dir: string, options: OpenDataDirOptions): Promise<RaftStorage> {
  const existed = await exists(dir);
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (error) {
    throw new StorageError(`Cannot use ${dir} as a data directory: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const lock = await DataDirLock.acquire(dir);
  try {
    const identityFile = join(dir, IDENTITY_FILE);
    const stored = await readNodeIdentity(dir);
    if (stored) {
      checkNodeIdentity(identityFile, stored, options.identity);
      for (const name of REQUIRED_FILES[stored.storage]) {
        const path = join(dir, name);
        if (!(await exists(path))) {
          throw new DataLossError(
            path,
            `${identityFile} shows node ${stored.node} ran here, but its store's ${name} is gone`,
          );
        }
      }
    } else if (existed && !options.allowBlankStart) {
      const names: string[] = [];
      for await (const e of Deno.readDir(dir)) if (e.name !== LOCK_FILE) names.push(e.name);
      throw new NodeIdentityError(
        identityFile,
        names.length === 0
          ? `${dir} exists but is empty. If this node ran here before, its data is lost, and starting blank would forget its votes and acknowledged writes. To start a new node here, pass --allow-blank-start`
          : `${dir} holds ${
            names.sort().join(", ")
          } but no identity file, so whose data it is cannot be checked. To start this node on it anyway, pass --allow-blank-start`,
      );
    }
    const storage = await options.open(dir);
    if (!stored) {
      try {
        await writeNodeIdentity(dir, options.identity);
      } catch (error) {
        await storage.close();
        throw error;
      }
    }
    return new LockedStorage(storage, lock);
  } catch (error) {
    lock.release();
    throw error;
  }
}
