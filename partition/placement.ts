/**
 * Where each partition's replicas live, and which of them should lead.
 *
 * @module
 */
import type { NodeId } from "../raft/types.ts";
import { CrossPartitionError } from "./errors.ts";
import { partitionForKey } from "./hash.ts";

/**
 * The partition map: `partitions` Raft groups over `nodes`, each replicated on
 * `replicationFactor` consecutive nodes (every node when there are fewer). Partition `p`'s
 * preferred leader is its first replica, so leaders spread evenly over the nodes.
 *
 * @example Usage
 * ```ts
 * import { PartitionMap } from "@prkdb/prkdb/partition";
 * const map = new PartitionMap([1, 2, 3, 4], 8);
 * console.log(map.replicas(5)); // [2, 3, 4]
 * ```
 */
export class PartitionMap {
  /** The member node ids, sorted. */
  readonly nodes: readonly NodeId[];
  /** How many partitions there are. */
  readonly partitions: number;
  /** Replicas per partition. */
  readonly replicationFactor: number;

  /**
   * Creates the map.
   *
   * @param nodes Every member node.
   * @param partitions How many partitions.
   * @param replicationFactor Replicas per partition (default 3, capped at the node count).
   */
  constructor(nodes: readonly NodeId[], partitions: number, replicationFactor = 3) {
    if (!Number.isSafeInteger(partitions) || partitions < 1) {
      throw new RangeError(`Partition count must be a positive integer, got ${partitions}`);
    }
    if (nodes.length === 0) throw new RangeError("A cluster needs at least one node");
    this.nodes = [...nodes].sort((a, b) => a - b);
    this.partitions = partitions;
    this.replicationFactor = Math.min(Math.max(1, replicationFactor), this.nodes.length);
  }

  /**
   * The nodes replicating a partition, its preferred leader first.
   *
   * @param partition The partition.
   * @returns Its replicas.
   */
  replicas(partition: number): NodeId[] {
    const n = this.nodes.length;
    return Array.from(
      { length: this.replicationFactor },
      (_, k) => this.nodes[(partition + k) % n],
    );
  }

  /**
   * The partitions a node replicates.
   *
   * @param node The node.
   * @returns Partition numbers, ascending.
   */
  partitionsOf(node: NodeId): number[] {
    return Array.from({ length: this.partitions }, (_, p) => p).filter((p) =>
      this.replicas(p).includes(node)
    );
  }

  /**
   * The partition a key belongs to.
   *
   * @param key The key.
   * @returns Its partition.
   */
  partitionOf(key: Uint8Array): number {
    return partitionForKey(key, this.partitions);
  }

  /**
   * The one partition of a write's keys, its checks' and its mutations' alike (0 for none). The
   * first key is hashed once, and so is any later key that is the same object: a write of one
   * key, the usual kind, hashes it once.
   *
   * @example Usage
   * ```ts
   * import { PartitionMap } from "@prkdb/prkdb/partition";
   * const map = new PartitionMap([1, 2, 3], 8);
   * const key = new TextEncoder().encode("{user:42}:profile");
   * const other = new TextEncoder().encode("{user:42}:orders");
   * console.log(map.partitionOfWrite([{ key }], [{ key }, { key: other }]) === map.partitionOf(key)); // true
   * ```
   *
   * @param checks The write's checks.
   * @param mutations Its mutations.
   * @returns The partition.
   * @throws {CrossPartitionError} When the keys fall into several partitions, naming them all.
   */
  partitionOfWrite(
    checks: readonly { readonly key: Uint8Array }[],
    mutations: readonly { readonly key: Uint8Array }[],
  ): number {
    const first = checks[0]?.key ?? mutations[0]?.key;
    if (first === undefined) return 0;
    const partition = this.partitionOf(first);
    if (
      this.#elsewhere(checks, first, partition) || this.#elsewhere(mutations, first, partition)
    ) {
      const all = [...checks, ...mutations].map((k) => this.partitionOf(k.key));
      throw new CrossPartitionError([...new Set(all)].sort((a, b) => a - b));
    }
    return partition;
  }

  /** Whether a key of `list` (other than `first`) falls outside `partition`. */
  #elsewhere(
    list: readonly { readonly key: Uint8Array }[],
    first: Uint8Array,
    partition: number,
  ): boolean {
    for (const { key } of list) {
      if (key !== first && this.partitionOf(key) !== partition) return true;
    }
    return false;
  }
}
