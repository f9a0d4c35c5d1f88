import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { ManualClock } from "../runtime/clock.ts";
import { MultiRaftHost } from "../runtime/multi_raft_host.ts";
import { MemoryStorage } from "../storage/memory_storage.ts";
import { MemoryNetwork } from "../partition/transport.ts";
import { FileStorage } from "../storage/file_storage.ts";
import { PrkDbMetrics } from "../telemetry/prkdb_metrics.ts";
import { waitFor } from "../tests/support/wait.ts";
import { AppliedCounter, nodeHealth, type NodeHealthJson } from "./health.ts";
import { startNodeServer } from "./node_server.ts";

Deno.test("health: a node whose disk is full answers 503 with the reason", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-health-" });
  const storage = await FileStorage.open(dir, { segmentBytes: 1 });
  // Every segment the store creates from now on is /dev/full: each write to it fails with ENOSPC.
  for (let seq = 2; seq < 6; seq++) {
    await Deno.symlink("/dev/full", join(dir, "wal", `${String(seq).padStart(20, "0")}.wal`));
  }
  const net = new MemoryNetwork();
  const host = await MultiRaftHost.start({
    nodeId: 1,
    members: [1],
    partitions: 2,
    storage,
    transport: net.transport(1),
    tickMs: 5,
  });
  const metrics = new PrkDbMetrics(1, {
    partitions: () => host.status(),
    replication: () => host.replication(),
    loopUtilization: () => 0,
  });
  const server = await startNodeServer({
    host,
    cluster: "prkdb",
    nodes: new Map([[1, "http://127.0.0.1:0"]]),
    hostname: "127.0.0.1",
    port: 0,
    metrics,
    applied: new AppliedCounter(),
  });
  try {
    // The node elects itself and persists that; the segment is full, and the next is /dev/full.
    await waitFor("the storage to fail", () => host.failure);
    const response = await fetch(`http://127.0.0.1:${server.port}/health`);
    const body: NodeHealthJson = await response.json();
    assertEquals([response.status, body.healthy], [503, false]);
    assertStringIncludes(body.reason ?? "", "storage failed");
    assertStringIncludes(body.reason ?? "", "Disk full");
    assert(host.failure instanceof Error);
  } finally {
    await server.close();
    await host.stop().catch(() => {});
    await metrics.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("health: a partition whose log holds an entry that does not apply stops and says why", async () => {
  const host = await MultiRaftHost.start({
    nodeId: 2,
    members: [1, 2],
    partitions: 1,
    replicationFactor: 2,
    storage: new MemoryStorage(),
    transport: { send() {}, close: () => Promise.resolve() },
    clock: new ManualClock(),
    drive: "manual",
  });
  const metrics = new PrkDbMetrics(2);
  try {
    // A member's AppendEntries carries a committed entry whose command does not decode.
    const poison = { index: 1, term: 1, type: "normal" as const, data: new Uint8Array([9, 9, 9]) };
    host.receive(1, [{
      partition: 0,
      message: {
        type: "AppendEntries",
        from: 1,
        to: 2,
        term: 1,
        prevLogIndex: 0,
        prevLogTerm: 0,
        entries: [poison],
        leaderCommit: 1,
      },
    }]);
    await host.flush();
    const health = nodeHealth(host, metrics);
    assertEquals([health.healthy, health.partitions[0].healthy], [false, false]);
    assertStringIncludes(health.partitions[0].reason ?? "", "could not be applied");
    assertStringIncludes(health.reason ?? "", "unknown operation 9");
    const error = await host.get(new TextEncoder().encode("k"), "stale").catch((e) => e);
    assertStringIncludes(String(error), "stopped on this node");
  } finally {
    await host.stop();
    await metrics.shutdown();
  }
});
