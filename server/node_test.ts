import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { DataDirLockedError, StorageError } from "../storage/errors.ts";
import { startNode } from "./node.ts";
import { startHttpServer } from "./http_server.ts";
import { RAFT_STREAM_PATH, RAFT_STREAM_TYPE } from "./raft_stream.ts";
import { RaftBatchSchema } from "../rpc/gen/prkdb/v1/raft_pb.ts";
import { encodeRaftMessage, MAX_WIRE_NUMBER } from "../rpc/raft_codec.ts";
import { frame } from "../rpc/connect_envelope.ts";
import { streamError } from "../rpc/client_stream.ts";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ForwardRequestSchema, ForwardResponseSchema } from "../rpc/gen/prkdb/v1/kv_pb.ts";
import { callUnary } from "../rpc/connect_unary.ts";
import { freePort } from "../tests/cluster/processes.ts";
import { waitFor } from "../tests/support/wait.ts";

const te = new TextEncoder();

Deno.test("startNode: a refused recovery releases the data directory", async () => {
  const parent = await Deno.makeTempDir({ prefix: "prkdb-node-" });
  const dataDir = join(parent, "n1");
  const config = {
    id: 1,
    peers: new Map([[1, "127.0.0.1:0"]]),
    listen: { hostname: "127.0.0.1", port: 0 },
    partitions: 1,
    storage: "kv" as const,
    dataDir,
    tickMs: 5,
  };
  try {
    const node = await startNode(config);
    await node.host.waitForLeaders(5000);
    await node.stop();
    // Damage the store so that loading partition 0 fails: its entries are gone, its meta is not.
    const kv = await Deno.openKv(join(dataDir, "prkdb.sqlite"));
    for await (const { key } of kv.list({ prefix: ["prkdb", "log", 0] })) await kv.delete(key);
    kv.close();
    for (let attempt = 0; attempt < 2; attempt++) {
      // The second attempt meets the same damage, not a lock the first one kept.
      const error = await assertRejects(
        () => startNode(config),
        StorageError,
        "should hold entries",
      );
      if (error instanceof DataDirLockedError) throw error;
    }
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("startNode: a peer that answers pings but refuses the Raft messages is not reported connected", async () => {
  // A stand-in for node 2: it answers liveness pings, and refuses the stream that carries the
  // Raft messages (as a peer would that this node's certificate no longer satisfies).
  let pinged = 0;
  const peer = await startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    streamingPaths: new Set([RAFT_STREAM_PATH]),
    handler: async (request) => {
      await request.body?.cancel();
      const path = new URL(request.url).pathname;
      if (path === "/prkdb.v1.RaftService/Heartbeat") {
        pinged++;
        return new Response(new Uint8Array(0), {
          headers: { "content-type": "application/proto" },
        });
      }
      if (path === RAFT_STREAM_PATH) {
        return Response.json({ code: "permission_denied", message: "no Raft traffic from you" }, {
          status: 403,
        });
      }
      return new Response("not found", { status: 404 });
    },
  });
  const node = await startNode({
    id: 1,
    peers: new Map([[1, "127.0.0.1:0"], [2, `127.0.0.1:${peer.port}`]]),
    listen: { hostname: "127.0.0.1", port: 0 },
    partitions: 1,
    storage: "memory",
    tickMs: 5,
  });
  try {
    const deadline = Date.now() + 10_000;
    let seen = node.metrics.peers().find((p) => p.peer === 2);
    while (!(seen?.refusing && pinged > 0 && seen.lastSyncMs > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      seen = node.metrics.peers().find((p) => p.peer === 2);
    }
    assert(pinged > 0 && seen !== undefined && seen.lastSyncMs > 0, "pings were answered");
    assertEquals(seen.refusing, true);
    assertEquals(seen.connected, false, "answered pings do not hide refused messages");
    assertStringIncludes(seen.lastError ?? "", "no Raft traffic from you");
  } finally {
    await node.stop();
    await peer.close();
  }
});

/**
 * Two members; once they have a leader, the other one stops: the leader takes writes but cannot
 * commit them.
 */
async function leaderWithoutQuorum() {
  const peers = new Map([1, 2].map((id) => [id, `127.0.0.1:${freePort()}`]));
  const nodes = await Promise.all(
    [1, 2].map((id) =>
      startNode({ id, peers, partitions: 1, storage: "memory" as const, tickMs: 100 })
    ),
  );
  await Promise.all(nodes.map((n) => n.host.waitForLeaders(10_000)));
  const leader = nodes.find((n) => n.host.leaderOf(0) === n.host.nodeId)!;
  const other = nodes.find((n) => n !== leader)!;
  await other.stop();
  return { leader, other, stop: () => leader.stop() };
}

Deno.test("startNode: a write whose client deadline passes at the node answers deadline_exceeded, not internal", async () => {
  const { leader, stop } = await leaderWithoutQuorum();
  try {
    const response = await fetch(`http://127.0.0.1:${leader.server.port}/prkdb.v1.KvService/Put`, {
      method: "POST",
      headers: { "content-type": "application/json", "connect-timeout-ms": "300" },
      body: JSON.stringify({ key: btoa("k"), value: btoa("v") }),
    });
    const body = await response.json();
    assertEquals(body.code, "deadline_exceeded", JSON.stringify(body));
  } finally {
    await stop();
  }
});

Deno.test("startNode: a Forward call is answered before its time limit, each write with its own outcome", async () => {
  const { leader, other, stop } = await leaderWithoutQuorum();
  try {
    const request = create(ForwardRequestSchema, {
      calls: [{ call: { case: "put", value: { key: te.encode("k"), value: te.encode("v") } } }],
    });
    // As a follower forwards: its own limit is the one the leader is told.
    const answer = fromBinary(
      ForwardResponseSchema,
      await callUnary(
        `http://127.0.0.1:${leader.server.port}/prkdb.v1.KvService/Forward`,
        toBinary(ForwardRequestSchema, request),
        { timeoutMs: 800, headers: { "prkdb-forwarded": String(other.host.nodeId) } },
      ),
    );
    const result = answer.results[0].result;
    assert(result.case === "error", `the write is answered on its own: ${result.case}`);
    assertEquals(result.value.code, Code.DeadlineExceeded, result.value.message);
  } finally {
    await stop();
  }
});

/** Three in-process members with one partition, once it has a leader. */
async function threeNodes() {
  const peers = new Map([1, 2, 3].map((id) => [id, `127.0.0.1:${freePort()}`]));
  const nodes = await Promise.all(
    [1, 2, 3].map((id) =>
      startNode({ id, peers, partitions: 1, storage: "memory" as const, tickMs: 50 })
    ),
  );
  try {
    await Promise.all(nodes.map((n) => n.host.waitForLeaders(10_000)));
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw error;
  }
  return nodes;
}

Deno.test("startNode: writes sent to a follower reach the leader on the peer stream, each answered with its own outcome", async () => {
  const nodes = await threeNodes();
  try {
    const leaderId = nodes[0].host.leaderOf(0);
    const follower = nodes.find((n) => n.host.nodeId !== leaderId)!;
    // A client of its own, as a client process has: this process's nodes share the global one.
    using client = Deno.createHttpClient({});
    const call = async (method: string, body: unknown) => {
      const r = await fetch(
        `http://127.0.0.1:${follower.server.port}/prkdb.v1.KvService/${method}`,
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
          client,
        },
      );
      return { status: r.status, body: await r.json() };
    };
    const counted = async (metric: string, label: string) => {
      const text = await follower.metrics.scrape();
      const line = text.split("\n").find((l) => l.startsWith(metric) && l.includes(label));
      return Number(line?.split(" ").at(-1) ?? 0);
    };
    const passedOn = (via: string) => counted("prkdb_kv_forwarded_writes_total", `via="${via}"`);
    const onLane = (lane: string) => counted("prkdb_http_requests_total", `lane="${lane}"`);
    // Until the leader's first ping answer says it serves them, writes go in Forward calls.
    let n = 0;
    await waitFor("a write passed on by the stream", async () => {
      const put = await call("Put", { key: btoa(`warm-${n++}`), value: btoa("v") });
      assertEquals(put.status, 200, JSON.stringify(put.body));
      return (await passedOn("stream")) > 0;
    });
    // A put, a refused conditional put and a delete, on key `k`; each is passed on by the stream
    // and served on the lean lane. The other nodes' liveness pings take the lean lane too, and
    // their peer streams (opened when first needed) the general path, so an attempt during which
    // a stream opened cannot tell: up to five attempts, each on a key of its own.
    let k = "";
    for (let attempt = 0;; attempt++) {
      k = `k-${attempt}`;
      const before = await passedOn("stream");
      const leanBefore = await onLane("lean");
      const generalBefore = await onLane("general");
      const put = await call("Put", { key: btoa(k), value: btoa("one") });
      assertEquals(put.status, 200, JSON.stringify(put.body));
      assertEquals(put.body.ok, true);
      // A refused condition comes back as the leader's answer, not as a lost leader.
      const stale = await call("Put", {
        key: btoa(k),
        value: btoa("two"),
        ifVersion: "0".repeat(20),
      });
      assertEquals(
        [stale.status, stale.body.ok ?? false],
        [200, false],
        JSON.stringify(stale.body),
      );
      const del = await call("Delete", { key: btoa(k) });
      assertEquals([del.status, del.body.found], [200, true], JSON.stringify(del.body));
      assertEquals(await passedOn("stream"), before + 3, "all three on the stream");
      const lean = (await onLane("lean")) - leanBefore;
      const general = (await onLane("general")) - generalBefore;
      if (general === 0) {
        assert(lean >= 3, `all three client calls on the lean lane (${lean})`);
        break;
      }
      assert(attempt < 4, `${general} requests took the general path in each of five attempts`);
    }
    const leader = nodes.find((x) => x.host.nodeId === leaderId)!;
    const got = await fetch(`http://127.0.0.1:${leader.server.port}/prkdb.v1.KvService/Get`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: btoa(k) }),
    }).then((r) => r.json());
    assertEquals(got.found ?? false, false, "the delete was applied once, after the put");
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

Deno.test("startNode: a batch refused for one bad message serves none of the writes it carries", async () => {
  const nodes = await threeNodes();
  try {
    const leader = nodes.find((n) => n.host.leaderOf(0) === n.host.nodeId)!;
    const other = nodes.find((n) => n !== leader)!.host.nodeId;
    const base = `http://127.0.0.1:${leader.server.port}`;
    const self = leader.host.nodeId;
    /** Messages that make a batch malformed, each for its own reason. */
    const bad = {
      // Not addressed to this node.
      misaddressed: encodeRaftMessage(0, {
        type: "HeartbeatResponse",
        from: other,
        to: 99,
        term: 1,
        readRound: 0,
      }),
      // A term beyond the wire's limit: well-formed bytes, refused for what they hold.
      "term beyond the limit": encodeRaftMessage(0, {
        type: "HeartbeatResponse",
        from: other,
        to: self,
        term: MAX_WIRE_NUMBER + 1,
        readRound: 0,
      }),
      // No body at all.
      bodiless: { partition: 0, from: other, to: self, term: 1n },
    };
    /** One batch on a new stream to the leader, as node `other`; the stream's ending error. */
    const send = async (keys: string[], message?: keyof typeof bad) => {
      const batch = create(RaftBatchSchema, {
        from: other,
        cluster: "prkdb",
        messages: message ? [bad[message]] : [],
        writes: keys.map((key, i) => ({
          id: 1000 + i,
          timeoutMs: 2000,
          call: {
            call: { case: "put" as const, value: { key: te.encode(key), value: te.encode("v") } },
          },
        })),
      });
      const response = await fetch(`${base}${RAFT_STREAM_PATH}`, {
        method: "POST",
        headers: { "content-type": RAFT_STREAM_TYPE, "connect-protocol-version": "1" },
        body: frame(toBinary(RaftBatchSchema, batch)),
      });
      return await streamError(response);
    };
    const found = async (key: string) => {
      const r = await fetch(`${base}/prkdb.v1.KvService/Get`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ key: btoa(key) }),
      });
      return (await r.json()).found === true;
    };
    for (const reason of Object.keys(bad) as (keyof typeof bad)[]) {
      const refused = await send([`refused ${reason}`], reason);
      assert(refused instanceof ConnectError, `the batch with a ${reason} message is refused`);
      assertEquals(refused.code, Code.InvalidArgument);
      assert(refused.message.includes("Malformed Raft message"), refused.message);
    }
    // A later batch's write is served: the refused ones, sent first, would have been served first.
    assertEquals(await send(["accepted"]), undefined);
    await waitFor("the accepted write", () => found("accepted"));
    for (const reason of Object.keys(bad)) {
      assertEquals(
        await found(`refused ${reason}`),
        false,
        `nothing of the ${reason} batch served`,
      );
    }
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
});
