import { assert, assertEquals, assertRejects } from "@std/assert";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { KvService, PutRequestSchema, PutResponseSchema } from "../rpc/gen/prkdb/v1/kv_pb.ts";
import { ERROR_KIND_HEADER } from "../rpc/error_kinds.ts";
import { kvClient } from "./unary_calls.ts";
import { classify } from "./errors.ts";

/** A server on a free loopback port answering every request with `answer`. */
function serve(answer: (request: Request) => Response | Promise<Response>) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, answer);
  const url = `http://127.0.0.1:${server.addr.port}`;
  const client = kvClient(
    url,
    { fetch, headers: { authorization: "Bearer t0k3n" } },
    createClient(KvService, createConnectTransport({ baseUrl: url, useBinaryFormat: true })),
  );
  return { url, client, close: () => server.shutdown() };
}

/** What `put` throws, as the client's retry logic sees it. */
async function putFailure(client: ReturnType<typeof serve>["client"], url: string) {
  const error = await client.put({ key: new Uint8Array([1]) }).then(
    () => undefined,
    (e) => e,
  );
  assert(error !== undefined, "the call failed");
  return classify(error, url, undefined);
}

Deno.test("unary calls: one POST in the binary format; the answer, its headers and the token arrive", async () => {
  const seen: { path: string; type: string | null; auth: string | null; key: number[] }[] = [];
  const s = serve(async (request) => {
    const put = fromBinary(PutRequestSchema, new Uint8Array(await request.arrayBuffer()));
    seen.push({
      path: new URL(request.url).pathname,
      type: request.headers.get("content-type"),
      auth: request.headers.get("authorization"),
      key: [...put.key],
    });
    const body = toBinary(
      PutResponseSchema,
      create(PutResponseSchema, { partition: 3, index: 7n, ok: true, version: "v1" }),
    );
    return new Response(body, {
      headers: { "content-type": "application/proto", "prkdb-leader": "2" },
    });
  });
  try {
    let leader: string | null = null;
    const answer = await s.client.put({ key: new Uint8Array([9, 8]), value: new Uint8Array(2) }, {
      onHeader: (headers) => leader = headers.get("prkdb-leader"),
    });
    assertEquals([answer.partition, answer.index, answer.ok, answer.version], [3, 7n, true, "v1"]);
    assertEquals(leader, "2", "the answer's headers reach onHeader");
    assertEquals(seen, [{
      path: "/prkdb.v1.KvService/Put",
      type: "application/proto",
      auth: "Bearer t0k3n",
      key: [9, 8],
    }]);
  } finally {
    await s.close();
  }
});

Deno.test("unary calls: a Connect error keeps its code, message and kind; a bare HTTP error its status's code; no redirect is followed", async () => {
  const connectError = serve(() =>
    Response.json({ code: "aborted", message: "session expired" }, {
      status: 409,
      headers: { [ERROR_KIND_HEADER]: "session_expired" },
    })
  );
  const proxy = serve(() => new Response("<html>bad gateway</html>", { status: 503 }));
  const denied = serve(() => new Response("no", { status: 403 }));
  // Followed, the redirect would reach an answer that reads as a success.
  const moved = serve((request) =>
    new URL(request.url).pathname === "/elsewhere"
      ? new Response(toBinary(PutResponseSchema, create(PutResponseSchema, { ok: true })), {
        headers: { "content-type": "application/proto" },
      })
      : Response.redirect(new URL("/elsewhere", request.url), 307)
  );
  try {
    const e = await putFailure(connectError.client, connectError.url);
    assertEquals([e.code, e.kind, e.message, e.retryable], [
      "aborted",
      "session_expired",
      "session expired",
      true,
    ]);
    const p = await putFailure(proxy.client, proxy.url);
    assertEquals([p.code, p.retryable], ["unavailable", true], "a proxy's 503: try again");
    const d = await putFailure(denied.client, denied.url);
    assertEquals([d.code, d.retryable], ["permission_denied", false]);
    const m = await putFailure(moved.client, moved.url);
    assertEquals([m.code, m.retryable], ["unavailable", true], "a redirect is not followed");
  } finally {
    await Promise.all([connectError.close(), proxy.close(), denied.close(), moved.close()]);
  }
});

Deno.test("unary calls: an answer that is not the binary format is an error, not a garbled message", async () => {
  const s = serve(() =>
    new Response("<html>welcome</html>", { headers: { "content-type": "text/html" } })
  );
  try {
    const e = await putFailure(s.client, s.url);
    assertEquals([e.code, e.retryable], ["unknown", false]);
    assert(e.message.includes("text/html"), e.message);
  } finally {
    await s.close();
  }
});

Deno.test("unary calls: a refused connection is 'unreachable', and a cancelled call stops at once", async () => {
  // A port that was free a moment ago: nothing listens there.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const url = `http://127.0.0.1:${port}`;
  const refused = kvClient(
    url,
    { fetch },
    createClient(KvService, createConnectTransport({ baseUrl: url, useBinaryFormat: true })),
  );
  const e = await putFailure(refused, url);
  assertEquals([e.code, e.retryable], ["unavailable", true]);
  assert(e.message.includes("unreachable"), e.message);

  let arrived!: () => void;
  const waiting = new Promise<void>((resolve) => arrived = resolve);
  const release = Promise.withResolvers<void>();
  const s = serve(async () => {
    arrived();
    await release.promise;
    return new Response(null, { status: 500 });
  });
  try {
    const ac = new AbortController();
    const call = s.client.put({ key: new Uint8Array([1]) }, { signal: ac.signal });
    await waiting;
    ac.abort();
    const error = await assertRejects(() => call);
    assertEquals(classify(error, s.url, undefined).code, "canceled");
  } finally {
    release.resolve();
    await s.close();
  }
});
