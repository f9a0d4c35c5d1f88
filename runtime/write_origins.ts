/**
 * Where each partition's writes come from. Clients send a write to any node; a node that does
 * not lead its partition passes it on to the leader. Every node counts, per partition, the writes
 * its own clients sent, and a leader also counts the writes other nodes passed on to it, by the
 * node that did. Leader balancing reads the tally: when nearly all of a partition's recent writes
 * come through one node, leadership moves there, and each of those writes then skips the hop to
 * the leader and back (see [leader_balance.ts](./leader_balance.ts)).
 *
 * The tally is halved at every balancing pass, so it weighs the last few passes most and forgets
 * a writer that went away.
 *
 * @module
 */
import type { NodeId } from "../raft/types.ts";

/**
 * A node's share of a partition's recent writes, as {@linkcode WriteOrigins.dominant} finds it.
 *
 * @example Usage
 * ```ts
 * import type { DominantWriter } from "@prkdb/prkdb/runtime";
 * const writer: DominantWriter = { node: 2, share: 0.95 };
 * ```
 */
export interface DominantWriter {
  /** The node most of the writes came through. */
  readonly node: NodeId;
  /** Its share of them, from 0 to 1. */
  readonly share: number;
}

/**
 * A decaying tally of writes per partition and per node they came through.
 *
 * @example Usage
 * ```ts
 * import { WriteOrigins } from "@prkdb/prkdb/runtime";
 * const origins = new WriteOrigins(1);
 * for (let i = 0; i < 40; i++) origins.record(3, 2); // passed on by node 2
 * origins.record(3); // sent here
 * console.log(origins.dominant(3, 30, 0.9)); // { node: 2, share: 0.975... }
 * origins.decay();
 * console.log(origins.dominant(3, 30, 0.9)); // undefined: 20 left (the lone write is forgotten)
 * ```
 */
export class WriteOrigins {
  readonly #self: NodeId;
  readonly #tallies = new Map<number, Map<NodeId, number>>();

  /**
   * Creates an empty tally.
   *
   * @param self This node: the origin of writes its own clients sent.
   */
  constructor(self: NodeId) {
    this.#self = self;
  }

  /**
   * Counts one write to `partition`.
   *
   * @param partition The write's partition.
   * @param origin The node its client sent it to: another node when that node passed it on
   *   here. Default: this node.
   */
  record(partition: number, origin: NodeId = this.#self): void {
    let tally = this.#tallies.get(partition);
    if (!tally) this.#tallies.set(partition, tally = new Map());
    tally.set(origin, (tally.get(origin) ?? 0) + 1);
  }

  /**
   * The node that at least `share` of `partition`'s recent writes came through, when there were
   * at least `minWrites` of them (as weighed by the decay).
   *
   * @param partition The partition.
   * @param minWrites Fewer writes than this say nothing.
   * @param share The smallest share that counts, from 0 to 1.
   * @returns The node and its share, or `undefined`.
   */
  dominant(partition: number, minWrites: number, share: number): DominantWriter | undefined {
    const tally = this.#tallies.get(partition);
    if (!tally) return undefined;
    let total = 0, top = 0, node = 0;
    for (const [origin, count] of tally) {
      total += count;
      if (count > top) [top, node] = [count, origin];
    }
    if (total < minWrites || top < share * total) return undefined;
    return { node, share: top / total };
  }

  /** Halves every count, and forgets the ones that fell below one write. */
  decay(): void {
    for (const [partition, tally] of this.#tallies) {
      for (const [origin, count] of tally) {
        if (count < 2) tally.delete(origin);
        else tally.set(origin, count / 2);
      }
      if (tally.size === 0) this.#tallies.delete(partition);
    }
  }
}
