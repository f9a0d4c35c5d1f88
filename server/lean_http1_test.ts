import { assert, assertEquals, assertMatch, assertThrows } from "@std/assert";
import { join } from "@std/path";
import { encodeAnswer, LEAN_HEAD_LIMIT, parseRequestHead } from "./lean_http1.ts";
import { type HttpServer, type HttpServerOptions, startHttpServer } from "./http_server.ts";
import { initCertificates } from "./certs.ts";
import { TokenStore } from "./auth.ts";
import type { UnaryCall } from "./unary_fast_path.ts";
import { waitFor } from "../tests/support/wait.ts";

const te = new TextEncoder();
const td = new TextDecoder();

const parse = (text: string) => {
  const bytes = te.encode(text);
  return parseRequestHead(bytes, 0, bytes.length);
};

Deno.test("parseRequestHead: a plain POST, its headers by lower-case name, where its body starts", () => {
  const text = "POST /prkdb.v1.KvService/Put?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type:  " +
    'application/json \r\nContent-Length: 7\r\n\r\n{"a":1}';
  const head = parse(text);
  assert(typeof head === "object");
  assertEquals(head.path, "/prkdb.v1.KvService/Put");
  assertEquals(head.headers.get("content-type"), "application/json");
  assertEquals(head.headers.get("host"), "a");
  assertEquals(head.contentLength, 7);
  assertEquals(text.slice(head.bodyStart), '{"a":1}');
  // A second request after the first one's body is read from where it starts.
  const two = te.encode(text + text);
  const next = parseRequestHead(two, head.bodyStart + 7, two.length);
  assert(typeof next === "object");
  assertEquals(td.decode(two.subarray(next.bodyStart, next.bodyStart + 7)), '{"a":1}');
});

Deno.test("parseRequestHead: a head seen before reads the same, wherever it starts, and only the same text does", () => {
  const te = new TextEncoder();
  const head = (length: number) =>
    `POST /prkdb.v1.KvService/Put HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`;
  const first = parseRequestHead(te.encode(head(2) + "hi"), 0, head(2).length + 2);
  // The same head again, after a pipelined request: its body starts further on.
  const prefix = "GET /health HTTP/1.1\r\nhost: x\r\n\r\n";
  const bytes = te.encode(prefix + head(2) + "hi");
  const again = parseRequestHead(bytes, prefix.length, bytes.length);
  assert(typeof first === "object" && typeof again === "object");
  assertEquals(again, { ...first, bodyStart: prefix.length + head(2).length });
  assert(again !== first, "each call gets its own head");
  // One digit more is another head, read on its own.
  const longer = parseRequestHead(te.encode(head(12)), 0, head(12).length);
  assert(typeof longer === "object");
  assertEquals([longer.contentLength, longer.headers.get("content-length")], [12, "12"]);
  // A head left to the general server stays left, however often it comes.
  const refused = te.encode("POST / HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\n\r\n");
  for (let i = 0; i < 3; i++) assertEquals(parseRequestHead(refused, 0, refused.length), "other");
});

Deno.test("parseRequestHead: an unfinished head is incomplete, at any cut", () => {
  const text = "POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n";
  for (let cut = 0; cut < text.length; cut++) {
    assertEquals(parse(text.slice(0, cut)), "incomplete", `cut at ${cut}`);
  }
  assert(typeof parse(text) === "object");
});

Deno.test("parseRequestHead: anything but a plain POST with a length or chunked, or a GET, is left to the general server", () => {
  const ok = "POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n";
  const others = {
    "a GET with a length": "GET /a HTTP/1.1\r\ncontent-length: 0\r\n\r\n",
    "a HEAD": "HEAD /a HTTP/1.1\r\n\r\n",
    "a PUT": "PUT /a HTTP/1.1\r\ncontent-length: 2\r\n\r\n",
    "HTTP/1.0": "POST /a HTTP/1.0\r\ncontent-length: 2\r\n\r\n",
    "no length": "POST /a HTTP/1.1\r\nhost: x\r\n\r\n",
    "chunked with a length": ok + "transfer-encoding: chunked\r\n\r\n",
    "a list of codings": "POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip, chunked\r\n\r\n",
    "chunked twice":
      "POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n",
    "a chunked GET": "GET /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
    "a length and chunked":
      "POST /a HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 2\r\n\r\n",
    "two lengths": ok + "content-length: 2\r\n\r\n",
    "a repeated header": ok + "authorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n",
    "a signed length": "POST /a HTTP/1.1\r\ncontent-length: +2\r\n\r\n",
    "a huge length": "POST /a HTTP/1.1\r\ncontent-length: 99999999999\r\n\r\n",
    "expect": ok + "expect: 100-continue\r\n\r\n",
    "upgrade": ok + "upgrade: websocket\r\n\r\n",
    "connection: close": ok + "connection: close\r\n\r\n",
    "bare line feeds": "POST /a HTTP/1.1\ncontent-length: 2\n\n",
    "a bare line feed in a header": ok + "x-a: 1\nx-b: 2\r\n\r\n",
    "a folded header": ok + "x-a: 1\r\n  more\r\n\r\n",
    "a space before the colon": ok + "x-a : 1\r\n\r\n",
    "no colon": ok + "x-a\r\n\r\n",
    "a control byte": ok + "x-a: \x01\r\n\r\n",
    "a byte beyond ASCII": ok + "x-a: caf\u00e9\r\n\r\n",
    "an absolute target": "POST http://x/a HTTP/1.1\r\ncontent-length: 2\r\n\r\n",
    "two spaces": "POST  /a HTTP/1.1\r\ncontent-length: 2\r\n\r\n",
    "a leading empty line": "\r\n" + ok + "\r\n",
    "no host": "POST /a HTTP/1.1\r\ncontent-length: 2\r\n\r\n",
    "a bare carriage return in a value": ok + "x-a: 1\rtransfer-encoding: chunked\r\n\r\n",
    "a bare carriage return ending a value": ok + "x-a: 1\r\r\n\r\n",
  };
  for (const [what, text] of Object.entries(others)) {
    assertEquals(parse(text), "other", what);
  }
  // A chunked POST is read as one: a stream, if its server takes it.
  const chunked = parse("POST /s HTTP/1.1\r\nhost: x\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\n");
  assert(typeof chunked === "object");
  assertEquals([chunked.chunked, chunked.contentLength, chunked.bodyStart], [true, 0, 57]);
  // Keep-alive is what HTTP/1.1 does anyway: served.
  assert(typeof parse(ok + "connection: keep-alive\r\n\r\n") === "object");
  // A GET without a body is served, its query kept in the target.
  const get = parse("GET /status.json?scope=node HTTP/1.1\r\nhost: x\r\n\r\n");
  assert(typeof get === "object");
  assertEquals([get.method, get.target, get.path, get.contentLength], [
    "GET",
    "/status.json?scope=node",
    "/status.json",
    0,
  ]);
});

Deno.test("parseRequestHead: a head that does not end within the limit is left to the general server", () => {
  const long = "POST /a HTTP/1.1\r\nx-a: " + "a".repeat(LEAN_HEAD_LIMIT);
  assertEquals(parse(long), "other");
  assertEquals(parse(long.slice(0, LEAN_HEAD_LIMIT - 1)), "incomplete");
});

Deno.test("encodeAnswer: status line, headers, length, body; a header that could split the answer is refused", () => {
  const bytes = encodeAnswer({
    status: 404,
    headers: { "content-type": "application/json" },
    body: te.encode("{}"),
  });
  assertEquals(
    td.decode(bytes),
    "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
  );
  // No body, and no length, for a 204.
  const empty = encodeAnswer({ status: 204, headers: {}, body: te.encode("ignored") });
  assertEquals(td.decode(empty), "HTTP/1.1 204 No Content\r\n\r\n");
  const bad: Record<string, string>[] = [{ "x-a": "1\r\nx-b: 2" }, { "x a": "1" }, { "x-a": "\n" }];
  for (const headers of bad) {
    assertThrows(() => encodeAnswer({ status: 200, headers, body: new Uint8Array() }), TypeError);
  }
});

/** What the test servers below saw. */
interface Seen {
  direct: string[];
  handler: string[];
  aborted: number;
  served: { lean: number; general: number };
}

const nothingSeen = (): Seen => ({
  direct: [],
  handler: [],
  aborted: 0,
  served: { lean: 0, general: 0 },
});

const PUT = "/prkdb.v1.KvService/Put";

/**
 * A server whose `direct` serves PUT (echoing the body and the caller, unless asked to leave it
 * with `x-leave`) and waits on "slow" until the call is aborted.
 */
function lanes(seen: Seen, extra: Partial<HttpServerOptions> = {}): Promise<HttpServer> {
  return startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    onServed: (lane) => seen.served[lane]++,
    direct(path, call: UnaryCall, caller) {
      if (path !== PUT || call.header("x-leave") !== null) return undefined;
      const body = td.decode(call.body);
      seen.direct.push(body);
      const answer = () => ({
        status: 200,
        headers: { "content-type": "application/json" },
        body: te.encode(JSON.stringify({ lane: "direct", body, role: caller?.role ?? null })),
      });
      if (body !== "slow") return Promise.resolve(answer());
      return new Promise((resolve) =>
        call.signal.addEventListener("abort", () => {
          seen.aborted++;
          resolve(answer());
        })
      );
    },
    async handler(request) {
      const body = await request.text();
      const url = new URL(request.url);
      seen.handler.push(`${request.method} ${url.pathname}${url.search} ${body}`);
      return Response.json({ lane: "handler", body });
    },
    ...extra,
  });
}

/** Writes `parts` one by one to a new connection, then reads until `answers` bodies arrived. */
async function exchange(
  port: number,
  parts: (string | Uint8Array)[],
  answers: number,
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    for (const p of parts) await conn.write(typeof p === "string" ? te.encode(p) : p);
    let out = "";
    const buf = new Uint8Array(4096);
    const deadline = setTimeout(() => conn.close(), 5000);
    try {
      while ((out.match(/\}(?=HTTP|$)/g) ?? []).length < answers) {
        const n = await conn.read(buf);
        if (n === null) break;
        out += td.decode(buf.subarray(0, n));
      }
    } finally {
      clearTimeout(deadline);
    }
    return out;
  } finally {
    try {
      conn.close();
    } catch { /* closed by the deadline */ }
  }
}

const put = (body: string, headers = "") =>
  `POST ${PUT} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${headers}` +
  `content-length: ${te.encode(body).length}\r\n\r\n${body}`;

const bodies = (said: string) => [...said.matchAll(/\r\n\r\n(\{[^}]*\})/g)].map((m) => m[1]);

Deno.test("lean lane: pipelined calls in one write are served in order, on the lane", async () => {
  const seen = nothingSeen();
  const s = await lanes(seen);
  try {
    const said = await exchange(s.port, [put("a") + put("bb") + put("ccc")], 3);
    assertEquals(bodies(said), [
      '{"lane":"direct","body":"a","role":null}',
      '{"lane":"direct","body":"bb","role":null}',
      '{"lane":"direct","body":"ccc","role":null}',
    ]);
    assertMatch(
      said,
      /^HTTP\/1\.1 200 OK\r\ncontent-type: application\/json\r\ncontent-length: 40/,
    );
    assertEquals(seen.served, { lean: 3, general: 0 });
  } finally {
    await s.close();
  }
});

Deno.test("lean lane: a request cut anywhere, even byte by byte, is answered once and whole", async () => {
  const seen = nothingSeen();
  const s = await lanes(seen);
  try {
    const request = put("héllo");
    const bytes = te.encode(request);
    for (const cut of [1, 20, request.indexOf("\r\n\r\n") + 2, bytes.length - 2]) {
      const said = await exchange(s.port, [bytes.subarray(0, cut), bytes.subarray(cut)], 1);
      assertEquals(bodies(said).length, 1, said);
      assertMatch(bodies(said)[0], /"body":"héllo"/);
    }
    const slow = await exchange(s.port, [...bytes].map((b) => new Uint8Array([b])), 1);
    assertMatch(bodies(slow)[0], /"body":"héllo"/);
    assertEquals(seen.direct.length, 5);
    // A head read in pieces goes to the general server, a body in pieces is waited for on the
    // lane; which reads come in pieces is up to the network.
    assertEquals(seen.served.lean + seen.served.general, 5);
  } finally {
    await s.close();
  }
});

Deno.test("lean lane: the first request of another kind moves the connection, with its unanswered bytes, to the general server", async () => {
  const seen = nothingSeen();
  const s = await lanes(seen);
  try {
    const chunked = `POST ${PUT} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n` +
      "2\r\nab\r\n1\r\nc\r\n0\r\n\r\n";
    const get = "GET /status HTTP/1.1\r\nhost: x\r\n\r\n";
    const said = await exchange(s.port, [put("1") + get + chunked + put("2") + get + put("3")], 6);
    assertEquals(bodies(said), [
      '{"lane":"direct","body":"1","role":null}',
      '{"lane":"handler","body":""}',
      '{"lane":"direct","body":"abc","role":null}',
      '{"lane":"direct","body":"2","role":null}',
      '{"lane":"handler","body":""}',
      '{"lane":"direct","body":"3","role":null}',
    ]);
    // After the move, the general server serves them all (through `direct` where it can).
    assertEquals(seen.served, { lean: 2, general: 4 });
    assertEquals(seen.handler, ["GET /status ", "GET /status "]);
  } finally {
    await s.close();
  }
});

/** Reads from `conn` until an answer's JSON body has arrived (or the connection closes). */
async function untilAnswer(conn: Deno.Conn): Promise<string> {
  let said = "";
  const buf = new Uint8Array(8192);
  while (!/\}$/.test(said)) {
    const n = await conn.read(buf);
    if (n === null) break;
    said += td.decode(buf.subarray(0, n));
  }
  return said;
}

/**
 * Sends a PUT whose chunked body comes in 40 small writes sent at once (most arrive while the
 * connection moves to the general server), and checks that the body arrived whole and in order.
 */
async function quickChunkedPut(conn: Deno.Conn, role: string | null): Promise<void> {
  const pieces = Array.from({ length: 40 }, (_, i) => String(i).padStart(2, "0"));
  const writes = [
    `POST ${PUT} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n`,
    ...pieces.map((p) => `2\r\n${p}\r\n`),
    "0\r\n\r\n",
  ];
  await Promise.all(writes.map((w) => conn.write(te.encode(w))));
  const said = await untilAnswer(conn);
  const answer = { lane: "direct", body: pieces.join(""), role };
  assertEquals(bodies(said), [JSON.stringify(answer)], said);
}

/** Runs `body` against a lanes server with mutual TLS, certificates made for it. */
async function withTlsLanes(
  seen: Seen,
  body: (s: HttpServer, read: (file: string) => string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-lean-tls-" });
  try {
    await initCertificates({ dir, nodes: [1] });
    const read = (f: string) => Deno.readTextFileSync(join(dir, f));
    const s = await lanes(seen, {
      tls: {
        current: { ca: read("ca.pem"), cert: read("node-1.pem"), key: read("node-1.key") },
        onChange() {},
      },
    });
    try {
      await body(s, read);
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("lean lane: bytes that arrive while a connection moves to the general server keep their order", async () => {
  const s = await lanes(nothingSeen());
  try {
    for (let round = 0; round < 10; round++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
      try {
        await quickChunkedPut(conn, null);
      } finally {
        conn.close();
      }
    }
  } finally {
    await s.close();
  }
});

Deno.test("lean lane: over TLS too, bytes that arrive while a connection moves keep their order", async () => {
  await withTlsLanes(nothingSeen(), async (s, read) => {
    for (let round = 0; round < 5; round++) {
      const conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: s.port,
        caCerts: [read("ca.pem")],
        cert: read("client-rw.pem"),
        key: read("client-rw.key"),
      });
      try {
        await quickChunkedPut(conn, "read-write");
      } finally {
        conn.close();
      }
    }
  });
});

Deno.test("lean lane: a connection moved to the general server is kept alive there, one request after another", async () => {
  const seen = nothingSeen();
  const s = await lanes(seen);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  try {
    const buf = new Uint8Array(4096);
    // A closed connection shows as a missing answer.
    const ask = async (request: string) => {
      await conn.write(te.encode(request));
      return bodies(await untilAnswer(conn))[0];
    };
    const get = "GET /status HTTP/1.1\r\nhost: x\r\n\r\n";
    const head = "HEAD /status HTTP/1.1\r\nhost: x\r\n\r\n";
    assertEquals(await ask(put("1")), '{"lane":"direct","body":"1","role":null}');
    await conn.write(te.encode(head));
    const n = await conn.read(buf);
    assertMatch(td.decode(buf.subarray(0, n!)), /^HTTP\/1\.1 200 OK[\s\S]*\r\n\r\n$/);
    for (let i = 0; i < 3; i++) assertEquals(await ask(get), '{"lane":"handler","body":""}');
    assertEquals(await ask(put("2")), '{"lane":"direct","body":"2","role":null}');
    assertEquals(seen.served, { lean: 1, general: 5 });
  } finally {
    conn.close();
    await s.close();
  }
});

Deno.test("lean lane: GETs and calls `direct` leaves alone are answered by the handler on the lane; a Connect stream goes to the general server", async () => {
  const seen = nothingSeen();
  const s = await lanes(seen);
  try {
    const get = "GET /status.json?scope=node HTTP/1.1\r\nhost: x\r\n\r\n";
    const said = await exchange(s.port, [get + put("4", "x-leave: 1\r\n") + put("5")], 3);
    assertEquals(bodies(said), [
      '{"lane":"handler","body":""}',
      '{"lane":"handler","body":"4"}',
      '{"lane":"direct","body":"5","role":null}',
    ]);
    assertEquals(seen.handler, ["GET /status.json?scope=node ", `POST ${PUT} 4`]);
    assertEquals(seen.served, { lean: 3, general: 0 });
    const stream = `POST /prkdb.v1.KvService/Watch HTTP/1.1\r\nhost: x\r\n` +
      "content-type: application/connect+json\r\ncontent-length: 2\r\n\r\n{}";
    const streamed = await exchange(s.port, [stream + put("6")], 2);
    assertEquals(bodies(streamed).at(-1), '{"lane":"direct","body":"6","role":null}');
    assertEquals(seen.served, { lean: 3, general: 2 });
  } finally {
    await s.close();
  }
});

Deno.test("lean lane: a body that does not arrive within the body limit is answered deadline_exceeded", async () => {
  const seen = nothingSeen();
  const refused: string[] = [];
  const s = await lanes(seen, {
    limits: { bodyTimeoutMs: 300 },
    onRefused: (reason) => refused.push(reason),
  });
  try {
    const request = put("0123456789");
    const said = await exchange(s.port, [request.slice(0, -4)], 1);
    assertMatch(said, /^HTTP\/1\.1 408 /);
    assertMatch(said, /"code":"deadline_exceeded"/);
    assertEquals(refused, ["timeout"]);
    assertEquals(seen.direct, []);
  } finally {
    await s.close();
  }
});

Deno.test("lean lane: a target a URL parser would read as another path is refused on both lanes, never served", async () => {
  const seen = nothingSeen();
  const tokens = TokenStore.parse("read-write s3cret-writer-token-0001\n");
  const s = await lanes(seen, { tokens });
  try {
    const plain = put("p");
    assertMatch(await exchange(s.port, [plain], 1), /^HTTP\/1\.1 401 /);
    const chunked = `POST ${PUT} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n` +
      "authorization: Bearer s3cret-writer-token-0001\r\n\r\n0\r\n\r\n";
    for (const target of [`/x/..${PUT}`, `/%2e%2e${PUT}`, `${PUT}#a`, `/x\\..${PUT}`, `/.${PUT}`]) {
      const bent = plain.replace(PUT, target);
      // On the lean lane, and on a connection already moved to the general server.
      for (const parts of [[bent], [chunked + bent]]) {
        const said = await exchange(s.port, parts, parts[0] === chunked + bent ? 2 : 1);
        assertMatch(said, /HTTP\/1\.1 400 [\s\S]*not in canonical form/, `${target}: ${said}`);
      }
    }
    // Only the authorized chunked requests that moved the connections were served.
    assertEquals(seen.direct, ["", "", "", "", ""]);
    assertEquals(seen.handler, []);
  } finally {
    await s.close();
  }
});

Deno.test("lean lane: a stranger's body is not waited for: the general server refuses it from its head", async () => {
  const seen = nothingSeen();
  const tokens = TokenStore.parse("read-write s3cret-writer-token-0001\n");
  const s = await lanes(seen, { tokens });
  try {
    const request = put("0123456789");
    // The body never comes: the refusal comes from the head alone.
    const said = await exchange(s.port, [request.slice(0, -4)], 1);
    assertMatch(said, /^HTTP\/1\.1 401 /);
    const allowed = put("ok", "authorization: Bearer s3cret-writer-token-0001\r\n");
    assertEquals(bodies(await exchange(s.port, [allowed], 1)), [
      '{"lane":"direct","body":"ok","role":"read-write"}',
    ]);
    assertEquals(seen.served, { lean: 1, general: 1 });
  } finally {
    await s.close();
  }
});

Deno.test("lean lane: a smuggling attempt (a length and chunked) is refused by the general server, not served", async () => {
  const seen = nothingSeen();
  const s = await lanes(seen);
  try {
    const said = await exchange(s.port, [
      `POST ${PUT} HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n` +
      "0\r\n\r\n" + put("smuggled"),
    ], 1);
    assertMatch(said, /^HTTP\/1\.1 400/);
    assertEquals(seen.direct, []);
  } finally {
    await s.close();
  }
});

Deno.test("lean lane: a client that goes away aborts its call's signal", async () => {
  const seen = nothingSeen();
  const s = await lanes(seen);
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    await conn.write(te.encode(put("slow")));
    await waitFor("the call arrives", () => seen.direct.length === 1);
    conn.close();
    await waitFor("its signal aborts", () => seen.aborted === 1);
  } finally {
    await s.close();
  }
});

Deno.test("lean lane: over mutual TLS the caller is the certificate's; a stranger is refused by the general server", async () => {
  const seen = nothingSeen();
  await withTlsLanes(seen, async (s, read) => {
    const client = (cert?: string) =>
      Deno.createHttpClient({
        caCerts: [read("ca.pem")],
        ...(cert && { cert: read(`${cert}.pem`), key: read(`${cert}.key`) }),
      });
    using rw = client("client-rw");
    using none = client();
    const call = (c: Deno.HttpClient) =>
      fetch(`https://127.0.0.1:${s.port}${PUT}`, {
        method: "POST",
        body: "x",
        headers: { "content-type": "application/json" },
        client: c,
      }).then(async (r) => `${r.status} ${await r.text()}`);
    assertEquals(await call(rw), '200 {"lane":"direct","body":"x","role":"read-write"}');
    assertEquals(await call(rw), '200 {"lane":"direct","body":"x","role":"read-write"}');
    assertMatch(await call(none), /^401 .*unauthenticated/);
    assertEquals(seen.served, { lean: 2, general: 1 });
    assertEquals(seen.direct, ["x", "x"]);
  });
});

/** A stream's server: `streamSink` records each piece, refuses one holding "X", answers at the end. */
function streaming(seen: Seen, pieces: string[], extra: Partial<HttpServerOptions> = {}) {
  return lanes(seen, {
    streamingPaths: new Set(["/s"]),
    streamSink: (_path, header) =>
      header("x-leave") !== null ? undefined : {
        push(piece) {
          const text = td.decode(piece);
          pieces.push(text);
          if (!text.includes("X")) return undefined;
          return { status: 200, headers: {}, body: te.encode(JSON.stringify({ refused: text })) };
        },
        end: () => ({
          status: 200,
          headers: { "content-type": "application/json" },
          body: te.encode(JSON.stringify({ got: pieces.join("") })),
        }),
      },
    ...extra,
  });
}

const STREAM_HEAD = "POST /s HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n";

/**
 * Runs `body` with a streaming server ({@linkcode streaming}) and one connection to it, both closed
 * afterwards; `pieces` are the stream bodies' pieces as its sink took them.
 */
async function onStreamingServer(
  extra: Partial<HttpServerOptions>,
  body: (t: { conn: Deno.Conn; seen: Seen; pieces: string[] }) => Promise<void>,
): Promise<void> {
  const seen = nothingSeen();
  const pieces: string[] = [];
  const s = await streaming(seen, pieces, extra);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  try {
    await body({ conn, seen, pieces });
  } finally {
    conn.close();
    await s.close();
  }
}

/**
 * Reads from `conn` until the server closes it (the text then ends `<closed>`) or `done` says
 * enough; after 5 s it gives up (`<timeout>`), so a server that never closes fails the test.
 */
async function readUntil(conn: Deno.Conn, done: (said: string) => boolean): Promise<string> {
  let out = "";
  const buf = new Uint8Array(4096);
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, 5000);
  const ended = () => out + (timedOut ? "<timeout>" : "<closed>");
  try {
    while (!done(out)) {
      const n = await conn.read(buf);
      if (n === null) return ended();
      out += td.decode(buf.subarray(0, n));
    }
  } catch {
    return ended();
  } finally {
    clearTimeout(deadline);
  }
  return out;
}

Deno.test("lean lane: a chunked stream is read piece by piece as it arrives, answered at its end, and its connection serves on", async () => {
  await onStreamingServer({}, async ({ conn, seen, pieces }) => {
    await conn.write(te.encode(STREAM_HEAD + "3\r\nabc\r\n"));
    // Handed over before the body ends: a stream, not a body read whole.
    await waitFor("the first piece", () => pieces.join("") === "abc");
    await conn.write(te.encode("2\r\nde\r\n0\r\n\r\n" + put("after")));
    const said = await readUntil(conn, (out) => bodies(out).length === 2);
    assertMatch(said, /^HTTP\/1\.1 200 OK\r\n/);
    assertEquals(bodies(said), ['{"got":"abcde"}', '{"lane":"direct","body":"after","role":null}']);
    assertEquals(seen.served, { lean: 2, general: 0 });
  });
});

Deno.test("lean lane: a stream its sink refuses, or whose chunks are malformed, is answered and closed; nothing after it is served", async () => {
  for (
    const [body, answer] of [
      ["3\r\nabc\r\n2\r\nXY\r\n3\r\nzzz\r\n0\r\n\r\n", /^HTTP\/1\.1 200 .*\{"refused":"XY"\}/s],
      ["3\r\nabc\r\nzz\r\nzz\r\n0\r\n\r\n", /^HTTP\/1\.1 400 .*invalid_argument.*chunk size/s],
      ["3\r\nabcde\r\n0\r\n\r\n", /^HTTP\/1\.1 400 .*invalid_argument.*CRLF/s],
    ] as const
  ) {
    await onStreamingServer({}, async ({ conn, seen, pieces }) => {
      await conn.write(te.encode(STREAM_HEAD + body + put("after")));
      const said = await readUntil(conn, () => false);
      assertMatch(said, answer);
      assertMatch(said, /connection: close\r\n[\s\S]*<closed>$/);
      assertEquals(pieces.includes("zzz"), false, "nothing after the refusal reaches the sink");
      assertEquals(seen.direct, [], "nor the request after it");
    });
  }
});

Deno.test("lean lane: a chunked request its server does not stream goes to the general server", async () => {
  const seen = nothingSeen();
  const pieces: string[] = [];
  const s = await streaming(seen, pieces);
  try {
    const chunked = (path: string, headers = "") =>
      `POST ${path} HTTP/1.1\r\nhost: x\r\n${headers}transfer-encoding: chunked\r\n\r\n` +
      "4\r\nbody\r\n0\r\n\r\n";
    const said = [
      await exchange(s.port, [chunked(PUT)], 1),
      await exchange(s.port, [chunked("/s", "x-leave: 1\r\n")], 1),
    ];
    assertEquals(said.map(bodies), [
      ['{"lane":"direct","body":"body","role":null}'],
      ['{"lane":"handler","body":"body"}'],
    ]);
    assertEquals(pieces, []);
    assertEquals(seen.served, { lean: 0, general: 2 });
  } finally {
    await s.close();
  }
});

Deno.test("lean lane: a stream that goes silent past the idle limit is closed, and not counted as refused", async () => {
  const refused: string[] = [];
  const options = {
    limits: { idleTimeoutMs: 300 },
    onRefused: (reason: string) => void refused.push(reason),
  };
  await onStreamingServer(options, async ({ conn, pieces }) => {
    await conn.write(te.encode(STREAM_HEAD + "3\r\nabc\r\n"));
    assertEquals(await readUntil(conn, () => false), "<closed>");
    assertEquals(pieces, ["abc"]);
    assertEquals(refused, []);
  });
});

Deno.test("lean lane: a stream whose body comes whole is served by its sink on the lane, and the connection stays there", async () => {
  const seen = nothingSeen();
  const pieces: string[] = [];
  const s = await streaming(seen, pieces);
  try {
    const whole = (body: string) =>
      `POST /s HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
    // A peer asking whether streams are served sends an empty one.
    const said = await exchange(s.port, [whole(""), whole("abc"), put("after")], 3);
    assertEquals(bodies(said), [
      '{"got":""}',
      '{"got":"abc"}',
      '{"lane":"direct","body":"after","role":null}',
    ]);
    assertEquals(seen.served, { lean: 3, general: 0 });
  } finally {
    await s.close();
  }
});
