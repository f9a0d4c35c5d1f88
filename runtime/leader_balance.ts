/**
 * Leader balancing. Every partition has a preferred leader (the first of its replicas: the
 * first voter of its initial placement still in the group), and placement spreads preferred
 * leaders evenly over the nodes. After failures, leadership piles
 * up on the survivors; this hands each partition back once its preferred replica is caught up
 * and responsive, using Raft's leadership transfer (dissertation, section 3.10).
 *
 * @module
 */
import type { NodeId } from "../raft/types.ts";
import type { Replica } from "./replica.ts";

/**
 * Starts a leadership transfer for every partition this node leads that its preferred replica
 * could take over now.
 *
 * @param replicas This node's replicas.
 * @param preferredOf Each partition's preferred leader.
 * @param self This node.
 * @param keep Partitions an operator moved to this node: they stay.
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
): number {
  let started = 0;
  for (const r of replicas) {
    if (!r.node.isLeader || r.fatal || keep.has(r.partition)) continue;
    const preferred = preferredOf(r.partition);
    if (preferred === self) continue;
    const status = r.node.status();
    const target = status.followers.find((f) => f.id === preferred);
    if (target?.voter && target.recentActive && target.matchIndex === status.lastLogIndex) {
      r.node.transferLeadership(preferred);
      started++;
    }
  }
  return started;
}
