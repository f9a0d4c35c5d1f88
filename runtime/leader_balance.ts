/**
 * Leader balancing. Every partition has a preferred leader (the first of its replicas), and
 * placement spreads preferred leaders evenly over the nodes. After failures, leadership piles
 * up on the survivors; this hands each partition back once its preferred replica is caught up
 * and responsive, using Raft's leadership transfer (dissertation, section 3.10).
 *
 * @module
 */
import type { NodeId } from "../raft/types.ts";
import type { PartitionMap } from "../partition/placement.ts";
import type { Replica } from "./replica.ts";

/**
 * Starts a leadership transfer for every partition this node leads that its preferred replica
 * could take over now.
 *
 * @param replicas This node's replicas.
 * @param map Where partitions live.
 * @param self This node.
 * @param keep Partitions an operator moved to this node: they stay.
 * @returns How many transfers started.
 *
 * @example Usage
 * ```ts
 * import { balanceLeaders } from "@prkdb/prkdb/runtime";
 * import { PartitionMap } from "@prkdb/prkdb/partition";
 * console.log(balanceLeaders([], new PartitionMap([1, 2, 3], 4, 3), 1)); // 0
 * ```
 */
export function balanceLeaders(
  replicas: Iterable<Replica>,
  map: PartitionMap,
  self: NodeId,
  keep: ReadonlySet<number> = new Set(),
): number {
  let started = 0;
  for (const r of replicas) {
    if (!r.node.isLeader || r.fatal || keep.has(r.partition)) continue;
    const preferred = map.replicas(r.partition)[0];
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
