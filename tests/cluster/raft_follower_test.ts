/**
 * An asynchronous read replica following a real Raft cluster's partitions.
 */
import { assert, assertEquals } from "@std/assert";
import { PrkDbClient } from "../../client/mod.ts";
import { RaftFollower } from "../../async_replicas/raft_follower.ts";
import { waitFor } from "../support/wait.ts";
import { ProcessCluster } from "./processes.ts";

Deno.test("RaftFollower: follows every partition (from a snapshot when behind compaction), monotonically", async () => {
  const c = await ProcessCluster.start(3, { partitions: 2, compactEntries: 20 });
  const replica = new RaftFollower({
    id: "replica-1",
    nodes: [...c.urls.values()],
    pollIntervalMs: 50,
  });
  try {
    const db = await PrkDbClient.connect([...c.urls.values()]);
    for (let i = 0; i < 80; i++) await db.put(`k${i}`, `v${i}`);
    await replica.start();
    await waitFor(
      "the replica to have every key",
      () => replica.getText("k79") === "v79" && replica.getText("k0") === "v0",
    );
    assert(
      replica.snapshotsInstalled > 0,
      "it started behind the compaction point, so from a snapshot",
    );
    const seen = replica.offsets();
    for (let i = 0; i < 30; i++) await db.put(`k${i}`, `w${i}`);
    await db.delete("k79");
    await waitFor(
      "the replica to follow the new writes",
      () => replica.getText("k29") === "w29" && replica.getText("k79") === undefined,
    );
    for (const [p, index] of replica.offsets()) {
      assert(index >= seen.get(p)!, `partition ${p} went back`);
    }
    await waitFor(
      "the replica to report itself caught up",
      () => replica.getHealth().outboxDrift === 0 && replica.getHealth().healthy,
    );
    assertEquals(replica.getHealth().error, undefined);
    assert(replica.getState().changesApplied > 0);
  } finally {
    await replica.stop();
    await c.stop();
  }
});
