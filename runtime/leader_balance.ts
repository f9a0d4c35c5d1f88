/**
 * Leader balancing. Every partition has a preferred leader (the first of its replicas: the
 * first voter of its initial placement still in the group), and placement spreads preferred
 * leaders evenly over the nodes. After failures, leadership piles
 * up on the survivors; this hands each partition back once its preferred replica is nearly caught
 * up and responsive, using Raft's leadership transfer (dissertation, section 3.10), which brings
 * the new leader the rest of the log before it takes over.
 *
 * Leadership also follows a partition's writers. When nearly all of its recent writes came
 * through one node ({@linkcode FOLLOW_SHARE} of at least {@linkcode FOLLOW_MIN_WRITES}, counted
 * by {@linkcode WriteOrigins}), that node leads it instead: a write sent to a follower costs two
 * more hops between nodes (passed on to the leader, answered back), and an application that talks
 * to one node no longer pays them. A partition whose writes come from everywhere, or that went
 * quiet, goes back to its preferred replica, so a spread load keeps the leaders spread.
 *
 * @module
 */
import type { NodeId } from "../raft/types.ts";
import type { Replica } from "./replica.ts";
import type { WriteOrigins } from "./write_origins.ts";

/** The fewest recent writes (as the tally weighs them) that move a partition's leadership. */
export const FOLLOW_MIN_WRITES = 32;

/** The share of a partition's recent writes one node must have sent to lead it. */
export const FOLLOW_SHARE = 0.9;

/**
 * How many entries a replica may still lack to be handed leadership. Under a steady load a
 * follower is nearly always a round behind, never exactly caught up.
 */
export const TRANSFER_LAG_ENTRIES = 64;

/**
 * Why a leader handed its partition on: back to its `preferred` replica, or to the node its
 * `writes` come through.
 */
export type HandOffReason = "preferred" | "writes";

/**
 * Starts a leadership transfer for every partition this node leads that another replica should
 * lead and could take over now (it answers, and lacks at most {@linkcode TRANSFER_LAG_ENTRIES}):
 * the node nearly all its writes come through, else its preferred replica.
 *
 * @param replicas This node's replicas.
 * @param preferredOf Each partition's preferred leader.
 * @param self This node.
 * @param keep Partitions an operator moved to this node: they stay.
 * @param origins Where writes came from; without it, leadership does not follow writers.
 * @param onHandOff Sees each transfer started.
 * @returns How many transfers started.
 *
 * @example Usage
 * ```ts
 * import { balanceLeaders } from "@prkdb/prkdb/runtime";
 * console.log(balanceLeaders([], () => 1, 1)); // 0
 * ```
 */
export function balanceLeaders(
  replicas: Iterable<Replica>,
  preferredOf: (partition: number) => NodeId,
  self: NodeId,
  keep: ReadonlySet<number> = new Set(),
  origins?: WriteOrigins,
  onHandOff?: (partition: number, to: NodeId, reason: HandOffReason) => void,
): number {
  let started = 0;
  for (const r of replicas) {
    if (!r.node.isLeader || r.fatal || keep.has(r.partition)) continue;
    const status = r.node.status();
    // A voter that answers and holds nearly the whole log: the transfer sends it the rest
    // first, while new writes wait (they are refused as retryable only if it takes too long).
    const ready = (id: NodeId) => {
      const f = status.followers.find((f) => f.id === id);
      return f !== undefined && f.voter && f.recentActive &&
        status.lastLogIndex - f.matchIndex <= TRANSFER_LAG_ENTRIES;
    };
    const writer = origins?.dominant(r.partition, FOLLOW_MIN_WRITES, FOLLOW_SHARE)?.node;
    // Its writers come through here: it stays. Through a voter of the group: it goes there,
    // once that voter is caught up. Through a node without a vote here: as if spread.
    if (writer === self) continue;
    const voter = writer !== undefined && status.followers.some((f) => f.id === writer && f.voter);
    const [to, reason]: [NodeId, HandOffReason] = voter
      ? [writer, "writes"]
      : [preferredOf(r.partition), "preferred"];
    if (to === self || !ready(to)) continue;
    r.node.transferLeadership(to);
    onHandOff?.(r.partition, to, reason);
    started++;
  }
  return started;
}
