/**
 * The lean lane against `node:http`, request by request: thousands of seeded, damaged requests go
 * to two servers that differ only in the lane, and each must end the same way on both (the same
 * status, or the same silence), having reached the same handler with the same path and body.
 */
import { assertEquals } from "@std/assert";
import { type HttpServer, startHttpServer } from "./http_server.ts";
import { TokenStore } from "./auth.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const PUT = "/prkdb.v1.KvService/Put";
const TOKEN = "s3cret-writer-token-0001";

/** Both servers answer the same: a direct PUT, and a handler for everything else. */
function server(leanLane: boolean, seen: string[]): Promise<HttpServer> {
  return startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    leanLane,
    tokens: TokenStore.parse(`read-write ${TOKEN}\n`),
    limits: { headersTimeoutMs: 150, bodyTimeoutMs: 150, maxBodyBytes: 4096 },
    direct(path, call, caller) {
      if (path !== PUT) return undefined;
      seen.push(`direct ${path} ${caller?.role} ${td.decode(call.body)}`);
      return Promise.resolve({
        status: 200,
        headers: { "content-type": "application/json" },
        body: te.encode("{}"),
      });
    },
    async handler(request, caller) {
      const body = await request.text();
      const url = new URL(request.url);
      seen.push(`handler ${request.method} ${url.pathname}${url.search} ${caller?.role} ${body}`);
      return Response.json({});
    },
  });
}

/**
 * Sends `bytes` on a new connection; returns the status codes answered before it closed, or
 * before it stayed quiet for a moment after a whole answer (a kept-alive connection stays open).
 */
async function send(port: number, bytes: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let timer = setTimeout(() => conn.close(), 1000);
  let said = "";
  try {
    await conn.write(bytes).catch(() => {});
    const buf = new Uint8Array(8192);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      said += td.decode(buf.subarray(0, n));
      if (whole(said)) {
        clearTimeout(timer);
        timer = setTimeout(() => conn.close(), 150);
      }
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
  // Answers follow bodies without a line break: found anywhere, not at line starts.
  const codes = [...said.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
  return codes.length > 0 ? codes.join(",") : "closed";
}

/** Whether the last answer in `said` has arrived whole (its head and `content-length` body). */
function whole(said: string): boolean {
  const start = said.lastIndexOf("HTTP/1.1 ");
  const end = said.indexOf("\r\n\r\n", start);
  if (start < 0 || end < 0) return false;
  const length = /content-length: (\d+)/i.exec(said.slice(start, end));
  return length !== null && te.encode(said.slice(end + 4)).length >= Number(length[1]);
}

const auth = `authorization: Bearer ${TOKEN}\r\n`;
const put = (body: string) =>
  `POST ${PUT} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${auth}` +
  `content-length: ${body.length}\r\n\r\n${body}`;
/** One request each: pipelines are tested on their own (node:http may drop an answer when a later
 * request in the same read is malformed; the lane answers the ones before it). */
const BASES = [
  put("abc"),
  "GET /status.json?scope=node HTTP/1.1\r\nhost: x\r\n\r\n",
  `POST /prkdb.v1.KvService/List HTTP/1.1\r\nhost: x\r\n${auth}content-length: 2\r\n\r\n{}`,
  `POST ${PUT} HTTP/1.1\r\nhost: x\r\n${auth}transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
];

/** Damages a request the way careless clients and attackers do. */
function damage(text: string, next: () => number): string {
  const pick = <T>(xs: readonly T[]) => xs[next() % xs.length];
  const at = next() % (text.length + 1);
  switch (next() % 10) {
    case 0:
      return text.slice(0, at) + pick(["\r", "\n", " ", "\t", "\r\n", ":", "\0", "\x7f"]) +
        text.slice(at);
    case 1:
      return text.slice(0, at) + text.slice(at + 1 + (next() % 3));
    case 2:
      return text.replace(
        /content-length: (\d+)/,
        (_, n) =>
          `content-length: ${
            pick([
              String(Number(n) + 1),
              String(Math.max(0, Number(n) - 1)),
              `+${n}`,
              `0${n}`,
              `${n}, ${n}`,
              " ",
            ])
          }`,
      );
    case 3:
      return text.replace(
        "\r\n\r\n",
        `\r\n${
          pick([
            "content-length: 1",
            "transfer-encoding: chunked",
            "expect: 100-continue",
            "connection: close",
            "host: y",
            "authorization: Bearer nope-nope-nope-0001",
            "x-a: 1\r\n x-b",
          ])
        }\r\n\r\n`,
      );
    case 4:
      return text.replace(/^(POST|GET)/, pick(["PUT", "HEAD", "post", "GET", "POST", "DELETE"]));
    case 5:
      return text.replace(
        / HTTP\/1\.1/,
        pick([" HTTP/1.0", " HTTP/1.1 ", " http/1.1", "  HTTP/1.1"]),
      );
    case 6:
      return text.replace(
        PUT,
        pick([`/x/..${PUT}`, `${PUT}#f`, `${PUT}?q=1`, `/%2e${PUT}`, `//a${PUT}`, "*"]),
      );
    case 7:
      return text.replace("host: x\r\n", pick(["", "Host: x\r\n", "host:x\r\n", "host : x\r\n"]));
    case 8:
      return text.slice(0, at);
    default:
      return text.toUpperCase() === text ? text : text.replace(auth, pick(["", auth + auth]));
  }
}

Deno.test("lean lane: damaged requests end the same way with and without the lane", async () => {
  const leanSeen: string[] = [];
  const plainSeen: string[] = [];
  const lean = await server(true, leanSeen);
  const plain = await server(false, plainSeen);
  try {
    let seed = 20261130;
    const next = () => (seed = (seed * 48271) % 2147483647);
    for (let i = 0; i < 200; i++) {
      let text = BASES[next() % BASES.length];
      for (let d = next() % 3; d >= 0; d--) text = damage(text, next);
      const bytes = te.encode(text);
      leanSeen.length = plainSeen.length = 0;
      const [a, b] = await Promise.all([send(lean.port, bytes), send(plain.port, bytes)]);
      // Bytes after a request's body are read as the next request. When they are malformed,
      // node:http answers 400 and may drop the answer to the request before them (its handler
      // still ran); the lane answers that request first. Otherwise the two must agree.
      const status = a.endsWith(`,${b}`) && a.split(",").length === 2 ? b : a;
      assertEquals(
        { status, seen: leanSeen },
        { status: b, seen: plainSeen },
        `case ${i}: ${JSON.stringify(text)}`,
      );
    }
  } finally {
    await lean.close();
    await plain.close();
  }
});
