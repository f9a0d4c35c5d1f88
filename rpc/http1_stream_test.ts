import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { join } from "@std/path";
import { http1Stream, type StreamTls } from "./http1_stream.ts";
import { type HttpServer, startHttpServer } from "../server/http_server.ts";
import type { StreamSink } from "../server/lean_http1.ts";
import { RAFT_STREAM_PATH } from "../server/raft_stream.ts";
import { initCertificates } from "../server/certs.ts";
import type { Caller } from "../server/auth.ts";
import { waitFor } from "../tests/support/wait.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** What a stream server saw: each piece, and who sent it. */
interface Seen {
  pieces: string[];
  callers: (Caller | undefined)[];
}

/** A server taking peer streams on the lean lane; a piece holding "X" is refused. */
function streamServer(seen: Seen, tls?: StreamTls): Promise<HttpServer> {
  return startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    ...(tls && { tls: { current: { cert: "", key: "", ...tls.current }, onChange() {} } }),
    streamingPaths: new Set([RAFT_STREAM_PATH]),
    streamSink(_path, _header, caller): StreamSink {
      seen.callers.push(caller);
      return {
        push(piece) {
          const text = td.decode(piece);
          seen.pieces.push(text);
          if (!text.includes("X")) return undefined;
          return { status: 200, headers: { "x-refused": text }, body: te.encode("refused") };
        },
        end: () => ({ status: 200, headers: {}, body: te.encode(`got ${seen.pieces.join("")}`) }),
      };
    },
    handler: () => new Response("the general server", { status: 500 }),
  });
}

/** A body the test writes to, piece by piece. */
function body() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  return {
    stream,
    write: (s: string) => controller.enqueue(te.encode(s)),
    end: () => controller.close(),
  };
}

const open = (
  opener: ReturnType<typeof http1Stream>,
  url: string,
  stream: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
) =>
  opener(url, {
    method: "POST",
    headers: { "content-type": "application/connect+proto" },
    body: stream,
    signal,
  });

Deno.test("http1Stream: each piece reaches the server as it is written, and the answer arrives when the stream ends", async () => {
  const seen: Seen = { pieces: [], callers: [] };
  const s = await streamServer(seen);
  try {
    const b = body();
    const answer = open(http1Stream(), `http://127.0.0.1:${s.port}${RAFT_STREAM_PATH}`, b.stream);
    b.write("one ");
    await waitFor("the first piece", () => seen.pieces.length === 1);
    b.write("two");
    await waitFor("the second piece", () => seen.pieces.length === 2);
    b.end();
    const r = await answer;
    assertEquals([r.status, await r.text()], [200, "got one two"]);
  } finally {
    await s.close();
  }
});

Deno.test("http1Stream: a refusal is the answer, at once, while the body is still open", async () => {
  const seen: Seen = { pieces: [], callers: [] };
  const s = await streamServer(seen);
  const stop = new AbortController();
  try {
    const b = body();
    const answer = open(
      http1Stream(),
      `http://127.0.0.1:${s.port}${RAFT_STREAM_PATH}`,
      b.stream,
      stop.signal,
    );
    b.write("fine");
    b.write("X");
    const r = await answer;
    assertEquals([r.status, r.headers.get("x-refused"), await r.text()], [200, "X", "refused"]);
    assertEquals(r.headers.get("connection"), "close");
  } finally {
    stop.abort();
    await s.close();
  }
});

Deno.test("http1Stream: over mutual TLS the server sees the node's certificate; without one the general server refuses", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-http1-stream-" });
  try {
    await initCertificates({ dir, nodes: [1, 2] });
    const read = (f: string) => Deno.readTextFileSync(join(dir, f));
    const seen: Seen = { pieces: [], callers: [] };
    const s = await streamServer(seen, {
      current: { ca: read("ca.pem"), cert: read("node-1.pem"), key: read("node-1.key") },
    });
    const url = `https://127.0.0.1:${s.port}${RAFT_STREAM_PATH}`;
    try {
      const b = body();
      const answer = open(
        http1Stream({
          current: { ca: read("ca.pem"), cert: read("node-2.pem"), key: read("node-2.key") },
        }),
        url,
        b.stream,
      );
      b.write("hello");
      b.end();
      const r = await answer;
      assertEquals([r.status, await r.text()], [200, "got hello"]);
      assertEquals(seen.callers.map((c) => c?.node), [2]);

      const stranger = body();
      const refused = open(http1Stream({ current: { ca: read("ca.pem") } }), url, stranger.stream);
      stranger.write("hello");
      stranger.end();
      const no = await refused;
      assertMatch(`${no.status} ${await no.text()}`, /^401 .*unauthenticated/);
      assertEquals(seen.pieces, ["hello"], "the stranger's piece reached no sink");
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("http1Stream: an https URL without TLS material, or a server that is not there, is an error", async () => {
  const b = body();
  await assertRejects(() => open(http1Stream(), "https://127.0.0.1:1/x", b.stream), TypeError);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const error = await open(http1Stream(), `http://127.0.0.1:${port}/x`, body().stream).then(
    () => undefined,
    (e) => e,
  );
  assert(error instanceof Error, "a refused connection rejects");
});

/** A server that answers every connection with `answer`'s bytes as soon as the head arrives. */
function rawServer(answer: (write: (s: string) => Promise<void>) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    for await (const conn of listener) {
      await conn.read(new Uint8Array(4096));
      await answer(async (s) => void await conn.write(te.encode(s))).catch(() => {});
      conn.close();
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/x`,
    close: async () => {
      listener.close();
      await served;
    },
  };
}

Deno.test("http1Stream: a chunked answer is read whole, and one past 1 MiB is refused however it is chunked", async () => {
  const small = rawServer(async (write) => {
    await write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n");
    await write("2\r\ncd\r\n0\r\n\r\n");
  });
  const endless = rawServer(async (write) => {
    await write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
    const chunk = `4000\r\n${"x".repeat(0x4000)}\r\n`;
    for (let i = 0; i < 128; i++) await write(chunk); // 2 MiB in 16 KiB chunks
  });
  try {
    const b = body();
    b.write("hello");
    const r = await open(http1Stream(), small.url, b.stream);
    assertEquals([r.status, await r.text()], [200, "abcd"]);
    await assertRejects(
      () => open(http1Stream(), endless.url, body().stream),
      TypeError,
      "too large",
    );
  } finally {
    await small.close();
    await endless.close();
  }
});
