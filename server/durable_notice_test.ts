import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { startNode } from "./node.ts";
import { formatVersion } from "../partition/version.ts";
import { freePort } from "../tests/cluster/processes.ts";
import { waitFor } from "../tests/support/wait.ts";

Deno.test("startNode: a put sent to a follower is answered there once the leader's notice and its own disk agree, and reads see it at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-durable-notice-" });
  const peers = new Map([1, 2, 3].map((id) => [id, `127.0.0.1:${freePort()}`]));
  const nodes = await Promise.all(
    [1, 2, 3].map((id) =>
      startNode({
        id,
        peers,
        partitions: 1,
        storage: "file" as const,
        dataDir: join(dir, `n${id}`),
        tickMs: 50,
      })
    ),
  );
  using client = Deno.createHttpClient({});
  try {
    await Promise.all(nodes.map((n) => n.host.waitForLeaders(10_000)));
    const leader = nodes.find((n) => n.host.leaderOf(0) === n.host.nodeId)!;
    const [follower, other] = nodes.filter((n) => n !== leader);
    const call = async (node: typeof leader, method: string, body: unknown) => {
      const r = await fetch(`http://127.0.0.1:${node.server.port}/prkdb.v1.KvService/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        client,
      });
      const json = await r.json();
      assertEquals(r.status, 200, JSON.stringify(json));
      return json;
    };
    const answeredOnNotice = async () => {
      const text = await follower.metrics.scrape();
      const line = text.split("\n").find((l) =>
        l.startsWith("prkdb_kv_durable_notice_answers_total")
      );
      return Number(line?.split(" ").at(-1) ?? 0);
    };
    // Until the leader's first ping answer says it serves writes on the stream, puts go in
    // Forward calls, which carry no notice.
    let n = 0;
    await waitFor("a put answered on a durable notice", async () => {
      await call(follower, "Put", { key: btoa(`warm-${n++}`), value: btoa("v") });
      return (await answeredOnNotice()) > 0;
    });
    const before = await answeredOnNotice();
    for (let i = 0; i < 20; i++) {
      const key = btoa(`k-${i}`);
      const value = btoa(`v-${i}`);
      const put = await call(follower, "Put", { key, value });
      assertEquals(put.ok, true);
      assertEquals(put.version, formatVersion(0, Number(put.index)), "the leader's own answer");
      // Linearizable reads started after the answer see the put, wherever they are served.
      for (const node of [leader, other, follower]) {
        const got = await call(node, "Get", { key });
        assertEquals([got.value, got.version], [value, put.version], `at node ${node.host.nodeId}`);
      }
    }
    const answered = (await answeredOnNotice()) - before;
    assert(answered > 0, "no put of twenty was answered on the leader's notice");
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await Deno.remove(dir, { recursive: true });
  }
});
