import { assert, assertEquals, assertRejects } from "@std/assert";
import { ManualCluster } from "../tests/support/manual_cluster.ts";
import { InvalidCommandError } from "../partition/command.ts";
import {
  CrossPartitionError,
  SessionExpiredError,
  StaleRequestError,
  WrongNodeError,
} from "../partition/errors.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const text = (v: { value: Uint8Array } | undefined) => v && td.decode(v.value);

Deno.test("MultiRaftHost: writes commit on a quorum and read back in every mode", async () => {
  const c = await ManualCluster.start(3, 4, { compaction: { entries: 20 } });
  try {
    for (let i = 0; i < 40; i++) {
      const key = te.encode(`k${i}`);
      const leader = c.leaderOf(c.hosts.get(1)!.map.partitionOf(key));
      await c.run(leader.put(key, te.encode(`v${i}`)));
    }
    const key = te.encode("k7");
    const leader = c.leaderOf(c.hosts.get(1)!.map.partitionOf(key));
    const follower = [...c.hosts.values()].find((h) => h !== leader)!;
    assertEquals(text(await c.run(leader.get(key))), "v7");
    assertEquals(text(await c.run(follower.get(key, "follower"))), "v7");
    assertEquals(text(await follower.get(key, "stale")), "v7");
    await assertRejects(
      () => follower.get(key, "linearizable"),
      WrongNodeError,
      "is not the leader",
    );
    assertEquals((await c.run(leader.delete(key))).found, true);
    assertEquals(await c.run(leader.get(key)), undefined);
  } finally {
    await c.stop();
  }
});

Deno.test("MultiRaftHost: versions grow per key and conditions decide writes", async () => {
  const c = await ManualCluster.start(3, 2);
  try {
    const key = te.encode("counter");
    const leader = c.leaderOf(c.hosts.get(1)!.map.partitionOf(key));
    const first = await c.run(leader.put(key, te.encode("1"), { ifVersion: null }));
    assert(first.ok && first.version);
    const again = await c.run(leader.put(key, te.encode("x"), { ifVersion: null }));
    assertEquals(again.ok, false, "ifVersion null: only when absent");
    const second = await c.run(leader.put(key, te.encode("2"), { ifVersion: first.version }));
    assert(second.ok && second.version! > first.version!, "versions only grow");
    const stale = await c.run(leader.put(key, te.encode("3"), { ifVersion: first.version }));
    assertEquals([stale.ok, stale.failedCheck], [false, 0]);
    assertEquals((await c.run(leader.get(key)))?.version, second.version);
    const del = await c.run(leader.delete(key, { ifVersion: first.version }));
    assertEquals(del.ok, false, "a delete with a stale version changes nothing");
    assertEquals(text(await c.run(leader.get(key))), "2");
  } finally {
    await c.stop();
  }
});

Deno.test("MultiRaftHost: an atomic write is one entry, all or nothing, in one partition", async () => {
  const c = await ManualCluster.start(3, 4);
  try {
    const a = te.encode("{acct}:alice");
    const b = te.encode("{acct}:bob");
    const p = c.hosts.get(1)!.map.partitionOf(a);
    assertEquals(c.hosts.get(1)!.map.partitionOf(b), p, "a hash tag places keys together");
    const leader = c.leaderOf(p);
    const set = await c.run(leader.atomic([], [
      { type: "set", key: a, value: te.encode("100") },
      { type: "set", key: b, value: te.encode("0") },
    ]));
    assert(set.ok);
    const failed = await c.run(
      leader.atomic([{ key: a, version: set.version! }, { key: b, version: null }], [
        { type: "set", key: a, value: te.encode("50") },
        { type: "set", key: b, value: te.encode("50") },
      ]),
    );
    assertEquals([failed.ok, failed.failedCheck], [false, 1]);
    assertEquals([text(await c.run(leader.get(a))), text(await c.run(leader.get(b)))], [
      "100",
      "0",
    ]);
    let cross: Uint8Array | undefined;
    for (let i = 0; !cross; i++) {
      const k = te.encode(`other:${i}`);
      if (c.hosts.get(1)!.map.partitionOf(k) !== p) cross = k;
    }
    const before = leader.status().find((s) => s.partition === p)!.raft.lastLogIndex;
    await assertRejects(
      () =>
        leader.atomic([], [{ type: "set", key: a, value: te.encode("1") }, {
          type: "delete",
          key: cross,
        }]),
      CrossPartitionError,
      "hash tag",
    );
    // A check on a key of another partition spans partitions just as a mutation does.
    await assertRejects(
      () =>
        leader.atomic([{ key: a, version: null }, { key: cross, version: null }], [{
          type: "set",
          key: a,
          value: te.encode("1"),
        }]),
      CrossPartitionError,
      "hash tag",
    );
    assertEquals(leader.status().find((s) => s.partition === p)!.raft.lastLogIndex, before);
  } finally {
    await c.stop();
  }
});

Deno.test("MultiRaftHost: a session applies a retried write once and answers with the first result", async () => {
  const c = await ManualCluster.start(3, 1);
  try {
    const leader = c.leaderOf(0);
    const id = await c.run(leader.openSession(0, 60_000));
    const key = te.encode("k");
    await c.run(leader.put(key, te.encode("v")));
    const session = { id, seq: 1, firstIncomplete: 1 };
    const first = await c.run(leader.delete(key, { session }));
    assertEquals(first.found, true);
    // Another client writes the key again; the retry must not delete it a second time.
    await c.run(leader.put(key, te.encode("w")));
    const retry = await c.run(leader.delete(key, { session }));
    assertEquals([retry.found, retry.index], [true, first.index], "the first application's result");
    assertEquals(text(await c.run(leader.get(key))), "w", "the retry was not applied");
    // Once the client confirms it has result 1, a late copy of it is refused, never applied.
    await c.run(leader.put(key, te.encode("x"), { session: { id, seq: 2, firstIncomplete: 2 } }));
    await assertRejects(() => c.run(leader.delete(key, { session })), StaleRequestError);
    assertEquals(text(await c.run(leader.get(key))), "x");
  } finally {
    await c.stop();
  }
});

Deno.test("MultiRaftHost: a session expires by the time written in the log", async () => {
  const c = await ManualCluster.start(3, 1);
  try {
    const leader = c.leaderOf(0);
    const id = await c.run(leader.openSession(0, 1000));
    await c.run(
      leader.put(te.encode("a"), te.encode("1"), { session: { id, seq: 1, firstIncomplete: 1 } }),
    );
    c.clock.advance(5000);
    await assertRejects(
      () =>
        c.run(
          leader.put(te.encode("a"), te.encode("2"), {
            session: { id, seq: 2, firstIncomplete: 2 },
          }),
        ),
      SessionExpiredError,
    );
    assertEquals(text(await c.run(leader.get(te.encode("a")))), "1");
  } finally {
    await c.stop();
  }
});

Deno.test("MultiRaftHost: bad input is refused with the limit, and nothing is written", async () => {
  const c = await ManualCluster.start(1, 1);
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
    await assertRejects(
      () => host.put(te.encode("k"), te.encode("v"), { ifVersion: "v1" }),
      InvalidCommandError,
      "is not a version",
    );
    assertEquals(host.status()[0].raft.lastLogIndex, 1, "only the election's no-op is in the log");
  } finally {
    await c.stop();
  }
});

Deno.test("MultiRaftHost: a leader cut off loses its partitions; the rest elect, keep every write, and go on", async () => {
  const c = await ManualCluster.start(3, 3);
  try {
    const key = te.encode("survivor");
    const p = c.hosts.get(1)!.map.partitionOf(key);
    const old = c.leaderOf(p);
    await c.run(old.put(key, te.encode("before")));
    c.net.isolate(old.nodeId);
    const others = [...c.hosts.values()].filter((h) => h !== old);
    await c.until("a new leader", () => ![0, old.nodeId].includes(others[0].leaderOf(p)));
    const next = c.hosts.get(others[0].leaderOf(p))!;
    assertEquals(text(await c.run(next.get(key))), "before", "the acknowledged write survived");
    await c.run(next.put(key, te.encode("after")));
    c.net.isolate(old.nodeId, false);
    await c.until("the old leader to apply the new write", () => {
      const s = old.status().find((x) => x.partition === p)!.raft;
      return s.lastApplied === next.status().find((x) => x.partition === p)!.raft.lastApplied;
    });
    assertEquals(text(await old.get(key, "stale")), "after");
  } finally {
    await c.stop();
  }
});

Deno.test("MultiRaftHost: leaders spread over the nodes", async () => {
  const c = await ManualCluster.start(3, 6);
  try {
    await c.until("each node to lead two partitions", () => {
      const counts = new Map<number, number>();
      for (let p = 0; p < 6; p++) {
        const id = c.hosts.get(1)!.leaderOf(p);
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      return [1, 2, 3].every((id) => counts.get(id) === 2);
    }, 2000);
  } finally {
    await c.stop();
  }
});

Deno.test("MultiRaftHost: a lagging replica catches up through a snapshot", async () => {
  const c = await ManualCluster.start(3, 1, { compaction: { entries: 20 } });
  try {
    const leader = c.leaderOf(0);
    const lagging = [...c.hosts.values()].find((h) => h !== leader)!;
    c.net.isolate(lagging.nodeId);
    for (let i = 0; i < 60; i++) await c.run(leader.put(te.encode(`k${i}`), te.encode(`v${i}`)));
    assert(leader.status()[0].raft.firstIndex > 20, "the leader compacted its log");
    c.net.isolate(lagging.nodeId, false);
    await c.until(
      "the lagging replica to catch up",
      () => lagging.status()[0].raft.lastApplied >= leader.status()[0].raft.lastApplied,
    );
    assertEquals(text(await lagging.get(te.encode("k59"), "stale")), "v59");
    assertEquals(text(await lagging.get(te.encode("k0"), "stale")), "v0");
  } finally {
    await c.stop();
  }
});

Deno.test("MultiRaftHost: replication lag is the age of the oldest entry a follower lacks", async () => {
  const c = await ManualCluster.start(3, 1);
  try {
    const leader = c.leaderOf(0);
    const cut = [...c.hosts.values()].find((h) => h !== leader)!;
    c.net.isolate(cut.nodeId);
    const cutAt = c.clock.now();
    for (let i = 0; i < 5; i++) await c.run(leader.put(te.encode(`x${i}`), te.encode("v")));
    for (let i = 0; i < 30; i++) await c.step();
    const view = leader.replication()[0].followers;
    const behind = view.find((x) => x.follower === cut.nodeId)!;
    assert(behind.pending >= 5, `pending ${behind.pending}`);
    assert(behind.lagSeconds >= 0.3, `lag ${behind.lagSeconds}`);
    assert(behind.lagSeconds <= (c.clock.now() - cutAt) / 1000, "never older than the cut");
    const other = view.find((x) => x.follower !== cut.nodeId)!;
    assertEquals([other.pending, other.lagSeconds], [0, 0], "a caught-up follower has no lag");
    c.net.isolate(cut.nodeId, false);
    await c.until("the lag to return to 0", () => {
      const f = leader.replication()[0].followers.find((x) => x.follower === cut.nodeId)!;
      return f.pending === 0 && f.lagSeconds === 0;
    });
  } finally {
    await c.stop();
  }
});
