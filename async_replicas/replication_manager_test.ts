import { assertEquals, assertGreater, assertRejects, assertStringIncludes } from "@std/assert";
import { waitFor } from "../tests/support/wait.ts";
import { type DocumentStorage, KvAdapter, MemoryAdapter } from "./document_storage.ts";
import { CollectionError, PrkDb } from "./prkdb.ts";
import { ReplicationManager, type ReplicationTiming } from "./replication_manager.ts";

interface Order {
  id: string;
  amount: number;
}

const FAST: Partial<ReplicationTiming> = {
  followerPollInterval: 50,
  backoffBase: 40,
  backoffMax: 320,
  requestTimeout: 1000,
};

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

// deno-lint-ignore explicit-function-return-type
const ordersDb = (storage: DocumentStorage = new MemoryAdapter()) =>
  PrkDb.builder().withStorage(storage).registerCollection<Order>({
    name: "orders",
    key: (o) => o.id,
    validate: (o) => {
      if (!(o.amount >= 0)) throw new Error("amount must be a non-negative number");
    },
  }).build();

// deno-lint-ignore explicit-function-return-type
async function leaderAt(port: number, followers: string[] = ["f1"]) {
  const db = ordersDb();
  const manager = new ReplicationManager(db, {
    selfNode: { id: "leader-1", address: `127.0.0.1:${port}` },
    followers: followers.map((id) => ({ id, address: "" })),
    timing: FAST,
  });
  await manager.start();
  return { db, manager };
}

// deno-lint-ignore explicit-function-return-type
function follower(db: PrkDb, port: number, id = "f1") {
  return new ReplicationManager(db, {
    selfNode: { id, address: "" },
    leaderAddress: `127.0.0.1:${port}`,
    followers: [],
    timing: FAST,
  });
}

Deno.test("PrkDb: collections validate, and unregistered ones are a clear error", async () => {
  const db = ordersDb();
  const orders = db.collection<Order>("orders");
  await orders.put({ id: "a", amount: 1 });
  await orders.put({ id: "b", amount: 2 });
  assertEquals((await orders.list()).map((o) => o.id), ["a", "b"]);
  await assertRejects(() => orders.put({ id: "c", amount: -1 }), CollectionError, "amount must be");
  await orders.delete("a");
  assertEquals(await orders.get("a"), undefined);
  assertEquals(await db.offset(), 3, "two puts and a delete; the invalid put recorded nothing");
  try {
    db.collection("users");
    throw new Error("unreachable");
  } catch (error) {
    assertStringIncludes((error as Error).message, 'Collection "users" is not registered');
  }
});

Deno.test("replication: a follower catches up in batches; state, health and metrics match", async () => {
  const port = freePort();
  const leader = await leaderAt(port);
  const fdb = ordersDb();
  const f = follower(fdb, port);
  try {
    for (let i = 0; i < 250; i++) {
      await leader.db.collection<Order>("orders").put({
        id: `o-${String(i).padStart(3, "0")}`,
        amount: i,
      });
    }
    await leader.db.collection<Order>("orders").delete("o-000");
    await f.start();
    await waitFor(
      "the follower to apply all 251 changes",
      async () => (await fdb.offset()) === 251,
    );
    const orders = await fdb.collection<Order>("orders").list();
    assertEquals(orders.length, 249);
    assertEquals((await fdb.collection<Order>("orders").get("o-249"))?.amount, 249);
    await waitFor(
      "the leader to see the follower caught up",
      () => leader.manager.getHealth().outboxDrift === 0 && leader.manager.getHealth().healthy,
    );
    const state = f.getState();
    assertEquals([state.changesApplied, state.lastChangeId, state.connected, state.errorCount], [
      251,
      "251",
      true,
      0,
    ]);
    const health = f.getHealth();
    assertEquals([health.healthy, health.lagSeconds, health.outboxDrift, health.error], [
      true,
      0,
      0,
      undefined,
    ]);
    const text = await f.metrics();
    assertStringIncludes(text, 'prkdb_replication_changes_applied_total{node_id="f1"} 251');
    assertStringIncludes(
      text,
      'prkdb_replication_follower_connected{node_id="f1",follower="f1"} 1',
    );
    assertStringIncludes(text, 'prkdb_replication_lag_seconds{node_id="f1",follower="f1"} 0');
    // Polls that return nothing after catching up are not batches: 251 changes, 3 batches.
    const caughtUp = f.getState().lastSyncTs;
    await waitFor("an empty poll after catching up", () => f.getState().lastSyncTs > caughtUp);
    const after = await f.metrics();
    assertStringIncludes(after, 'prkdb_replication_batch_size_count{node_id="f1",follower="f1"} 3');
    assertStringIncludes(after, 'prkdb_replication_batch_size_sum{node_id="f1",follower="f1"} 251');
    const leaderText = await leader.manager.metrics();
    assertStringIncludes(leaderText, 'prkdb_replication_active_followers{node_id="leader-1"} 1');
    assertStringIncludes(
      leaderText,
      'prkdb_replication_changes_pending{node_id="leader-1",follower="f1"} 0',
    );
  } finally {
    await f.stop();
    await leader.manager.stop();
  }
});

Deno.test("replication: with the leader down the follower backs off exponentially, then recovers", async () => {
  const port = freePort();
  const fdb = ordersDb();
  const f = follower(fdb, port);
  await f.start();
  let leader: Awaited<ReturnType<typeof leaderAt>> | undefined;
  try {
    await waitFor("three failed syncs", () => f.getState().errorCount >= 3);
    const down = f.getHealth();
    assertEquals(down.healthy, false);
    assertStringIncludes(down.error ?? "", "connection_error");
    assertGreater(f.nextBackoffMs, FAST.backoffBase!, "the delay grows after each failure");
    assertEquals(f.getState().connected, false);
    assertStringIncludes(await f.metrics(), 'error_type="connection_error"');
    leader = await leaderAt(port);
    await leader.db.collection<Order>("orders").put({ id: "late", amount: 7 });
    await waitFor(
      "the follower to recover",
      async () => (await fdb.collection<Order>("orders").get("late"))?.amount === 7,
      5000,
    );
    await waitFor("health to clear", () => f.getHealth().healthy);
    assertEquals(f.nextBackoffMs, FAST.backoffBase, "the backoff resets after a success");
  } finally {
    await f.stop();
    await leader?.manager.stop();
  }
});

Deno.test("replication: a restarted follower resumes at its offset, with no gap and no duplicate", async () => {
  const port = freePort();
  const leader = await leaderAt(port);
  const dir = await Deno.makeTempDir({ prefix: "prkdb-follower-" });
  try {
    const orders = leader.db.collection<Order>("orders");
    for (let i = 0; i < 50; i++) await orders.put({ id: `a${i}`, amount: i });
    let fdb = ordersDb(await KvAdapter.open(`${dir}/f.sqlite`));
    let f = follower(fdb, port);
    await f.start();
    await waitFor("50 applied", async () => (await fdb.offset()) === 50);
    await f.stop();
    await fdb.close();
    for (let i = 0; i < 30; i++) await orders.put({ id: `b${i}`, amount: i });
    fdb = ordersDb(await KvAdapter.open(`${dir}/f.sqlite`));
    assertEquals(await fdb.offset(), 50, "the offset was stored with the data");
    f = follower(fdb, port);
    await f.start();
    await waitFor("the restarted follower to catch up", async () => (await fdb.offset()) === 80);
    assertEquals(f.getState().changesApplied, 30, "only what it had not applied");
    assertEquals((await fdb.collection<Order>("orders").list()).length, 80);
    await f.stop();
    await fdb.close();
  } finally {
    await leader.manager.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("replication: an apply error is counted, reported in health, and nothing half-applied", async () => {
  const port = freePort();
  const leader = await leaderAt(port);
  // This follower never registered "orders": it cannot apply the leader's changes.
  const fdb = PrkDb.builder().registerCollection<{ id: string }>({
    name: "users",
    key: (u) => u.id,
  }).build();
  const f = follower(fdb, port);
  try {
    await leader.db.collection<Order>("orders").put({ id: "o-1", amount: 1 });
    await f.start();
    await waitFor("an apply failure", () => f.getState().errorCount >= 1);
    const health = f.getHealth();
    assertEquals(health.healthy, false);
    assertStringIncludes(health.error ?? "", "apply_failed");
    assertStringIncludes(health.error ?? "", 'collection "orders", which is not registered here');
    assertEquals(await fdb.offset(), 0, "the batch was not applied, nor the offset moved");
    assertStringIncludes(
      await f.metrics(),
      'prkdb_replication_sync_errors_total{node_id="f1",follower="f1",error_type="apply_failed"}',
    );
  } finally {
    await f.stop();
    await leader.manager.stop();
  }
});
