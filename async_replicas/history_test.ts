import { assert, assertEquals, assertGreater, assertStringIncludes } from "@std/assert";
import { waitFor } from "../tests/support/wait.ts";
import { type DocumentStorage, KvAdapter, MemoryAdapter } from "./document_storage.ts";
import { PrkDb } from "./prkdb.ts";
import { ReplicationManager, type ReplicationTiming } from "./replication_manager.ts";
import { parsePrometheus } from "../tests/cluster/prometheus.ts";

interface Order {
  id: string;
  amount: number;
}

const FAST: Partial<ReplicationTiming> = {
  followerPollInterval: 50,
  backoffBase: 40,
  backoffMax: 200,
  requestTimeout: 1000,
};

const ordersDb = (storage: DocumentStorage = new MemoryAdapter()): PrkDb =>
  PrkDb.builder().withStorage(storage).registerCollection<Order>({
    name: "orders",
    key: (o) => o.id,
  }).build();

async function leaderOn(db: PrkDb, port = 0): Promise<ReplicationManager> {
  const manager = new ReplicationManager(db, {
    selfNode: { id: "leader-1", address: `127.0.0.1:${port}` },
    followers: [{ id: "f1", address: "" }],
    timing: FAST,
  });
  await manager.start();
  return manager;
}

const followerOf = (db: PrkDb, leader: ReplicationManager): ReplicationManager =>
  new ReplicationManager(db, {
    selfNode: { id: "f1", address: "" },
    leaderAddress: leader.address,
    followers: [],
    timing: FAST,
  });

const metric = async (m: ReplicationManager, name: string, labels: Record<string, string>) =>
  parsePrometheus(await m.metrics()).find((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  )?.value;

Deno.test("history: a database keeps one history id across reopen; a fresh one gets another", async () => {
  const path = await Deno.makeTempFile({ suffix: ".kv" });
  try {
    let db = ordersDb(await KvAdapter.open(path));
    const id = await db.history();
    await db.close();
    db = ordersDb(await KvAdapter.open(path));
    assertEquals(await db.history(), id, "persisted with the database");
    await db.close();
    assert((await ordersDb().history()) !== id, "a fresh database starts a new history");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("history: a leader replaced by a fresh database: the follower stops with history_mismatch, nothing is pruned or reported healthy", async () => {
  const oldDb = ordersDb();
  let leader = await leaderOn(oldDb);
  const port = Number(leader.address.split(":")[1]);
  const fdb = ordersDb();
  const f = followerOf(fdb, leader);
  let fresh: ReplicationManager | undefined;
  let stopped = false;
  try {
    await f.start();
    for (let i = 1; i <= 5; i++) {
      await oldDb.collection<Order>("orders").put({ id: `old-${i}`, amount: i });
    }
    await waitFor("the follower at offset 5", async () => (await fdb.offset()) === 5);
    await waitFor("a healthy follower", () => f.getHealth().healthy);

    // The leader is replaced by one with a fresh database, on the same address: its changes
    // 1..3 are not the follower's 1..3.
    await leader.stop();
    const newDb = ordersDb();
    leader = await leaderOn(newDb, port);
    for (let i = 1; i <= 3; i++) {
      await newDb.collection<Order>("orders").put({ id: `new-${i}`, amount: i });
    }

    await waitFor(
      "the follower to report history_mismatch",
      () => (f.getHealth().error ?? "").startsWith("history_mismatch"),
      5000,
    );
    const health = f.getHealth();
    assertEquals(health.healthy, false, "never healthy while it misses the new changes");
    assertStringIncludes(f.getState().lastError ?? "", "history_mismatch");
    assertEquals(await fdb.offset(), 5, "nothing of the other history applied");
    assertEquals(await fdb.collection<Order>("orders").get("new-1"), undefined);
    assertGreater(
      (await metric(f, "prkdb_replication_sync_errors_total", {
        error_type: "history_mismatch",
      }))!,
      0,
    );
    assertGreater((await metric(f, "prkdb_replication_consecutive_failures", {}))!, 0);
    await waitFor(
      "the follower's lag to grow past 0.3 s while it cannot sync",
      async () => (await metric(f, "prkdb_replication_lag_seconds", {}))! > 0.3,
      5000,
    );

    // The leader keeps every change: the follower's offset 5 of another history prunes nothing.
    assertEquals((await newDb.changesAfter(0, 10)).map((c) => c.offset), [1, 2, 3]);
    const lh = leader.getHealth();
    assertEquals(lh.healthy, false);
    assertStringIncludes(lh.error ?? "", "history_mismatch");
    assertEquals(
      await metric(leader, "prkdb_replication_changes_pending", { follower: "f1" }),
      3,
      "the leader counts the three changes as not delivered",
    );

    // The remedy: a follower re-created from scratch follows the new history, all of it.
    await f.stop();
    stopped = true;
    const rebuilt = ordersDb();
    fresh = followerOf(rebuilt, leader);
    await fresh.start();
    await waitFor("the rebuilt follower at offset 3", async () => (await rebuilt.offset()) === 3);
    assertEquals((await rebuilt.collection<Order>("orders").list()).map((o) => o.id), [
      "new-1",
      "new-2",
      "new-3",
    ]);
    await waitFor("both healthy", () => fresh!.getHealth().healthy && leader.getHealth().healthy);
  } finally {
    if (!stopped) await f.stop();
    await fresh?.stop();
    await leader.stop();
  }
});
