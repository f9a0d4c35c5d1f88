/**
 * Leader-follower replication, as in PrkDB's replication guide: one leader, two followers,
 * ten orders, then the replication state and health, and metrics on port 9091.
 *
 * ```sh
 * deno run -A examples/replication.ts          # Ctrl-C to stop
 * deno run -A examples/replication.ts --exit   # print and exit
 * ```
 *
 * @module
 */
// deno-lint-ignore-file no-console -- an example: printing is its job
import { PrkDb, ReplicationManager } from "../async_replicas/mod.ts";

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

const LEADER = "127.0.0.1:8090";
const timing = { followerPollInterval: 200 };
const leaderDb = newDb();
const leader = new ReplicationManager(leaderDb, {
  selfNode: { id: "leader-1", address: LEADER },
  followers: [{ id: "follower-1", address: "127.0.0.1:8091" }, {
    id: "follower-2",
    address: "127.0.0.1:8092",
  }],
  timing,
});
const followers = ["follower-1", "follower-2"].map((id, i) => {
  const db = newDb();
  const manager = new ReplicationManager(db, {
    selfNode: { id, address: `127.0.0.1:${8091 + i}` },
    leaderAddress: LEADER,
    followers: [],
    timing,
  });
  return { id, db, manager };
});

await leader.start();
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

/** Merges several Prometheus expositions, keeping each metric family together. */
function merge(texts: string[]): string {
  const families = new Map<string, string[]>();
  for (const text of texts) {
    let current = "";
    for (const line of text.split("\n")) {
      if (line === "") continue;
      const head = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (head) current = head[2];
      const lines = families.get(current) ?? [];
      if (head && lines.some((l) => l.startsWith(`# ${head[1]} `))) continue;
      lines.push(line);
      families.set(current, lines);
    }
  }
  return [...families.values()].flat().join("\n") + "\n";
}

const server = Deno.serve({ hostname: "127.0.0.1", port: 9091, onListen() {} }, async () => {
  const texts = await Promise.all(
    [leader, ...followers.map((f) => f.manager)].map((m) => m.metrics()),
  );
  return new Response(merge(texts), { headers: { "content-type": "text/plain; version=0.0.4" } });
});
console.log(
  "\nMetrics: http://127.0.0.1:9091/metrics   (try: curl -s http://127.0.0.1:9091/metrics | grep lag)",
);

const stop = async () => {
  for (const f of followers) await f.manager.stop();
  await leader.stop();
  await server.shutdown();
};
if (Deno.args.includes("--exit")) {
  const sample = (await (await fetch("http://127.0.0.1:9091/metrics")).text()).split("\n")
    .filter((l) => l.startsWith("prkdb_replication_changes_applied_total"));
  console.log(sample.join("\n"));
  await stop();
} else {
  console.log("Press Ctrl-C to stop.");
  Deno.addSignalListener("SIGINT", () => stop().then(() => Deno.exit(0)));
}
