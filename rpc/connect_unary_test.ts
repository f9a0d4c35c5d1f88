import { assert, assertEquals, assertRejects } from "@std/assert";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createConnectRouter } from "@connectrpc/connect";
import { KvService, PutRequestSchema, PutResponseSchema } from "./gen/prkdb/v1/kv_pb.ts";
import { serveRouter } from "../tests/support/router_server.ts";
import { callUnary } from "./connect_unary.ts";
import { httpError } from "./http_error.ts";

/** The official Connect router serving Put: it answers, refuses, or waits for `hold`. */
async function officialServer(hold: Promise<void>) {
  const router = createConnectRouter();
  router.service(KvService, {
    async put(req, ctx) {
      const key = new TextDecoder().decode(req.key);
      if (key === "refused") {
        throw new ConnectError("not yours", Code.PermissionDenied, { "prkdb-why": "test" });
      }
      if (key === "slow") await hold;
      ctx.responseHeader.set("prkdb-seen", key);
      return { ok: true, version: `v-${key}` };
    },
  });
  const { server, url } = await serveRouter(router);
  return { server, base: url };
}

const putBytes = (key: string) =>
  toBinary(
    PutRequestSchema,
    create(PutRequestSchema, { key: new TextEncoder().encode(key), value: new Uint8Array(4) }),
  );

Deno.test("callUnary: the official Connect server answers it, and refuses it with its own code, message and headers", async () => {
  let release!: () => void;
  const { server, base } = await officialServer(new Promise((r) => release = r));
  try {
    const url = `${base}/${KvService.typeName}/Put`;
    const answer = fromBinary(
      PutResponseSchema,
      await callUnary(url, putBytes("k"), { timeoutMs: 2000 }),
    );
    assertEquals(answer.version, "v-k");

    const refused = await assertRejects(
      () => callUnary(url, putBytes("refused"), { timeoutMs: 2000 }),
      ConnectError,
    );
    assertEquals(refused.code, Code.PermissionDenied);
    assertEquals(refused.rawMessage, "not yours");
    assertEquals(refused.metadata.get("prkdb-why"), "test");

    const missing = await assertRejects(
      () =>
        callUnary(`${base}/${KvService.typeName}/NoSuchMethod`, putBytes("k"), { timeoutMs: 2000 }),
      ConnectError,
    );
    assertEquals(missing.code, Code.Unimplemented);

    const late = await assertRejects(
      () => callUnary(url, putBytes("slow"), { timeoutMs: 100 }),
      ConnectError,
    );
    assertEquals(late.code, Code.DeadlineExceeded);
    assertEquals([...late.metadata.keys()], [], "no answer, so no answer's headers");

    const quitter = new AbortController();
    const call = callUnary(url, putBytes("slow"), { timeoutMs: 5000, signal: quitter.signal });
    quitter.abort(new Error("client went away"));
    const gaveUp = await assertRejects(() => call, ConnectError);
    assertEquals(gaveUp.code, Code.Canceled);
  } finally {
    release();
    await server.close();
  }
});

Deno.test("callUnary: no server at the address is a connection error, with fetch's error as its cause", async () => {
  const { server, base } = await officialServer(Promise.resolve());
  await server.close();
  const error = await assertRejects(
    () => callUnary(`${base}/${KvService.typeName}/Put`, putBytes("k"), { timeoutMs: 2000 }),
    ConnectError,
  );
  assertEquals(error.code, Code.Unknown);
  assert(error.cause instanceof TypeError);
});

Deno.test("httpError: a body that is not a Connect error keeps the status and the text", () => {
  const e = httpError(502, new TextEncoder().encode("Bad gateway"));
  assertEquals(e.code, Code.Unknown);
  assert(e.rawMessage.includes("HTTP 502: Bad gateway"));
  assertEquals(httpError(404, new Uint8Array()).code, Code.Unimplemented);
});
