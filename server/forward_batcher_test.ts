import { assert, assertEquals, assertRejects } from "@std/assert";
import { create } from "@bufbuild/protobuf";
import { Code, type ConnectError, createConnectRouter } from "@connectrpc/connect";
import {
  AtomicRequestSchema,
  DeleteRequestSchema,
  type ForwardRequest,
  KvService,
  OpenSessionRequestSchema,
  PutRequestSchema,
} from "../rpc/gen/prkdb/v1/kv_pb.ts";
import { ANSWERED_HEADER, ForwardBatcher } from "./forward_batcher.ts";
import { isUnreachable } from "./forwarding.ts";
import { ERROR_KIND_HEADER } from "../rpc/error_kinds.ts";
import { serveRouter } from "../tests/support/router_server.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const put = (key: string) =>
  create(PutRequestSchema, { key: new TextEncoder().encode(key), value: new Uint8Array(8) });

/** A real Connect server standing in for a leader: it answers each forwarded write on its own. */
async function leader(hold?: Promise<void>, timeoutMs = 2000) {
  const calls: ForwardRequest[] = [];
  const router = createConnectRouter();
  router.service(KvService, {
    async forward(req) {
      calls.push(req);
      await hold;
      return {
        results: req.calls.map(({ call }, i) => {
          if (call.case === "put" && text(call.value.key) === "refused") {
            return {
              result: {
                case: "error",
                value: { code: Code.FailedPrecondition, message: "no", kind: "session_expired" },
              },
            };
          }
          switch (call.case) {
            case "delete":
              return { result: { case: "delete", value: { found: true, ok: true } } };
            case "atomic":
              return { result: { case: "atomic", value: { ok: true, version: "v" } } };
            case "openSession":
              return { result: { case: "openSession", value: { id: 7n, timeoutMs: 1000 } } };
            default:
              return { result: { case: "put", value: { ok: true, index: BigInt(i + 1) } } };
          }
        }),
      };
    },
  });
  const { server, url } = await serveRouter(router);
  const batcher = new ForwardBatcher({
    urlFor: () => url,
    headers: { "prkdb-forwarded": "2" },
    maxInflight: 1,
    timeoutMs,
  });
  return { server, calls, batcher };
}

Deno.test("ForwardBatcher: writes waiting together share one call, and each gets its own answer", async () => {
  const { server, calls, batcher } = await leader();
  try {
    const signal = new AbortController().signal;
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    const answers = await Promise.all([
      ...keys.map((k) => batcher.put(1, put(k), signal)),
      batcher.delete(1, create(DeleteRequestSchema, { key: new Uint8Array([1]) }), signal),
    ]);
    assert(answers.every((a) => a.ok), "every write answered");
    assert(calls.length < 10, `${calls.length} calls for 51 writes`);
    assertEquals(calls.flatMap((c) => c.calls).length, 51, "each write sent once");
    // Atomic writes and sessions travel the same way, each answered with its own kind.
    const [atomic, session] = await Promise.all([
      batcher.atomic(1, create(AtomicRequestSchema, {}), signal),
      batcher.openSession(1, create(OpenSessionRequestSchema, { partition: 0 }), signal),
    ]);
    assertEquals([atomic.ok, atomic.version, session.id], [true, "v", 7n]);
    // One write refused: its caller alone sees the leader's error, never as "unreachable".
    const [ok, refused] = await Promise.allSettled([
      batcher.put(1, put("fine"), signal),
      batcher.put(1, put("refused"), signal),
    ]);
    assertEquals(ok.status, "fulfilled");
    const error = (refused as PromiseRejectedResult).reason as ConnectError;
    assertEquals([error.code, error.rawMessage], [Code.FailedPrecondition, "no"]);
    assert(error.metadata.has(ANSWERED_HEADER));
    assertEquals(
      error.metadata.get(ERROR_KIND_HEADER),
      "session_expired",
      "the kind comes through",
    );
    assertEquals(isUnreachable(error, signal), false);
  } finally {
    await server.close();
  }
});

Deno.test("ForwardBatcher: a leader that cannot be reached fails every write in the call as unreachable", async () => {
  const { server, batcher } = await leader();
  await server.close();
  const signal = new AbortController().signal;
  const results = await Promise.allSettled(
    [1, 2, 3].map((i) => batcher.put(1, put(`k${i}`), signal)),
  );
  for (const r of results) {
    assertEquals(r.status, "rejected");
    assert(isUnreachable((r as PromiseRejectedResult).reason, signal));
  }
});

Deno.test("ForwardBatcher: a leader that does not answer in time fails the call as unreachable, not as answered", async () => {
  let release!: () => void;
  const { server, batcher } = await leader(new Promise((r) => release = r), 300);
  try {
    const signal = new AbortController().signal;
    const error = await assertRejects(() => batcher.put(1, put("slow"), signal)) as ConnectError;
    assertEquals(error.code, Code.DeadlineExceeded);
    assert(isUnreachable(error, signal), "no answer is not mistaken for the leader's answer");
  } finally {
    release();
    await server.close();
  }
});

Deno.test("ForwardBatcher: a caller that gives up stops waiting, and is not sent if still queued", async () => {
  let release!: () => void;
  const { server, calls, batcher } = await leader(new Promise((r) => release = r));
  try {
    const open = new AbortController().signal;
    const first = batcher.put(1, put("in-flight"), open); // holds the only call slot
    const quitter = new AbortController();
    const queued = batcher.put(1, put("queued"), quitter.signal);
    quitter.abort(new Error("client went away"));
    await assertRejects(() => queued, Error, "client went away");
    release();
    assert((await first).ok);
    const sent = calls.flatMap((c) => c.calls).map((c) =>
      c.call.case === "put" ? text(c.call.value.key) : c.call.case
    );
    assertEquals(sent, ["in-flight"]);
  } finally {
    await server.close();
  }
});

Deno.test("ForwardBatcher: a node it has no client for fails those writes at once and the lane stays usable", async () => {
  const { server, calls } = await leader();
  const url = `http://127.0.0.1:${server.port}`;
  let known = false;
  const batcher = new ForwardBatcher({
    urlFor: (id) => {
      if (!known) throw new Error(`Node ${id} is not a member`);
      return url;
    },
    headers: { "prkdb-forwarded": "2" },
    maxInflight: 1,
  });
  try {
    const signal = new AbortController().signal;
    for (let i = 0; i < 3; i++) {
      await assertRejects(() => batcher.put(7, put(`early-${i}`), signal), Error, "not a member");
    }
    known = true; // the address book caught up
    assert((await batcher.put(7, put("later"), signal)).ok, "no call slot was lost");
    assertEquals(calls.length, 1);
  } finally {
    await server.close();
  }
});

Deno.test("ForwardBatcher: a leader of an earlier version, without Forward, gets each write as its own call", async () => {
  const puts: string[] = [];
  const router = createConnectRouter();
  router.service(KvService, {
    put(req) {
      puts.push(text(req.key));
      return { ok: true, version: "1" };
    },
  });
  let notFound = 0;
  const { server, url } = await serveRouter(router, { onNotFound: () => notFound++ });
  const batcher = new ForwardBatcher({ urlFor: () => url, headers: { "prkdb-forwarded": "2" } });
  try {
    const signal = new AbortController().signal;
    const first = await Promise.all(["a", "b"].map((k) => batcher.put(1, put(k), signal)));
    assert(first.every((r) => r.ok), "sent again one by one, nothing lost");
    const tried = notFound;
    assert((await batcher.put(1, put("c"), signal)).ok);
    assertEquals(puts.sort(), ["a", "b", "c"]);
    assertEquals(notFound, tried, "Forward is not tried again for a while");
  } finally {
    await server.close();
  }
});
