import { assertEquals, assertMatch } from "@std/assert";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { RaftBatchSchema, RaftService } from "../rpc/gen/prkdb/v1/raft_pb.ts";
import type { ReceivedBatch } from "../rpc/raft_read.ts";
import { END_STREAM, frame, readFrames } from "../rpc/connect_envelope.ts";
import { startHttpServer } from "./http_server.ts";
import { RAFT_STREAM_PATH, RAFT_STREAM_TYPE, receiveRaftStream } from "./raft_stream.ts";

const PATH = RAFT_STREAM_PATH;
const batch = (from: number) => toBinary(RaftBatchSchema, create(RaftBatchSchema, { from }));

/** Feeds `bytes` to the receiver in chunks of `size`, as a network might split them. */
async function receive(bytes: Uint8Array, size: number, accept: (b: ReceivedBatch) => void) {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.slice(at, at + size));
  const request = new Request("http://node" + PATH, {
    method: "POST",
    headers: { "content-type": RAFT_STREAM_TYPE },
    body: ReadableStream.from(chunks),
  });
  const response = await receiveRaftStream(request, accept, 1024);
  const frames = [];
  for await (const f of readFrames([new Uint8Array(await response.arrayBuffer())], 1 << 20)) {
    frames.push(f);
  }
  const end = frames.at(-1)!;
  assertEquals(end.flags, END_STREAM);
  return JSON.parse(new TextDecoder().decode(end.message)) as {
    error?: { code: string; message: string };
  };
}

const join = (parts: Uint8Array[]) => new Uint8Array(parts.flatMap((p) => [...p]));

Deno.test("receiveRaftStream: batches arrive whole and in order however the network splits them", async () => {
  const stream = join([1, 2, 3, 4, 5].map((n) => frame(batch(n))));
  for (const size of [1, 2, 5, 7, stream.length]) {
    const seen: number[] = [];
    const end = await receive(stream, size, (b) => seen.push(b.from));
    assertEquals([seen, end], [[1, 2, 3, 4, 5], {}], `chunks of ${size}`);
  }
});

Deno.test("receiveRaftStream: a refused, oversized, undecodable or compressed batch ends the stream with its error", async () => {
  const seen: number[] = [];
  const refuse = (b: ReceivedBatch) => {
    if (b.from === 9) throw new ConnectError("node 9 is not a peer", Code.PermissionDenied);
    seen.push(b.from);
  };
  let end = await receive(join([frame(batch(1)), frame(batch(9)), frame(batch(2))]), 3, refuse);
  assertEquals([seen, end.error?.code], [[1], "permission_denied"], "nothing after the refusal");
  // Refused from the header: the 2 KiB body is never buffered.
  end = await receive(frame(new Uint8Array(2048)), 64, refuse);
  assertEquals(end.error?.code, "resource_exhausted");
  assertMatch(end.error!.message, /2048 bytes exceeds the limit of 1024/);
  end = await receive(frame(new Uint8Array([0xff, 0xff, 0xff])), 3, refuse);
  assertEquals(end.error?.code, "invalid_argument");
  end = await receive(frame(batch(3), 0x01), 3, refuse);
  assertEquals(end.error?.code, "invalid_argument");
  end = await receive(frame(batch(4)).subarray(0, 4), 3, refuse);
  assertMatch(end.error!.message, /ended inside a message/);
  assertEquals(seen, [1]);
});

Deno.test("receiveRaftStream: the official Connect client streams to it over HTTP", async () => {
  const seen: number[] = [];
  const server = await startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    streamingPaths: new Set([PATH]),
    handler: (request) => receiveRaftStream(request, (b) => seen.push(b.from), 1 << 20),
  });
  try {
    const client = createClient(
      RaftService,
      createConnectTransport({ baseUrl: `http://127.0.0.1:${server.port}`, httpVersion: "1.1" }),
    );
    const batches = (async function* () {
      for (let from = 1; from <= 3; from++) yield { from };
    })();
    await client.stream(batches);
    assertEquals(seen, [1, 2, 3]);
  } finally {
    await server.close();
  }
});
