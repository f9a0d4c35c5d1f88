/**
 * Leader balancing. Every partition has a preferred leader (the first of its replicas: the
 * first voter of its initial placement still in the group), and placement spreads preferred
 * leaders evenly over the nodes. After failures, leadership piles
 * up on the survivors; this hands each partition back once its preferred replica is nearly caught
 * up and responsive, using Raft's leadership transfer (dissertation, section 3.10), which brings
 * the new leader the rest of the log before it takes over.
 *
 * Leadership also follows a partition's writers. When nearly all of its recent writes came
 * through one of its voters ({@linkcode FOLLOW_SHARE} of at least {@linkcode FOLLOW_MIN_WRITES},
 * counted by {@linkcode WriteOrigins}), that voter leads it instead: a write sent to a follower
 * costs two more hops between nodes (passed on to the leader, answered back), and an application
 * that talks to one node no longer pays them. Moving takes more than staying, so leadership does
 * not swing back and forth on a share near the line: a partition stays while one node still
 * sends most of its writes ({@linkcode HOLD_SHARE} of at least {@linkcode HOLD_MIN_WRITES}), and a
 * leader hands it on for its writes only after leading it {@linkcode FOLLOW_TENURE_PASSES}
 * passes. Writes from everywhere, or hardly any for a few passes, send it back to its preferred
 * replica, so a spread load keeps the leaders spread.
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

/** The fewest recent writes that keep a partition where it is. */
export const HOLD_MIN_WRITES = 8;

/** The share of recent writes one node must still send to keep a partition where it is. */
export const HOLD_SHARE = 0.5;

/** Balancing passes a leader leads a partition before it hands it on for its writes. */
export const FOLLOW_TENURE_PASSES = 3;

/**
 * How many entries a replica may still lack to be handed leadership. Under a steady load a
 * follower is nearly always a round behind, never exactly caught up.
 */
export const TRANSFER_LAG_ENTRIES = 64;

/**
 * Why a leader handed its partition on: back to its `preferred` replica, or to the node its
 * `writes` come through.
 *
 * @example Usage
 * ```ts
 * import type { HandOffReason } from "@prkdb/prkdb/runtime";
 * const reason: HandOffReason = "writes";
 * ```
 */
export type HandOffReason = "preferred" | "writes";

/**
 * What {@linkcode balanceLeaders} weighs besides the preferred replicas.
 *
 * @example Usage
 * ```ts
 * import { type BalanceInputs, WriteOrigins } from "@prkdb/prkdb/runtime";
 * const inputs: BalanceInputs = { keep: new Set([3]), origins: new WriteOrigins(1) };
 * ```
 */
export interface BalanceInputs {
  /** Partitions an operator moved to this node: they stay. */
  keep?: ReadonlySet<number>;
  /** Where writes came from; without it, leadership does not follow writers. */
  origins?: WriteOrigins;
  /** Balancing passes this node has led each partition, this one included. */
  tenure?: (partition: number) => number;
  /** Sees each transfer started. */
  onHandOff?: (partition: number, to: NodeId, reason: HandOffReason) => void;
}

/**
 * Starts a leadership transfer for every partition this node leads that another replica should
 * lead and could take over now (a voter that answers, is being sent entries, and lacks at most
 * {@linkcode TRANSFER_LAG_ENTRIES}): the voter nearly all its writes come through, else, unless
 * one node still sends most of them, its preferred replica.
 *
 * @param replicas This node's replicas.
 * @param preferredOf Each partition's preferred leader.
 * @param self This node.
 * @param inputs Pinned partitions, where writes come from, and who sees the transfers.
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
  inputs: BalanceInputs = {},
): number {
  const { keep, origins, tenure, onHandOff } = inputs;
  let started = 0;
  for (const r of replicas) {
    const p = r.partition;
    if (!r.node.isLeader || r.fatal || keep?.has(p)) continue;
    const status = r.node.status();
    const voter = (id: NodeId | undefined) => status.followers.find((f) => f.id === id && f.voter);
    const ready = (id: NodeId) => {
      const f = voter(id);
      return f !== undefined && f.recentActive && f.state === "replicate" &&
        status.lastLogIndex - f.matchIndex <= TRANSFER_LAG_ENTRIES;
    };
    let to = preferredOf(p), reason: HandOffReason = "preferred";
    if (origins) {
      const writer = origins.dominant(p, FOLLOW_MIN_WRITES, FOLLOW_SHARE)?.node;
      const holder = origins.dominant(p, HOLD_MIN_WRITES, HOLD_SHARE)?.node;
      if (writer !== self && voter(writer) && (tenure?.(p) ?? Infinity) >= FOLLOW_TENURE_PASSES) {
        [to, reason] = [writer!, "writes"];
      } else if (holder === self || voter(holder)) {
        // Most writes still come through here, or through a voter on its way to taking over.
        continue;
      }
    }
    if (to === self || !ready(to)) continue;
    r.node.transferLeadership(to);
    onHandOff?.(p, to, reason);
    started++;
  }
  return started;
}
