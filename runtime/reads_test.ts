import { assert, assertEquals, assertRejects } from "@std/assert";
import { ManualCluster } from "../tests/support/manual_cluster.ts";
import { CompactedError } from "../partition/errors.ts";
import { formatVersion } from "../partition/version.ts";
import { prefixRange } from "./reads.ts";

const te = new TextEncoder();
const td = new TextDecoder();

Deno.test("MultiRaftHost.list: a partition's keys in byte order, by range or prefix, either way", async () => {
  const c = await ManualCluster.start(3, 1);
  try {
    const leader = c.leaderOf(0);
    for (const k of ["users/b", "users/a", "orders/1", "users/c", "users0"]) {
      await c.run(leader.put(te.encode(k), te.encode(k.toUpperCase())));
    }
    const keys = async (reverse = false, limit = 10) =>
      (await c.run(leader.list(0, prefixRange(te.encode("users/")), { limit, reverse })))
        .entries.map((e) => td.decode(e.key));
    assertEquals(await keys(), ["users/a", "users/b", "users/c"]);
    assertEquals(await keys(true), ["users/c", "users/b", "users/a"]);
    assertEquals(await keys(false, 2), ["users/a", "users/b"]);
    const follower = [...c.hosts.values()].find((h) => h !== leader)!;
    const page = await c.run(
      follower.list(0, { start: te.encode("o"), end: te.encode("users/b") }, {
        limit: 10,
        mode: "follower",
      }),
    );
    assertEquals(page.entries.map((e) => td.decode(e.key)), ["orders/1", "users/a"]);
    assert(page.appliedIndex >= 6);
    const many = await c.run(
      leader.getMany(0, [te.encode("users/c"), te.encode("nope"), te.encode("orders/1")]),
    );
    assertEquals(many.map((v) => v && td.decode(v.value)), ["USERS/C", undefined, "ORDERS/1"]);
  } finally {
    await c.stop();
  }
});

Deno.test("MultiRaftHost: a key with a TTL disappears for readers at its time and is removed through the log", async () => {
  const c = await ManualCluster.start(3, 1);
  try {
    const leader = c.leaderOf(0);
    const key = te.encode("session-token");
    await c.run(leader.put(key, te.encode("t"), { expireInMs: 1000 }));
    await c.run(leader.put(te.encode("keep"), te.encode("k")));
    assertEquals(td.decode((await c.run(leader.get(key)))!.value), "t");
    // Time passes; before any expiry entry commits, readers already stop seeing the key.
    c.clock.advance(1001);
    const before = leader.status()[0].raft.lastLogIndex;
    assertEquals(await c.run(leader.get(key)), undefined);
    const follower = [...c.hosts.values()].find((h) => h !== leader)!;
    assertEquals(await c.run(follower.get(key, "follower")), undefined);
    // The leader's sweep removes it through the log, on every replica.
    await c.until(
      "the expiry to reach every replica's state",
      () =>
        leader.status()[0].raft.lastLogIndex > before &&
        [...c.hosts.values()].every((h) => h.status()[0].applied === leader.status()[0].applied),
    );
    for (const h of c.hosts.values()) {
      const left = await c.run(
        h.list(0, { start: new Uint8Array() }, { limit: 10, mode: "stale" }),
      );
      assertEquals(left.entries.map((e) => td.decode(e.key)), ["keep"]);
      // Watchers see the key come and go.
      const page = h.changes(0, 0, 100);
      assertEquals(
        page.kind === "changes" && page.changes.map((ch) => `${ch.type} ${td.decode(ch.key)}`),
        ["put session-token", "put keep", "delete session-token"],
      );
    }
    // A write with a condition sees the expired key as absent.
    assert((await c.run(leader.put(key, te.encode("new"), { ifVersion: null }))).ok);
  } finally {
    await c.stop();
  }
});

Deno.test("MultiRaftHost.watch: every change once, in order, resumable, and compacted history is a clear error", async () => {
  const c = await ManualCluster.start(3, 1, {
    compaction: { entries: 30 },
    watchHistory: { entries: 10 },
  });
  try {
    const leader = c.leaderOf(0);
    const follower = [...c.hosts.values()].find((h) => h !== leader)!;
    const start = follower.status()[0].applied;
    const abort = new AbortController();
    const seen: string[] = [];
    let through = start;
    const watching = (async () => {
      for await (const page of follower.watch(0, start, abort.signal)) {
        for (const ch of page.changes) seen.push(`${ch.type}:${td.decode(ch.key)}@${ch.index}`);
        through = page.through;
        if (seen.length >= 12) break;
      }
    })();
    const written: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await c.run(leader.put(te.encode(`k${i}`), te.encode("v")));
      written.push(`put:k${i}@${r.index}`);
    }
    const a = await c.run(leader.atomic([], [
      { type: "delete", key: te.encode("k0") },
      { type: "set", key: te.encode("k9"), value: te.encode("v") },
    ]));
    written.push(`delete:k0@${a.index}`, `put:k9@${a.index}`);
    await c.until("the watcher to see every change", () => seen.length >= written.length);
    assertEquals(seen, written);
    // Resuming from the page's position repeats nothing.
    const resumed = follower.watch(0, through, abort.signal);
    const next = c.run(leader.put(te.encode("after"), te.encode("v")));
    const page = await c.run(resumed.next());
    await next;
    assert(!page.done);
    assertEquals(page.value.changes.map((ch) => td.decode(ch.key)), ["after"]);
    abort.abort();
    await c.run(watching);
    // Enough writes to compact the log past `start`: the old position is gone, and it says so.
    for (let i = 0; i < 40; i++) await c.run(leader.put(te.encode(`x${i}`), te.encode("v")));
    const stale = follower.watch(0, start, new AbortController().signal);
    const error = await assertRejects(() => c.run(stale.next()), CompactedError);
    assert(error.oldestVersion > formatVersion(0, start + 1));
  } finally {
    await c.stop();
  }
});

Deno.test("MultiRaftHost: follower reads share a read-index request only until it is sent", async () => {
  const c = await ManualCluster.start(3, 1);
  try {
    const leader = c.leaderOf(0);
    const follower = [...c.hosts.values()].find((h) => h !== leader)!;
    const key = te.encode("k");
    await c.run(leader.put(key, te.encode("v1")));
    // Read A's request leaves the follower and is lost on the way: A waits for an answer.
    c.net.isolate(follower.nodeId);
    const a = follower.get(key, "follower");
    a.catch(() => {});
    await c.settle();
    c.net.isolate(follower.nodeId, false);
    // A write is acknowledged; read B starts after it, so B must see it. Sharing A's request
    // (sent before the write) could answer B from before the write, or not at all.
    await c.run(leader.put(key, te.encode("v2")));
    const b = await c.run(follower.get(key, "follower"), 20);
    assertEquals(td.decode(b!.value), "v2");
    // Reads that arrive together share one request, and each is answered.
    const [x, y, z] = await c.run(Promise.all([1, 2, 3].map(() => follower.get(key, "follower"))));
    assertEquals([x, y, z].map((r) => td.decode(r!.value)), ["v2", "v2", "v2"]);
  } finally {
    await c.stop();
  }
});
