import { assert, assertEquals } from "@std/assert";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { GetRequestSchema, GetResponseSchema, KvService } from "../rpc/gen/prkdb/v1/kv_pb.ts";
import { leanUnary, type UnaryCall } from "./unary_fast_path.ts";
import { startHttpServer } from "./http_server.ts";
import { Deadlines } from "../runtime/deadlines.ts";
import { ManualClock } from "../runtime/clock.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const get = leanUnary({
  input: GetRequestSchema,
  output: GetResponseSchema,
  call: (req, ctx) => {
    if (req.key.length === 0) {
      throw new ConnectError("key is empty", Code.InvalidArgument, { "prkdb-error": "example" });
    }
    ctx.responseHeader.set("prkdb-leader", "2");
    return { found: true, value: req.key, version: "00000000000000000001" };
  },
});
const call = (headers: Record<string, string>, body: Uint8Array | string, method = "POST") => ({
  method,
  header: (name: string) => headers[name] ?? null,
  body: typeof body === "string" ? te.encode(body) : body,
  signal: new AbortController().signal,
} satisfies UnaryCall);
const post = (type: string, body: Uint8Array | string) => call({ "content-type": type }, body);

Deno.test("fast path: binary and JSON requests get the same answer as from the router", async () => {
  const binary = await get(
    post(
      "application/proto",
      toBinary(GetRequestSchema, create(GetRequestSchema, { key: te.encode("k") })),
    ),
  )!;
  assertEquals([
    binary.status,
    binary.headers["content-type"],
    binary.headers["prkdb-leader"],
  ], [200, "application/proto", "2"]);
  const decoded = fromBinary(GetResponseSchema, binary.body);
  assertEquals([decoded.found, td.decode(decoded.value)], [true, "k"]);
  const json = await get(post("application/json", JSON.stringify({ key: btoa("k") })))!;
  assertEquals(JSON.parse(td.decode(json.body)), {
    found: true,
    value: btoa("k"),
    version: "00000000000000000001",
  });
});

Deno.test("fast path: errors are Connect errors with their metadata; bad bodies are invalid_argument", async () => {
  const empty = await get(post("application/json", JSON.stringify({ key: "" })))!;
  assertEquals([empty.status, empty.headers["prkdb-error"]], [400, "example"]);
  assertEquals(JSON.parse(td.decode(empty.body)), {
    code: "invalid_argument",
    message: "key is empty",
  });
  for (
    const [type, body] of [["application/json", "{not json"], ["application/json", '{"nope":1}'], [
      "application/proto",
      new Uint8Array([255, 255, 255]),
    ]] as const
  ) {
    const r = await get(post(type, body))!;
    assertEquals([r.status, JSON.parse(td.decode(r.body)).code], [400, "invalid_argument"]);
  }
});

Deno.test("fast path: what it does not speak falls through to the router", () => {
  assertEquals(get(post("application/connect+json", "{}")), undefined);
  assertEquals(get(call({}, "", "GET")), undefined);
  const gzip = call({ "content-type": "application/json", "content-encoding": "gzip" }, "{}");
  assertEquals(get(gzip), undefined);
});

Deno.test("fast path: the official Connect client talks to it through the node's HTTP server", async () => {
  const server = await startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    direct: (_path, c) => get(c),
    handler: () => new Response("not here", { status: 404 }),
  });
  try {
    const client = createClient(
      KvService,
      createConnectTransport({ baseUrl: `http://127.0.0.1:${server.port}`, useBinaryFormat: true }),
    );
    const r = await client.get({ key: te.encode("official") });
    assertEquals(td.decode(r.value), "official");
    const error = await client.get({ key: new Uint8Array() }).catch((e) => e);
    assert(error instanceof ConnectError);
    assertEquals([error.code, error.metadata.get("prkdb-error")], [
      Code.InvalidArgument,
      "example",
    ]);
  } finally {
    await server.close();
  }
});

Deno.test("fast path: a call's connect-timeout-ms aborts its signal at the limit; one answered in time leaves nothing armed", async () => {
  const clock = new ManualClock();
  const timeLimits = new Deadlines(clock);
  const seen: string[] = [];
  const waiting = leanUnary({
    input: GetRequestSchema,
    output: GetResponseSchema,
    call: (req, ctx) => {
      if (td.decode(req.key) === "now") return { found: false };
      return new Promise((_, reject) =>
        ctx.signal.addEventListener("abort", () => {
          seen.push((ctx.signal.reason as Error).name);
          // As the node's handlers do with a time limit that passed.
          reject(new ConnectError("the time limit passed", Code.DeadlineExceeded));
        })
      );
    },
  }, timeLimits);
  const body = (key: string) =>
    toBinary(GetRequestSchema, create(GetRequestSchema, { key: te.encode(key) }));
  const headers = { "content-type": "application/proto", "connect-timeout-ms": "500" };
  const quick = await waiting(call(headers, body("now")))!;
  assertEquals(quick.status, 200);
  assertEquals([timeLimits.waiting, clock.pending], [0, 0]);
  const slow = waiting(call(headers, body("later")))!;
  assertEquals(timeLimits.waiting, 1);
  clock.advance(500);
  const answer = await slow;
  assertEquals(seen, ["TimeoutError"]);
  assertEquals(JSON.parse(td.decode(answer.body)).code, "deadline_exceeded");
  assertEquals([timeLimits.waiting, clock.pending], [0, 0]);
});
