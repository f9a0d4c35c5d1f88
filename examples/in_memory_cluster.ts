/**
 * A three-node PrkDB cluster in one process, over the in-memory transport: the same
 * Multi-Raft host the real nodes run, without sockets or disks. Good for learning and for
 * tests of your own.
 *
 * ```sh
 * deno run examples/in_memory_cluster.ts
 * ```
 *
 * @module
 */
// deno-lint-ignore-file no-console -- an example: printing is its job
import { MemoryNetwork } from "../partition/mod.ts";
import { MultiRaftHost } from "../runtime/mod.ts";
import { MemoryStorage } from "../storage/mod.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const net = new MemoryNetwork();
const members = [1, 2, 3];
const hosts = new Map<number, MultiRaftHost>();
for (const id of members) {
  const host = await MultiRaftHost.start({
    nodeId: id,
    members,
    partitions: 4,
    storage: new MemoryStorage(),
    transport: net.transport(id),
    tickMs: 20,
    compaction: { entries: 50 },
  });
  net.register(id, (from, messages, leading) => host.receive(from, messages, leading));
  hosts.set(id, host);
}
await Promise.all([...hosts.values()].map((h) => h.waitForLeaders(5000)));
const leaderOf = (key: string) =>
  hosts.get(hosts.get(1)!.leaderOf(hosts.get(1)!.map.partitionOf(te.encode(key))))!;
console.log(
  "Leaders:",
  hosts.get(1)!.status().map((s) => `p${s.partition}→${s.raft.leaderId}`).join(" "),
);

for (let i = 0; i < 100; i++) {
  await leaderOf(`item:${i}`).put(te.encode(`item:${i}`), te.encode(`value ${i}`));
}
console.log("Wrote 100 keys across 4 partitions.");

// Cut off the leader of item:7's partition: the other two elect a new one and keep going.
const old = leaderOf("item:7");
net.isolate(old.nodeId);
console.log(`Isolated node ${old.nodeId}, the leader of item:7's partition...`);
const survivor = [...hosts.values()].find((h) => h !== old)!;
const p = survivor.map.partitionOf(te.encode("item:7"));
while (survivor.leaderOf(p) === old.nodeId || survivor.leaderOf(p) === 0) {
  await new Promise((r) => setTimeout(r, 20));
}
const next = hosts.get(survivor.leaderOf(p))!;
console.log(
  `...node ${next.nodeId} took over. item:7 = ${
    td.decode((await next.get(te.encode("item:7")))!.value)
  }`,
);
await next.put(te.encode("item:7"), te.encode("updated while node was away"));

net.isolate(old.nodeId, false);
while (
  td.decode((await old.get(te.encode("item:7"), "stale"))!.value) !== "updated while node was away"
) {
  await new Promise((r) => setTimeout(r, 20));
}
console.log(
  `Node ${old.nodeId} rejoined and caught up: item:7 = "${
    td.decode((await old.get(te.encode("item:7"), "stale"))!.value)
  }"`,
);
await Promise.all([...hosts.values()].map((h) => h.stop()));
