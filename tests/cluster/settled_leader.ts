/**
 * Waiting for a partition's leadership to settle on its preferred replica, where leader
 * balancing puts it. A test that kills a follower from a leader that is not yet the preferred
 * one races the balancer, which may hand leadership away mid-test.
 */
import type { PrkDbClient } from "../../client/mod.ts";
import { waitFor } from "../support/wait.ts";

/**
 * Waits until the partition is led by its preferred replica (the first of its replicas).
 *
 * @param db A client connected to the cluster.
 * @param partition The partition.
 * @returns The leader's node id.
 */
export function settledLeader(db: PrkDbClient, partition = 0): Promise<number> {
  return waitFor(
    `partition ${partition}'s preferred replica to lead`,
    async () => {
      const p = (await db.refresh()).partitions[partition];
      return p.leader === p.replicas[0] ? p.leader : undefined;
    },
    15_000,
    100,
  );
}
