/**
 * Leader-follower replication, as in PrkDB's replication guide: one leader, two followers,
 * ten orders, then the replication state and health. Every node serves its own `/metrics` and
 * `/health`: the leader on its replication port (8090), each follower on a `MetricsServer`
 * (9091, 9092), so Prometheus scrapes each as a target.
 *
 * ```sh
 * deno run -A examples/replication.ts              # Ctrl-C to stop
 * deno run -A examples/replication.ts --exit       # print and exit
 * deno run -A examples/replication.ts --port 0     # ports the OS picks (8090.. by default)
 * ```
 *
 * @module
 */
// deno-lint-ignore-file no-console -- an example: printing is its job
import { MetricsServer, PrkDb, ReplicationManager } from "../async_replicas/mod.ts";

interface Order {
  id: string;
  customer: string;
  amount: number;
}

const newDb = () =>
  PrkDb.builder()
    .registerCollection<Order>({
      name: "orders",
      key: (o) => o.id,
      validate: (o) => {
        if (!(o.amount > 0)) throw new Error("amount must be positive");
      },
    })
    .build();

// --port N: the leader listens on N and the followers' metrics on N+1 and N+2; 0 for all three
// lets the OS pick free ports.
const portArg = Deno.args.indexOf("--port");
const base = portArg >= 0 ? Number(Deno.args[portArg + 1]) : 8090;
const port = (offset: number) => (base === 0 ? 0 : base + offset);
const timing = { followerPollInterval: 200 };
const leaderDb = newDb();
const leader = new ReplicationManager(leaderDb, {
  selfNode: { id: "leader-1", address: `127.0.0.1:${port(0)}` },
  followers: [{ id: "follower-1", address: "" }, { id: "follower-2", address: "" }],
  timing,
});
await leader.start();
const LEADER = leader.address;
const followers = ["follower-1", "follower-2"].map((id, i) => {
  const db = newDb();
  const manager = new ReplicationManager(db, {
    selfNode: { id, address: "" },
    leaderAddress: LEADER,
    followers: [],
    timing,
  });
  // A follower's own /metrics and /health.
  const metrics = MetricsServer.start(manager, { port: port(1 + i) });
  return { id, db, manager, metrics };
});
for (const f of followers) await f.manager.start();
console.log(
  `Leader on ${LEADER}, followers follower-1 and follower-2 polling every ${timing.followerPollInterval} ms.`,
);

const orders = leaderDb.collection<Order>("orders");
for (let i = 1; i <= 10; i++) {
  await orders.put({ id: `order-${i}`, customer: `customer-${i % 3}`, amount: 10 * i });
}
console.log("Wrote 10 orders to the leader.");

// Wait (with a deadline) until both followers have every change.
const deadline = Date.now() + 10_000;
// A follower acknowledges what it applied with its next poll, so the leader's drift follows.
while (
  (followers.some((f) => f.manager.getState().changesApplied < 10) ||
    leader.getHealth().outboxDrift > 0) &&
  Date.now() < deadline
) {
  await new Promise((r) => setTimeout(r, 50));
}

for (const f of followers) {
  const state = f.manager.getState();
  const health = f.manager.getHealth();
  const count = (await f.db.collection<Order>("orders").list()).length;
  console.log(`\n${f.id}: ${count} orders`);
  console.log(
    `  state:  changes applied ${state.changesApplied}, last change ${state.lastChangeId}, connected ${state.connected}, errors ${state.errorCount}`,
  );
  console.log(
    `  health: healthy ${health.healthy}, lag ${
      health.lagSeconds.toFixed(2)
    } s, last sync ${health.lastSync?.toISOString()}, drift ${health.outboxDrift}`,
  );
}
const lh = leader.getHealth();
console.log(
  `\nleader-1: healthy ${lh.healthy}, outbox drift ${lh.outboxDrift}, followers connected ${leader.getState().connected}`,
);

console.log(`\nMetrics: http://${LEADER}/metrics (leader-1)`);
for (const f of followers) {
  console.log(`         http://127.0.0.1:${f.metrics.port}/metrics (${f.id})`);
}

const stop = async () => {
  for (const f of followers) {
    await f.metrics.close();
    await f.manager.stop();
  }
  await leader.stop();
};
if (Deno.args.includes("--exit")) {
  for (const f of followers) {
    const text = await (await fetch(`http://127.0.0.1:${f.metrics.port}/metrics`)).text();
    console.log(
      text.split("\n").filter((l) => l.startsWith("prkdb_replication_changes_applied_total"))
        .join("\n"),
    );
  }
  await stop();
} else {
  console.log("Press Ctrl-C to stop.");
  Deno.addSignalListener("SIGINT", () => stop().then(() => Deno.exit(0)));
}
