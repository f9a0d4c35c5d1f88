/**
 * End-to-end: an application that sends all its writes to one node that does not lead their
 * partition. The leader sees them all passed on by that node and hands its leadership over, so
 * the writes stop paying the hop to the leader and back; leadership stays while they keep coming,
 * every acknowledged write is still there, and the metrics say why leadership moved. A client
 * that only claims its writes were passed on by another node moves nothing (also with mutual TLS,
 * where a read-write client may write), and neither does a cluster started with
 * `--follow-writes off`.
 */
import { assert, assertEquals } from "@std/assert";
import { PrkDbClient } from "../../client/mod.ts";
import { FORWARDED_HEADER } from "../../rpc/route_headers.ts";
import { join } from "@std/path";
import { initCertificates } from "../../server/certs.ts";
import { b64, callJson, ProcessCluster } from "./processes.ts";
import { settledLeader } from "./settled_leader.ts";

/** The partition's leader as node `id` sees it (0 when unknown or unreachable). */
async function leaderAt(c: ProcessCluster, id: number): Promise<number> {
  return (await c.health(id))?.partitions.find((p) => p.partition === 0)?.leader ?? 0;
}

/** Transfers for `reason` counted by every node. */
async function transfers(c: ProcessCluster, reason: string): Promise<number> {
  let sum = 0;
  for (const u of c.urls.values()) {
    for (const line of (await (await fetch(`${u}/metrics`)).text()).split("\n")) {
      if (
        line.startsWith("prkdb_raft_leadership_transfers_total{") &&
        line.includes(`reason="${reason}"`)
      ) sum += Number(line.split(" ").at(-1));
    }
  }
  return sum;
}

/** Sends puts to `url` for `ms` milliseconds (4,000 at most), each with `headers`. */
async function putFor(
  url: string,
  ms: number,
  tag: string,
  headers: Record<string, string> = {},
  client?: Deno.HttpClient,
): Promise<void> {
  for (let i = 0, until = Date.now() + ms; i < 4000 && Date.now() < until; i++) {
    const r = await fetch(`${url}/prkdb.v1.KvService/Put`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ key: b64(`${tag}-${i}`), value: b64("x") }),
      client,
    });
    await r.body?.cancel();
  }
}

/** A 3-node cluster of one partition with fast ticks (balancing looks every 30), settled. */
async function settled(
  extraArgs: string[] = [],
): Promise<{ c: ProcessCluster; db: PrkDbClient; first: number }> {
  const c = await ProcessCluster.start(3, { partitions: 1, tickMs: 20, extraArgs });
  const db = await PrkDbClient.connect([...c.urls.values()]);
  // Balancing first hands the partition to its preferred replica: start from there.
  return { c, db, first: await settledLeader(db) };
}

Deno.test("leadership follows the node a partition's writes come through and stays; no acknowledged write is lost", async () => {
  const { c, db, first } = await settled();
  try {
    const writer = [1, 2, 3].find((id) => id !== first)!;
    const url = c.urls.get(writer)!;
    const acknowledged: number[] = [];
    let i = 0;
    /** Writes through `writer` until `done`, bounded by 4,000 writes and 30 seconds. */
    const writeUntil = async (done: (i: number) => Promise<boolean>) => {
      for (const until = Date.now() + 30_000; i < 4000 && Date.now() < until; i++) {
        const put = await callJson(url, "Put", { key: b64(`w-${i}`), value: b64(String(i)) });
        // A write caught by the handover may be refused as retryable: not acknowledged.
        if (put.status === 200 && put.json.ok === true) acknowledged.push(i);
        if (i % 25 === 0 && await done(i)) return;
      }
    };
    await writeUntil(async () => await leaderAt(c, writer) === writer);
    assertEquals(await leaderAt(c, writer), writer, "the writer's node leads");
    assert((await transfers(c, "writes")) >= 1, "no leadership transfer counted for writes");

    // Five more balancing passes (30 ticks of 20 ms each) of writes: it stays.
    const since = Date.now();
    await writeUntil(() => Promise.resolve(Date.now() - since > 3000));
    assertEquals(await leaderAt(c, writer), writer, "the writer's node still leads");

    // Every acknowledged write reads back, linearizably (the client retries a handover).
    const keys = acknowledged.map((n) => `w-${n}`);
    for (let at = 0; at < keys.length; at += 500) {
      const entries = await db.getMany(keys.slice(at, at + 500));
      entries.forEach((e, j) =>
        assertEquals(
          e.value && new TextDecoder().decode(e.value),
          String(acknowledged[at + j]),
          keys[at + j],
        )
      );
    }
  } finally {
    db.close();
    await c.stop();
  }
});

Deno.test("with --follow-writes off, leadership stays with the preferred replica", async () => {
  const { c, db, first } = await settled(["--follow-writes", "off"]);
  try {
    const url = c.urls.get([1, 2, 3].find((id) => id !== first)!)!;
    // Six balancing passes of writes through a follower.
    await putFor(url, 4000, "o");
    assertEquals(await leaderAt(c, first), first);
    assertEquals(await transfers(c, "writes"), 0);
  } finally {
    db.close();
    await c.stop();
  }
});

Deno.test("a client that claims its writes were passed on by another node moves no leadership", async () => {
  const { c, db, first } = await settled();
  try {
    const other = [1, 2, 3].find((id) => id !== first)!;
    // Sent to the leader itself, each claiming another member passed it on: six passes' worth.
    await putFor(c.urls.get(first)!, 4000, "f", { [FORWARDED_HEADER]: String(other) });
    assertEquals(await leaderAt(c, first), first);
    assertEquals(await transfers(c, "writes"), 0);
  } finally {
    db.close();
    await c.stop();
  }
});

Deno.test("with mutual TLS: a read-write client's claim moves nothing; writes through a node move its leadership", async () => {
  const certs = await Deno.makeTempDir({ prefix: "prkdb-follow-certs-" });
  await initCertificates({ dir: certs, nodes: [1, 2, 3] });
  const c = await ProcessCluster.start(3, { partitions: 1, tickMs: 20, certs });
  const read = (name: string) => Deno.readTextFile(join(certs, name));
  const rw = {
    ca: await read("ca.pem"),
    cert: await read("client-rw.pem"),
    key: await read("client-rw.key"),
  };
  const http = Deno.createHttpClient({ caCerts: [rw.ca], cert: rw.cert, key: rw.key });
  const db = await PrkDbClient.connect([...c.urls.values()], { tls: rw });
  try {
    const first = await settledLeader(db);
    const other = [1, 2, 3].find((id) => id !== first)!;
    const put = async (url: string, key: string, headers: Record<string, string> = {}) => {
      const r = await fetch(`${url}/prkdb.v1.KvService/Put`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ key: b64(key), value: b64("x") }),
        client: http,
      });
      await r.body?.cancel();
      return r.status;
    };
    // A client with every right to write, claiming that another member passed its writes on.
    assertEquals(
      await put(c.urls.get(first)!, "claim", { [FORWARDED_HEADER]: String(other) }),
      200,
    );
    await putFor(c.urls.get(first)!, 4000, "c", { [FORWARDED_HEADER]: String(other) }, http);
    assertEquals(await leaderAt(c, first), first, "a claim moved leadership");

    // The same client's writes sent to the other node, which passes them on over its stream.
    let leader = first;
    for (let i = 0, until = Date.now() + 30_000; i < 4000 && Date.now() < until; i++) {
      await put(c.urls.get(other)!, `t-${i}`);
      if (i % 25 === 0 && (leader = await leaderAt(c, other)) === other) break;
    }
    assertEquals(leader, other, "writes passed on over a verified stream moved leadership");
  } finally {
    db.close();
    http.close();
    await c.stop();
    await Deno.remove(certs, { recursive: true });
  }
});
