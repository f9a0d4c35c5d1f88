/**
 * The operator CLI's admin request against real HTTP servers on loopback: it skips an endpoint
 * that is down, waits out "not now" answers, and stops at once on a refusal.
 */
import { assertEquals, assertRejects } from "@std/assert";
import { adminRequest, AdminRequestError } from "../cli/admin_request.ts";
import { httpFor } from "../cli/connection.ts";

/** A server on port 0 that answers from `answers` in turn, and records the bodies it was sent. */
function server(answers: [number, unknown][]) {
  const seen: unknown[] = [];
  const srv = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push(req.method === "POST" ? await req.json() : req.method);
    const [status, body] = answers[Math.min(seen.length, answers.length) - 1];
    return Response.json(body, { status });
  });
  return { url: `http://127.0.0.1:${srv.addr.port}`, seen, srv };
}

/** A loopback URL nothing listens on: a listener bound then closed. */
function deadUrl(): string {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return `http://127.0.0.1:${port}`;
}

Deno.test("admin request: skips a dead endpoint and waits out 503 until the answer", async () => {
  const s = server([[503, { error: "no leader yet" }], [503, { error: "no leader yet" }], [
    200,
    { voters: [1, 2] },
  ]]);
  const c = { endpoints: [deadUrl(), s.url], timeoutMs: 2000 };
  const http = httpFor(c);
  const waits: string[] = [];
  try {
    const body = await adminRequest(c, http, {
      path: "/admin/membership",
      body: { partition: 0 },
      slackMs: 0,
      deadlineMs: 10_000,
      retryOn: [503],
      onWait: (r) => waits.push(r),
    });
    assertEquals(body, { voters: [1, 2] });
    assertEquals(s.seen, [{ partition: 0 }, { partition: 0 }, { partition: 0 }]);
    assertEquals(waits, ["no leader yet"]); // told once per new reason
  } finally {
    http.close();
    await s.srv.shutdown();
  }
});

Deno.test("admin request: a refusal stops at once; a deadline reports the last reason", async () => {
  const refuse = server([[400, { error: 'address must be "host:port"' }]]);
  const busy = server([[503, { error: "replica 3 lags" }]]);
  const http = httpFor({ endpoints: [], timeoutMs: 2000 });
  try {
    const refused = await assertRejects(
      () =>
        adminRequest({ endpoints: [refuse.url, busy.url], timeoutMs: 2000 }, http, {
          path: "/admin/members",
          slackMs: 0,
          deadlineMs: 10_000,
          retryOn: [503],
        }),
      AdminRequestError,
      "host:port",
    );
    assertEquals(refused.timedOut, false);
    assertEquals(refuse.seen.length, 1);
    assertEquals(busy.seen.length, 0); // a refusal is final: no other endpoint is asked

    const late = await assertRejects(
      () =>
        adminRequest({ endpoints: [busy.url], timeoutMs: 2000 }, http, {
          path: "/admin/members",
          slackMs: 0,
          deadlineMs: 300,
          retryOn: [503],
        }),
      AdminRequestError,
      "replica 3 lags",
    );
    assertEquals(late.timedOut, true);
    assertEquals(busy.seen[0], "GET");
  } finally {
    http.close();
    await refuse.srv.shutdown();
    await busy.srv.shutdown();
  }
});
