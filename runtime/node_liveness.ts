/**
 * Node liveness, for quiet partitions (see `docs/quiescence.md`). A quiet follower never times
 * out, so the node watches its peers instead of each partition watching its leader: every
 * {@linkcode PING_TICKS} ticks a node tells each peer it is alive and which partitions it leads,
 * and a quiet follower is woken when its leader's node falls silent for an election timeout, or
 * says it no longer leads that partition.
 *
 * @module
 */
import { majority } from "../raft/quorum.ts";
import type { NodeId } from "../raft/types.ts";
import type { Replica } from "./replica.ts";

/** Ticks between liveness pings to each peer. */
export const PING_TICKS = 3;

/**
 * The partitions these replicas lead now, as a bitset (bit `p` of byte `p / 8`). A stopped
 * replica leads nothing.
 *
 * @param replicas A node's replicas.
 * @param partitions The cluster's partition count.
 * @returns The bitset.
 *
 * @example Usage
 * ```ts ignore
 * transport.ping(peer, leadingBitset(replicas, 8));
 * ```
 */
export function leadingBitset(replicas: Iterable<Replica>, partitions: number): Uint8Array {
  const bits = new Uint8Array(Math.ceil(partitions / 8));
  for (const r of replicas) {
    if (r.node.isLeader && !r.fatal) bits[r.partition >> 3] |= 1 << (r.partition & 7);
  }
  return bits;
}

/**
 * Whether a leadership bitset lists a partition (bits past its end are clear).
 *
 * @param bits The bitset.
 * @param partition The partition.
 * @returns `true` when the sender leads it.
 *
 * @example Usage
 * ```ts
 * import { isLeading } from "@prkdb/prkdb/runtime";
 * console.log(isLeading(new Uint8Array([0b10]), 1), isLeading(new Uint8Array([0b10]), 9)); // true false
 * ```
 */
export function isLeading(bits: Uint8Array, partition: number): boolean {
  return ((bits[partition >> 3] ?? 0) & (1 << (partition & 7))) !== 0;
}

/**
 * When each peer was last heard from (any batch, or a ping).
 *
 * @example Usage
 * ```ts
 * import { NodeLiveness } from "@prkdb/prkdb/runtime";
 * const liveness = new NodeLiveness(0);
 * liveness.heard(2, 500);
 * console.log(liveness.silentFor(2, 800), liveness.silentFor(3, 800)); // 300 800
 * ```
 */
export class NodeLiveness {
  readonly #lastHeard = new Map<NodeId, number>();
  readonly #started: number;

  /**
   * Starts watching.
   *
   * @param started When this node started: a peer never heard from counts as heard then.
   */
  constructor(started: number) {
    this.#started = started;
  }

  /**
   * Notes that `node` was heard from.
   *
   * @param node The peer.
   * @param now The time, in milliseconds.
   */
  heard(node: NodeId, now: number): void {
    this.#lastHeard.set(node, now);
  }

  /**
   * How long `node` has been silent.
   *
   * @param node The peer.
   * @param now The time, in milliseconds.
   * @returns Milliseconds since it was last heard from.
   */
  silentFor(node: NodeId, now: number): number {
    return now - (this.#lastHeard.get(node) ?? this.#started);
  }
}

/**
 * Wakes the quiet followers whose leader is gone, as `gone` decides from the leader they follow
 * and their partition (`0` for no known leader).
 *
 * @param replicas A node's replicas.
 * @param gone Whether a replica's leader is gone.
 * @returns The replicas woken (they have work now).
 *
 * @example Usage
 * ```ts ignore
 * for (const r of wakeOrphans(replicas, (leader) => leader === 0)) dirty.add(r);
 * ```
 */
export function wakeOrphans(
  replicas: Iterable<Replica>,
  gone: (leader: NodeId, partition: number) => boolean,
): Replica[] {
  const woken: Replica[] = [];
  for (const r of replicas) {
    if (!r.node.quiescent || r.node.isLeader || !gone(r.node.leaderId, r.partition)) continue;
    r.node.wake();
    woken.push(r);
  }
  return woken;
}

/**
 * Wakes the quiet leaders that can no longer hear a majority of their voters' nodes, so that
 * CheckQuorum runs again: such a leader steps down after an election timeout (and says so in
 * its events and metrics) instead of believing it leads a group it cannot reach.
 *
 * @param replicas A node's replicas.
 * @param silent Whether a node has been silent for an election timeout.
 * @returns The replicas woken (they have work now).
 *
 * @example Usage
 * ```ts ignore
 * for (const r of wakeIsolatedLeaders(replicas, (id) => liveness.silentFor(id, now) > ms)) dirty.add(r);
 * ```
 */
export function wakeIsolatedLeaders(
  replicas: Iterable<Replica>,
  silent: (node: NodeId) => boolean,
): Replica[] {
  const woken: Replica[] = [];
  for (const r of replicas) {
    if (!r.node.quiescent || !r.node.isLeader) continue;
    const { voters } = r.node.membership;
    const heard = voters.filter((id) => id === r.node.id || !silent(id)).length;
    if (heard >= majority(voters.length)) continue;
    r.node.wake();
    woken.push(r);
  }
  return woken;
}
