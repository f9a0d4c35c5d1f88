/**
 * `snapshot restore <file> --data-dir <dir> --id <n> --peers <list>`: builds a new node's data
 * directory from a backup, with no cluster running, as etcd's `snapshot restore` does. Run it
 * once per node of the new cluster, with the same file and `--peers`, then start each node with
 * `serve` on its directory.
 *
 * Every partition the node will replicate starts from the backup's copy of it, installed as a
 * Raft snapshot at the index it was taken at (term 1), recording the new placement as its
 * membership. All replicas of a partition then hold the same snapshot, so their logs agree from
 * the start; the first leader's term is 2. Versions stay as they were (they are made of the
 * partition and index), and so do sessions and expiry times.
 *
 * @module
 */
import { PartitionMap } from "../partition/placement.ts";
import { openStorage, type StorageKind } from "../server/node.ts";
import { MemberTable } from "../server/member_table.ts";
import type { Snapshot } from "./snapshot.ts";

/** Where and as what the restored node starts. */
export interface RestoreTarget {
  /** The new data directory: it must not exist, or be empty. */
  readonly dataDir: string;
  /** The node's id. */
  readonly id: number;
  /** Every node of the new cluster, by id. */
  readonly peers: ReadonlyMap<number, string>;
  /** The new cluster's name. */
  readonly cluster: string;
  /** Replicas per partition. */
  readonly replicationFactor: number;
  /** The storage backend. */
  readonly storage: StorageKind;
}

/**
 * Writes a node's data directory from a version 2 backup.
 *
 * @param snapshot The backup (read and checked by `readSnapshot`).
 * @param target The node and cluster to restore as.
 * @returns How many partitions the node replicates, and how many keys they hold.
 * @throws {Error} For a version 1 backup (keys only: restore it into a running cluster) or a
 *   directory that is not empty.
 */
export async function restoreDataDir(
  snapshot: Snapshot,
  target: RestoreTarget,
): Promise<{ partitions: number; keys: number }> {
  if (!snapshot.copies) {
    throw new Error(
      "this backup is format version 1 (keys only): restore it into a running cluster, " +
        "without --data-dir",
    );
  }
  if (target.storage === "memory") throw new Error("--storage memory keeps nothing to restore");
  const entries = await Array.fromAsync(Deno.readDir(target.dataDir)).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  });
  if (entries.length > 0) throw new Error(`${target.dataDir} is not empty: restore into a new one`);
  const placement = [...target.peers.keys()].sort((a, b) => a - b);
  const map = new PartitionMap(placement, snapshot.partitions, target.replicationFactor);
  const storage = await openStorage(target.storage, target.dataDir, {
    id: target.id,
    partitions: snapshot.partitions,
    cluster: target.cluster,
    placement,
    allowBlankStart: true,
  });
  let keys = 0;
  const mine = map.partitionsOf(target.id);
  try {
    for (const copy of snapshot.copies) {
      if (!mine.includes(copy.partition)) continue;
      keys += snapshot.entries.filter((e) => map.partitionOf(e.key) === copy.partition).length;
      await storage.write([{
        partition: copy.partition,
        hardState: { term: 1, votedFor: 0, commitIndex: copy.index },
        snapshot: {
          meta: {
            index: copy.index,
            term: 1,
            membership: { voters: map.replicas(copy.partition), learners: [] },
          },
          data: copy.state,
        },
      }]);
    }
  } finally {
    await storage.close();
  }
  await MemberTable.create({
    cluster: target.cluster,
    partitions: snapshot.partitions,
    replicationFactor: target.replicationFactor,
    placement,
    members: Object.fromEntries(
      [...target.peers].map(([id, address]) => [id, { address, version: 1, removed: false }]),
    ),
  }, target.dataDir).save();
  return { partitions: mine.length, keys };
}
