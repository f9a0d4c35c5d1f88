import { assert, assertEquals } from "@std/assert";
import { Code, ConnectError, createConnectRouter } from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import type { Message } from "../raft/message.ts";
import type { RaftRpc } from "./raft_codec.ts";
import { decodeRaftMessage } from "./raft_codec.ts";
import { type RaftBatch, RaftService } from "./gen/prkdb/v1/raft_pb.ts";
import type { ReceivedBatch } from "./raft_read.ts";
import { startHttpServer } from "../server/http_server.ts";
import { RAFT_STREAM_PATH, receiveRaftStream } from "../server/raft_stream.ts";
import { ConnectRaftTransport } from "./raft_transport.ts";
import { waitFor } from "../tests/support/wait.ts";
import { serveRouter } from "../tests/support/router_server.ts";

const STREAM = RAFT_STREAM_PATH;

/** A peer (node 2) on a real HTTP server: its stream and its ping method, both recording. */
async function peer(port = 0, refuse = false, servesWrites?: boolean) {
  const received: { partition: number; message: Message }[] = [];
  const pings: RaftBatch[] = [];
  const batches: ReceivedBatch[] = [];
  const router = createConnectRouter();
  router.service(RaftService, {
    heartbeat(batch) {
      pings.push(batch);
      // A node of an earlier version answers with an empty acknowledgement.
      return servesWrites === undefined ? {} : { servesWrites };
    },
  });
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, createFetchHandler(h)]));
  const accept = (batch: ReceivedBatch) => {
    if (refuse) throw new ConnectError(`node ${batch.from} is not a member`, Code.PermissionDenied);
    batches.push(batch);
    received.push(...batch.messages);
  };
  const server = await startHttpServer({
    hostname: "127.0.0.1",
    port,
    streamingPaths: new Set([STREAM]),
    handler: (request) => {
      const path = new URL(request.url).pathname;
      if (path === STREAM) return receiveRaftStream(request, accept, 1 << 20);
      return handlers.get(path)!(request);
    },
  });
  return { server, received, pings, batches };
}

const heartbeat = (partition: number, term: number) => ({
  partition,
  message: { type: "Heartbeat", from: 1, to: 2, term, leaderCommit: 0, readRound: 0 } as Message,
});

interface Call {
  rpc: RaftRpc;
  error?: unknown;
}

Deno.test("ConnectRaftTransport: every partition's messages reach the peer on its stream; pings are answered calls", async () => {
  const p = await peer();
  const calls: Call[] = [];
  const sent: number[] = [];
  const transport = new ConnectRaftTransport({
    self: 1,
    cluster: "c",
    peers: new Map([[2, `http://127.0.0.1:${p.server.port}`]]),
    onCall: (_peer, rpc, _entries, _seconds, error) => calls.push({ rpc, error }),
    onSent: (_peer, _rpc, _entries, _seconds) => sent.push(1),
  });
  try {
    for (let term = 1; term <= 50; term++) {
      transport.send(2, [heartbeat(0, term), heartbeat(1, term)]);
    }
    await waitFor("every message", () => p.received.length === 100);
    assertEquals(
      p.received.filter((m) => m.partition === 1).map((m) => m.message.term).slice(0, 3),
      [
        1,
        2,
        3,
      ],
      "in order",
    );
    assert(sent.length > 0 && sent.length < 100, "batched: fewer writes than messages");
    transport.ping(2, new Uint8Array([0b11]));
    await waitFor("the ping's answer", () => calls.length === 1);
    assertEquals(calls[0], { rpc: "heartbeat", error: undefined });
    assertEquals([...p.pings[0].leading], [0b11]);
  } finally {
    await transport.close();
    await p.server.close();
  }
});

Deno.test("ConnectRaftTransport: a peer that refuses the stream loses those messages, counted as errors with its code", async () => {
  const p = await peer(0, true);
  const errors: unknown[] = [];
  const transport = new ConnectRaftTransport({
    self: 1,
    cluster: "c",
    peers: new Map([[2, `http://127.0.0.1:${p.server.port}`]]),
    onCall: (_peer, _rpc, _entries, _seconds, error) => error && errors.push(error),
  });
  try {
    transport.send(2, [heartbeat(0, 1)]);
    await waitFor("the refusal to be seen", () => errors.length > 0 || undefined);
    transport.send(2, [heartbeat(0, 2)]); // backing off after the refusal: lost at once
    await waitFor("the loss to be counted", () => errors.length >= 2);
    assert(errors.every((e) => e instanceof ConnectError && e.code === Code.PermissionDenied));
    assertEquals(p.received, []);
  } finally {
    await transport.close();
    await p.server.close();
  }
});

Deno.test("ConnectRaftTransport: a peer of an earlier version, without the stream, gets unary calls", async () => {
  // Serves the unary RaftService calls only: the stream's path is a 404, as on an older node.
  const received: { partition: number; message: Message }[] = [];
  const router = createConnectRouter();
  const take = (batch: RaftBatch) => {
    for (const m of batch.messages) received.push(decodeRaftMessage(m));
    return {};
  };
  router.service(RaftService, { heartbeat: take, appendEntries: take, vote: take });
  // An older node's routes have no stream at all.
  const { server } = await serveRouter(router, { without: [STREAM] });
  const transport = new ConnectRaftTransport({
    self: 1,
    cluster: "c",
    peers: new Map([[2, `http://127.0.0.1:${server.port}`]]),
  });
  try {
    // The first batch tries the stream and is lost; what follows goes as unary calls.
    let term = 0;
    await waitFor(
      "messages to arrive by unary calls",
      () => {
        transport.send(2, [heartbeat(0, ++term)]);
        return received.length >= 3;
      },
      10_000,
      50,
    );
    assert(received.every((m) => m.message.type === "Heartbeat"));
  } finally {
    await transport.close();
    await server.close();
  }
});

Deno.test("ConnectRaftTransport: writes go on a peer's stream once its ping answer says it serves them, answers too", async () => {
  const serving = await peer(0, false, true);
  const older = await peer(0, false);
  const calls: Call[] = [];
  const transport = new ConnectRaftTransport({
    self: 1,
    cluster: "c",
    peers: new Map([
      [2, `http://127.0.0.1:${serving.server.port}`],
      [3, `http://127.0.0.1:${older.server.port}`],
    ]),
    onCall: (_peer, rpc, _entries, _seconds, error) => calls.push({ rpc, error }),
  });
  try {
    assert(!transport.servesWrites(2), "not before the peer said so");
    transport.ping(2);
    transport.ping(3);
    await waitFor("both pings answered", () => calls.length === 2);
    assert(transport.servesWrites(2));
    assert(!transport.servesWrites(3), "a node of an earlier version gets Forward calls");
    const dropped: unknown[] = [];
    const call = new Uint8Array([10, 0]); // a ForwardedCall holding an empty put
    transport.send(2, [heartbeat(0, 1)]);
    transport.sendWrite(2, {
      write: { id: 5, timeoutMs: 2000, call, incarnation: 3 },
      dropped: (e) => dropped.push(e),
    });
    transport.sendAnswer(2, { answer: { id: 9, result: new Uint8Array(), incarnation: 3 } });
    await waitFor(
      "the write and the answer",
      () =>
        serving.batches.some((b) => b.writes.length > 0) &&
        serving.batches.some((b) => b.answers.length > 0),
    );
    const write = serving.batches.flatMap((b) => b.writes)[0];
    assertEquals([write.id, write.timeoutMs, write.call?.call.case, write.incarnation], [
      5,
      2000,
      "put",
      3,
    ]);
    assertEquals(serving.batches.flatMap((b) => b.answers).map((a) => a.id), [9]);
    assertEquals(serving.received.length, 1, "beside the Raft messages");
    assertEquals(dropped, []);
    // A write for a node that is not a peer is known at once not to have been sent.
    transport.sendWrite(7, {
      write: { id: 6, timeoutMs: 2000, call, incarnation: 3 },
      dropped: (e) => dropped.push(e),
    });
    assertEquals(dropped.length, 1);
  } finally {
    await transport.close();
    await serving.server.close();
    await older.server.close();
  }
});

Deno.test("ConnectRaftTransport: a write in a batch the peer refuses is reported dropped", async () => {
  const p = await peer(0, true, true);
  const transport = new ConnectRaftTransport({
    self: 1,
    cluster: "c",
    peers: new Map([[2, `http://127.0.0.1:${p.server.port}`]]),
  });
  try {
    const dropped: unknown[] = [];
    transport.sendWrite(2, {
      write: { id: 1, timeoutMs: 2000, call: new Uint8Array([10, 0]), incarnation: 3 },
      dropped: (e) => dropped.push(e),
    });
    await waitFor("the refusal", () => dropped.length === 1);
    assert(dropped[0] instanceof ConnectError && dropped[0].code === Code.PermissionDenied);
  } finally {
    await transport.close();
    await p.server.close();
  }
});

Deno.test("ConnectRaftTransport: a peer that leaves takes its queued messages with it, not counted as errors; its queued writes fail as never sent", async () => {
  const p = await peer(0, false, true);
  const calls: Call[] = [];
  const transport = new ConnectRaftTransport({
    self: 1,
    cluster: "c",
    peers: new Map([[2, `http://127.0.0.1:${p.server.port}`]]),
    onCall: (_peer, rpc, _entries, _seconds, error) => calls.push({ rpc, error }),
  });
  try {
    const dropped: unknown[] = [];
    // The new stream's connection has not asked for data yet: both stay queued.
    transport.send(2, [heartbeat(0, 1)]);
    transport.sendWrite(2, {
      write: { id: 1, timeoutMs: 2000, call: new Uint8Array([10, 0]), incarnation: 3 },
      dropped: (e) => dropped.push(e),
    });
    transport.setPeers(new Map()); // node 2 left the cluster
    assertEquals(dropped.length, 1, "the queued write is known not to have been sent");
    assertEquals(calls, [], "a peer that left has not failed");
  } finally {
    await transport.close();
    await p.server.close();
  }
});
