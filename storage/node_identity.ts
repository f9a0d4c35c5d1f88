/**
 * A node's identity, kept in its data directory: which cluster and node the data belongs to,
 * how many partitions it holds, the membership it knew, and its storage backend and format.
 * Written once, at the first start, atomically and fsynced; checked at every start, so a data
 * directory is never served under another node's name or layout.
 *
 * ```json
 * { "cluster": "prkdb", "node": 2, "partitions": 8, "members": [1, 2, 3], "storage": "file", "storageFormat": 3 }
 * ```
 *
 * @module
 */
import { ifExists } from "./if_exists.ts";
import { join } from "@std/path";
import { FormatVersionError, NodeIdentityError, StorageError } from "./errors.ts";
import { syncDirectory } from "./snapshot_file.ts";

/** The identity file's name inside a data directory. */
export const IDENTITY_FILE = "identity.json";

/**
 * What a data directory belongs to.
 *
 * @example Usage
 * ```ts
 * import type { NodeIdentity } from "@prkdb/prkdb/storage";
 * const id: NodeIdentity = {
 *   cluster: "prkdb", node: 1, partitions: 8, members: [1, 2, 3], storage: "file", storageFormat: 2,
 * };
 * ```
 */
export interface NodeIdentity {
  /** The cluster's name (`--cluster`). */
  readonly cluster: string;
  /** This node's id. */
  readonly node: number;
  /** The number of partitions in the cluster. */
  readonly partitions: number;
  /** Every member's id, ascending: the membership this node knew. */
  readonly members: readonly number[];
  /** The storage backend. */
  readonly storage: "file" | "kv";
  /** The backend's on-disk format version. */
  readonly storageFormat: number;
}

/**
 * Reads a data directory's identity.
 *
 * @param dir The data directory.
 * @returns The identity, or undefined when the directory has none.
 * @throws {NodeIdentityError} When the file is damaged.
 *
 * @example Usage
 * ```ts
 * import { readNodeIdentity } from "@prkdb/prkdb/storage";
 * const dir = await Deno.makeTempDir();
 * console.log(await readNodeIdentity(dir)); // undefined
 * await Deno.remove(dir);
 * ```
 */
export async function readNodeIdentity(dir: string): Promise<NodeIdentity | undefined> {
  const path = join(dir, IDENTITY_FILE);
  const text = await ifExists(path, Deno.readTextFile);
  if (text === undefined) return undefined;
  let value: NodeIdentity;
  try {
    value = JSON.parse(text);
  } catch {
    throw new NodeIdentityError(path, "the identity file is damaged (not JSON); restore it");
  }
  const ok = typeof value?.cluster === "string" && Number.isSafeInteger(value.node) &&
    Number.isSafeInteger(value.partitions) && Array.isArray(value.members) &&
    value.members.every(Number.isSafeInteger) &&
    (value.storage === "file" || value.storage === "kv") &&
    Number.isSafeInteger(value.storageFormat);
  if (!ok) throw new NodeIdentityError(path, "the identity file is damaged (missing fields)");
  return value;
}

/**
 * Writes a data directory's identity: a temporary file, fsync, rename, fsync of the directory.
 *
 * @param dir The data directory.
 * @param identity The identity.
 *
 * @example Usage
 * ```ts
 * import { readNodeIdentity, writeNodeIdentity } from "@prkdb/prkdb/storage";
 * const dir = await Deno.makeTempDir();
 * await writeNodeIdentity(dir, { cluster: "c", node: 1, partitions: 4, members: [1], storage: "file", storageFormat: 2 });
 * console.log((await readNodeIdentity(dir))?.node); // 1
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeNodeIdentity(dir: string, identity: NodeIdentity): Promise<void> {
  const path = join(dir, IDENTITY_FILE);
  const tmp = `${path}.tmp`;
  try {
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      await file.write(new TextEncoder().encode(JSON.stringify(identity, null, 2) + "\n"));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
    await syncDirectory(dir);
  } catch (error) {
    throw new StorageError(`Cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
}

const ids = (members: readonly number[]) => [...members].sort((a, b) => a - b).join(",");

/**
 * Checks a stored identity against the one a node is started with.
 *
 * @param file The identity file, for messages.
 * @param stored What the data directory says.
 * @param started What the node was started as.
 * @throws {NodeIdentityError} Saying what differs.
 * @throws {FormatVersionError} When a newer PrkDB wrote the directory.
 *
 * @example A different node id is refused
 * ```ts
 * import { checkNodeIdentity, type NodeIdentity } from "@prkdb/prkdb/storage";
 * const stored: NodeIdentity = { cluster: "c", node: 2, partitions: 4, members: [1, 2, 3], storage: "file", storageFormat: 2 };
 * try {
 *   checkNodeIdentity("/data/identity.json", stored, { ...stored, node: 3 });
 * } catch (error) {
 *   console.log((error as Error).message.includes("belongs to node 2 of cluster c, started as node 3")); // true
 * }
 * ```
 */
export function checkNodeIdentity(file: string, stored: NodeIdentity, started: NodeIdentity): void {
  const refuse = (detail: string) => {
    throw new NodeIdentityError(file, detail);
  };
  if (stored.cluster !== started.cluster || stored.node !== started.node) {
    refuse(
      `this data dir belongs to node ${stored.node} of cluster ${stored.cluster}, started as node ${started.node} of cluster ${started.cluster}; check --id, --cluster and --data-dir`,
    );
  }
  if (stored.partitions !== started.partitions) {
    refuse(
      `this data dir holds ${stored.partitions} partitions, started with --partitions ${started.partitions}; the partition count of a cluster cannot change`,
    );
  }
  if (ids(stored.members) !== ids(started.members)) {
    refuse(
      `this node knew members ${ids(stored.members)}, started with --peers naming ${
        ids(started.members)
      }; membership cannot change yet, so start it with the same --peers ids`,
    );
  }
  if (stored.storage !== started.storage) {
    refuse(
      `this data dir holds ${stored.storage} storage, started with --storage ${started.storage}`,
    );
  }
  if (stored.storageFormat > started.storageFormat) {
    throw new FormatVersionError(file, stored.storageFormat, started.storageFormat);
  }
}
