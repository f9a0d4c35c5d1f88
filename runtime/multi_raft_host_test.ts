import { assert, assertEquals, assertRejects } from "@std/assert";
import { MemoryStorage } from "../storage/memory_storage.ts";
import { waitFor } from "../tests/support/wait.ts";
import { InvalidCommandError } from "./command.ts";
import { WrongNodeError } from "./errors.ts";
import { MultiRaftHost } from "./multi_raft_host.ts";
import { MemoryNetwork } from "./transport.ts";

const te = new TextEncoder();
const td = new TextDecoder();

// deno-lint-ignore explicit-function-return-type
async function cluster(size = 3, partitions = 4) {
  const net = new MemoryNetwork();
  const members = Array.from({ length: size }, (_, i) => i + 1);
  const hosts = new Map<number, MultiRaftHost>();
  for (const id of members) {
    const host = await MultiRaftHost.start({
      nodeId: id,
      members,
      partitions,
      storage: new MemoryStorage(),
      transport: net.transport(id),
      tickMs: 10,
      compaction: { entries: 20 },
    });
    net.register(id, (from, msgs) => host.receive(from, msgs));
    hosts.set(id, host);
  }
  await Promise.all([...hosts.values()].map((h) => h.waitForLeaders(5000)));
  const leaderOf = (p: number) => hosts.get([...hosts.values()][0].leaderOf(p))!;
  const stop = () => Promise.all([...hosts.values()].map((h) => h.stop()));
  return { net, hosts, leaderOf, stop };
}

Deno.test("MultiRaftHost: writes commit on a quorum and read back in every mode", async () => {
  const c = await cluster();
  try {
    for (let i = 0; i < 40; i++) {
      const key = te.encode(`k${i}`);
      const p = c.hosts.get(1)!.map.partitionOf(key);
      await c.leaderOf(p).put(key, te.encode(`v${i}`));
    }
    const key = te.encode("k7");
    const p = c.hosts.get(1)!.map.partitionOf(key);
    const leader = c.leaderOf(p);
    const follower = [...c.hosts.values()].find((h) => h !== leader)!;
    assertEquals(td.decode(await leader.get(key)), "v7");
    assertEquals(td.decode(await follower.get(key, "follower")), "v7");
    await waitFor(
      "the follower to apply the write",
      async () => td.decode(await follower.get(key, "stale")) === "v7",
    );
    await assertRejects(
      () => follower.get(key, "linearizable"),
      WrongNodeError,
      "is not the leader",
    );
    assertEquals((await leader.delete(key)).found, true);
    assertEquals(await leader.get(key), undefined);
  } finally {
    await c.stop();
  }
});

Deno.test("MultiRaftHost: bad input is refused with the limit, and nothing is written", async () => {
  const c = await cluster(1, 1);
  try {
    const host = c.hosts.get(1)!;
    await assertRejects(
      () => host.put(new Uint8Array(), te.encode("v")),
      InvalidCommandError,
      "key is empty",
    );
    await assertRejects(
      () => host.put(new Uint8Array(2000), te.encode("v")),
      InvalidCommandError,
      "the limit is 1024",
    );
    assertEquals(host.status()[0].raft.lastLogIndex, 1, "only the election's no-op is in the log");
  } finally {
    await c.stop();
  }
});

Deno.test("MultiRaftHost: a leader cut off loses its partitions; the rest elect, keep every write, and go on", async () => {
  const c = await cluster(3, 3);
  try {
    const key = te.encode("survivor");
    const p = c.hosts.get(1)!.map.partitionOf(key);
    const old = c.leaderOf(p);
    await old.put(key, te.encode("before"));
    c.net.isolate(old.nodeId);
    const others = [...c.hosts.values()].filter((h) => h !== old);
    const next = await waitFor("a new leader", () => {
      const id = others[0].leaderOf(p);
      return id && id !== old.nodeId ? c.hosts.get(id)! : undefined;
    });
    assertEquals(td.decode(await next.get(key)), "before", "the acknowledged write survived");
    await next.put(key, te.encode("after"));
    c.net.isolate(old.nodeId, false);
    await waitFor(
      "the old leader to catch up",
      async () => td.decode(await old.get(key, "stale")) === "after",
    );
  } finally {
    await c.stop();
  }
});

Deno.test("MultiRaftHost: leaders spread over the nodes", async () => {
  const c = await cluster(3, 6);
  try {
    await waitFor("each node to lead two partitions", () => {
      const counts = new Map<number, number>();
      for (let p = 0; p < 6; p++) {
        counts.set(c.leaderOf(p).nodeId, (counts.get(c.leaderOf(p).nodeId) ?? 0) + 1);
      }
      return [1, 2, 3].every((id) => counts.get(id) === 2);
    }, 10_000);
  } finally {
    await c.stop();
  }
});

Deno.test("MultiRaftHost: a lagging replica catches up through a snapshot", async () => {
  const c = await cluster(3, 1);
  try {
    const leader = c.leaderOf(0);
    const lagging = [...c.hosts.values()].find((h) => h !== leader)!;
    c.net.isolate(lagging.nodeId);
    for (let i = 0; i < 60; i++) await leader.put(te.encode(`k${i}`), te.encode(`v${i}`));
    assert(leader.status()[0].raft.firstIndex > 20, "the leader compacted its log");
    c.net.isolate(lagging.nodeId, false);
    await waitFor(
      "the lagging replica to catch up",
      async () => td.decode(await lagging.get(te.encode("k59"), "stale")) === "v59",
    );
    assertEquals(td.decode(await lagging.get(te.encode("k0"), "stale")), "v0");
  } finally {
    await c.stop();
  }
});

Deno.test("MultiRaftHost: replication lag is the age of the oldest entry a follower lacks", async () => {
  const c = await cluster(3, 1);
  try {
    const leader = c.leaderOf(0);
    const cut = [...c.hosts.values()].find((h) => h !== leader)!;
    c.net.isolate(cut.nodeId);
    const cutAt = performance.now();
    for (let i = 0; i < 5; i++) await leader.put(te.encode(`x${i}`), te.encode("v"));
    await waitFor("the cut follower to be measurably behind", () => {
      const f = leader.replication()[0].followers.find((x) => x.follower === cut.nodeId)!;
      return f.pending >= 5 && f.lagSeconds >= 0.2;
    });
    const view = leader.replication()[0].followers;
    const behind = view.find((x) => x.follower === cut.nodeId)!;
    assert(behind.lagSeconds <= (performance.now() - cutAt) / 1000, "never older than the cut");
    const other = view.find((x) => x.follower !== cut.nodeId)!;
    assertEquals([other.pending, other.lagSeconds], [0, 0], "a caught-up follower has no lag");
    c.net.isolate(cut.nodeId, false);
    await waitFor("the lag to return to 0", () => {
      const f = leader.replication()[0].followers.find((x) => x.follower === cut.nodeId)!;
      return f.pending === 0 && f.lagSeconds === 0;
    });
  } finally {
    await c.stop();
  }
});
