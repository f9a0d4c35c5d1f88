import { assert, assertEquals, assertMatch } from "@std/assert";
import { startNode } from "./node.ts";
import { type ClusterStatusJson, sharedBuild } from "./status_document.ts";
import { ActivityRecorder } from "./activity.ts";

async function withNode(
  demoActions: boolean,
  run: (url: string) => Promise<void>,
): Promise<void> {
  const node = await startNode({
    id: 1,
    peers: new Map([[1, "127.0.0.1:0"]]),
    listen: { hostname: "127.0.0.1", port: 0 },
    partitions: 2,
    storage: "memory",
    tickMs: 5,
    demoActions,
  });
  try {
    await node.host.waitForLeaders(5000);
    await run(`http://127.0.0.1:${node.server.port}`);
  } finally {
    await node.stop();
  }
}

Deno.test("/status.json describes every replica and carries no keys or values", async () => {
  await withNode(false, async (url) => {
    const put = await fetch(`${url}/prkdb.v1.KvService/Put`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: btoa("secret-key"), value: btoa("secret-value") }),
    });
    assertEquals(put.status, 200, await put.text());
    const response = await fetch(`${url}/status.json`);
    const text = await response.text();
    const doc = JSON.parse(text) as ClusterStatusJson;
    assertEquals(doc.version, 1);
    assertEquals(doc.servedBy, 1);
    assertEquals(doc.partitions, 2);
    assertEquals(doc.demoActions, false);
    assertEquals(doc.nodes.length, 1);
    const status = doc.nodes[0].status!;
    assertEquals(status.replicas.map((r) => [r.partition, r.role, r.leader]), [
      [0, "Leader", 1],
      [1, "Leader", 1],
    ]);
    for (const r of status.replicas) {
      assert(r.term >= 1 && r.commitIndex >= 1 && r.lastApplied === r.commitIndex);
      assertEquals(r.logLength, r.lastLogIndex - r.snapshotIndex);
    }
    assertEquals(status.totals.proposals, 1);
    assert(status.events.some((e) => e.kind === "election"), JSON.stringify(status.events));
    // Keys and values never appear, in any encoding.
    for (const s of ["secret-key", "secret-value"]) {
      assert(!text.includes(s) && !text.includes(btoa(s)));
    }
  });
});

Deno.test("/ui is one self-contained page; demo actions exist only with --demo-actions", async () => {
  await withNode(false, async (url) => {
    const page = await fetch(`${url}/ui`);
    assertMatch(page.headers.get("content-type")!, /^text\/html/);
    assertMatch(page.headers.get("content-security-policy")!, /default-src 'self'/);
    const html = await page.text();
    assert(!/(src|href)=["']?(https?:)?\/\//.test(html), "nothing is fetched from elsewhere");
    assert(html.length < 20_000, `the page is small (${html.length} bytes)`);
    const refused = await fetch(`${url}/demo/transfer-leader`, {
      method: "POST",
      body: JSON.stringify({ partition: 0, to: 1 }),
    });
    assertEquals(refused.status, 404);
    await refused.body?.cancel();
  });
  await withNode(true, async (url) => {
    const doc = await (await fetch(`${url}/status.json`)).json() as ClusterStatusJson;
    assertEquals(doc.demoActions, true);
    const bad = await fetch(`${url}/demo/transfer-leader`, {
      method: "POST",
      body: JSON.stringify({ partition: 0, to: 7 }),
    });
    assertEquals(bad.status, 400);
    assertMatch((await bad.json()).error, /not a replica of partition 0/);
    const self = await fetch(`${url}/demo/transfer-leader`, {
      method: "POST",
      body: JSON.stringify({ partition: 0, to: 1 }),
    });
    assertEquals(await self.json(), { started: false, leader: 1, detail: "it already leads" });
  });
});

Deno.test("ActivityRecorder: rates average the last complete seconds", () => {
  let now = 10_000;
  const a = new ActivityRecorder({ now: () => now, windowSeconds: 2, events: 2 });
  a.sent(4);
  now += 1000;
  a.sent(2);
  a.received(6);
  now += 1000;
  assertEquals(a.rates(), { messagesSent: 3, messagesReceived: 3, proposals: 0 });
  assertEquals(a.totals(), { messagesSent: 6, messagesReceived: 6, proposals: 0 });
  a.events(3, [
    { type: "ElectionStarted", preVote: true, term: 2 },
    { type: "ElectionStarted", preVote: false, term: 2 },
    { type: "LeaderChanged", leaderId: 1, term: 2 },
    { type: "LeadershipTransfer", to: 2, outcome: "started" },
  ]);
  assertEquals(a.recent().map((e) => e.kind), ["leader", "transfer"]);
});

Deno.test("sharedBuild: one build per window, a fresh one after it", async () => {
  let now = 0, builds = 0;
  const get = sharedBuild(() => Promise.resolve(++builds), 250, () => now);
  assertEquals(await Promise.all([get(), get()]), [1, 1]);
  now = 249;
  assertEquals(await get(), 1);
  now = 250;
  assertEquals(await get(), 2);
});
