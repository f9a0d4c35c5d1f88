import { assert, assertEquals, assertMatch } from "@std/assert";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient, createConnectRouter } from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type RaftBatch, RaftBatchSchema, RaftService } from "./gen/prkdb/v1/raft_pb.ts";
import { startHttpServer } from "../server/http_server.ts";
import { ClientStream, type ClientStreamOptions } from "./client_stream.ts";
import { waitFor } from "../tests/support/wait.ts";

const PATH = `/${RaftService.typeName}/Stream`;

/** A real Connect server whose Stream method records every batch it reads. */
async function streamServer(port = 0) {
  const batches: RaftBatch[] = [];
  const router = createConnectRouter();
  router.service(RaftService, {
    async stream(requests) {
      for await (const batch of requests) batches.push(batch);
      return {};
    },
  });
  const handler = createFetchHandler(router.handlers.find((h) => h.requestPath === PATH)!);
  const server = await startHttpServer({
    hostname: "127.0.0.1",
    port,
    streamingPaths: new Set([PATH]),
    handler: (request) => handler(request),
  });
  /** The numbers received, in order. */
  const items = () => batches.flatMap((b) => b.cluster.split(",").map(Number));
  return { server, batches, items };
}

/** A stream of numbers: each batch carries its numbers in the cluster field. */
function numbers(
  port: number,
  more: Partial<ClientStreamOptions<number>> = {},
): { stream: ClientStream<number>; dropped: number[]; errors: string[] } {
  const dropped: number[] = [];
  const errors: string[] = [];
  const stream = new ClientStream<number>({
    url: `http://127.0.0.1:${port}${PATH}`,
    encode: (items) =>
      toBinary(RaftBatchSchema, create(RaftBatchSchema, { cluster: items.join(",") })),
    bytes: () => 8,
    maxMessageBytes: 1 << 20,
    stallMs: 2000,
    idleMs: 30_000,
    onDropped: (items, error) => {
      dropped.push(...items);
      errors.push(String(error));
    },
    ...more,
  });
  return { stream, dropped, errors };
}

Deno.test("ClientStream: items reach a real Connect server in order, batched while the connection is busy", async () => {
  const { server, batches, items } = await streamServer();
  const { stream, dropped } = numbers(server.port);
  try {
    for (let i = 0; i < 2000; i++) stream.push([i]);
    await waitFor("every item", () => items().length === 2000);
    assertEquals(items(), Array.from({ length: 2000 }, (_, i) => i), "in order, none twice");
    assert(
      batches.length < 2000,
      `${batches.length} messages for 2000 items: queued items share one`,
    );
    assert(stream.open, "one stream stays open");
    assertEquals(dropped, []);
  } finally {
    await stream.close();
    await server.close();
  }
});

Deno.test("ClientStream: items pushed in one turn of the event loop go out as one message", async () => {
  const { server, batches, items } = await streamServer();
  const { stream } = numbers(server.port);
  try {
    stream.push([0]);
    await waitFor("the first item", () => items().length === 1);
    // The connection now waits for data: separate pushes in this turn still share a message.
    const before = batches.length;
    for (let i = 1; i <= 5; i++) stream.push([i]);
    await waitFor("the five items", () => items().length === 6);
    assertEquals(items(), [0, 1, 2, 3, 4, 5]);
    assertEquals(batches.length - before, 1, "one message for the five");
  } finally {
    await stream.close();
    await server.close();
  }
});

Deno.test("ClientStream: closing reports what was still queued as dropped", async () => {
  const { server } = await streamServer();
  const { stream, dropped, errors } = numbers(server.port);
  try {
    // The new stream's connection has not asked for data yet: both items are still queued.
    stream.push([1, 2]);
    assertEquals(stream.queued, 2);
  } finally {
    await stream.close();
    await server.close();
  }
  assertEquals(dropped, [1, 2]);
  assertMatch(errors[0], /closed/);
  // And so is anything pushed afterwards.
  stream.push([3]);
  assertEquals(dropped, [1, 2, 3]);
});

Deno.test("ClientStream: the official Connect client streams to the same method", async () => {
  const { server, items } = await streamServer();
  try {
    const client = createClient(
      RaftService,
      createConnectTransport({ baseUrl: `http://127.0.0.1:${server.port}`, httpVersion: "1.1" }),
    );
    const batches = (async function* () {
      for (let i = 0; i < 3; i++) yield { cluster: `${2 * i},${2 * i + 1}` };
    })();
    await client.stream(batches);
    assertEquals(items(), [0, 1, 2, 3, 4, 5]);
  } finally {
    await server.close();
  }
});

Deno.test("ClientStream: a broken stream drops what it cannot send; the next push after the peer is back opens a new one", async () => {
  const first = await streamServer();
  const port = first.server.port;
  const clock = 0; // time stands still: the backoff after the break lasts until retryNow
  const { stream, dropped, errors } = numbers(port, { now: () => clock });
  let second: Awaited<ReturnType<typeof streamServer>> | undefined;
  try {
    stream.push([1]);
    await waitFor("the first item", () => first.items().length === 1);
    await first.server.close();
    await waitFor("the stream to notice", () => !stream.open);
    stream.push([2]); // backing off: dropped at once, never queued behind a dead connection
    assertEquals(dropped, [2]);
    assertEquals(stream.queued, 0);
    second = await streamServer(port);
    stream.retryNow(); // what an answered ping does
    stream.push([3]);
    await waitFor("the item after the restart", () => second!.items().length === 1);
    assertEquals(second.items(), [3]);
    assertEquals(first.items(), [1], "nothing was sent twice");
    assert(errors.length > 0);
  } finally {
    await stream.close();
    await second?.server.close();
  }
});

Deno.test("ClientStream: a peer that stops reading breaks the stream instead of queueing forever", async () => {
  // Accepts connections and never reads a byte: the kernel's buffers fill, then nothing moves.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  let clock = 0;
  const dropped: Uint8Array[] = [];
  const errors: string[] = [];
  const stream = new ClientStream<Uint8Array>({
    url: `http://127.0.0.1:${listener.addr.port}${PATH}`,
    encode: (items) => toBinary(RaftBatchSchema, create(RaftBatchSchema, { leading: items[0] })),
    bytes: (item) => item.length,
    maxMessageBytes: 64 << 10, // one item per message
    stallMs: 2000,
    idleMs: 30_000,
    onDropped: (items, error) => {
      dropped.push(...items);
      errors.push(String(error));
    },
    now: () => clock,
  });
  const item = new Uint8Array(64 << 10);
  /** Feeds one item whenever the queue is empty, until the queue has been stuck for a while. */
  const fillUntilStuck = () => {
    let stuckPolls = 0;
    return waitFor(
      "the connection to stop taking items",
      () => {
        // Stuck: what was queued at the last poll is still there (a push goes out a turn later).
        const stuck = stream.queued > 0;
        if (!stuck) stream.push([item]);
        stuckPolls = stuck ? stuckPolls + 1 : 0;
        return stuckPolls >= 40;
      },
      30_000,
      5,
    );
  };
  try {
    await fillUntilStuck();
    assert(stream.open);
    // More keeps queueing until the bound (4 messages' worth): then the stream breaks.
    stream.push([item, item, item, item]);
    assert(!stream.open, "a peer that reads nothing cannot make the queue grow without bound");
    assertEquals(dropped.length, 5);
    assertMatch(errors.at(-1)!, /not keeping up/);
    // A new stream after the backoff; this time the items wait past the stall limit.
    clock += 1000;
    await fillUntilStuck();
    assert(stream.open);
    clock += 2001;
    stream.push([item]);
    assert(!stream.open, "the stalled stream is broken");
    assertEquals(dropped.length, 5 + 2, "what was queued is reported lost");
    assertMatch(errors.at(-1)!, /took nothing for 2000 ms/);
  } finally {
    await stream.close();
    listener.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  }
});
