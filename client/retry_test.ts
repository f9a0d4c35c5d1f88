/**
 * Retries wait with `delay` from `@std/async`, and the wait ends as soon as the call is
 * cancelled or out of time, not when the backoff is over.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { startOneNode } from "../tests/support/one_node.ts";
import { PrkDbClient, PrkDbError } from "./mod.ts";

async function clientOfStoppedNode(): Promise<PrkDbClient> {
  const { node, url } = await startOneNode();
  // A backoff of a minute: only the signal can end the wait early.
  const db = await PrkDbClient.connect([url], {
    backoffMs: 60_000,
    maxBackoffMs: 60_000,
  });
  await node.stop();
  return db;
}

Deno.test("client: running out of time ends the backoff at once", async () => {
  const db = await clientOfStoppedNode();
  const started = performance.now();
  const e = await assertRejects(() => db.get("k", { timeoutMs: 300 }), PrkDbError);
  assertEquals([e.code, e.retryable], ["deadline_exceeded", true]);
  assert(performance.now() - started < 10_000, "the wait must not last the backoff");
  db.close();
});

Deno.test("client: cancelling ends the backoff at once", async () => {
  const db = await clientOfStoppedNode();
  const ac = new AbortController();
  const call = db.put("k", "v", { signal: ac.signal, timeoutMs: 120_000 });
  const started = performance.now();
  // The first attempt is refused at once (nothing listens); abort while the client backs off.
  setTimeout(() => ac.abort(), 200);
  const e = await assertRejects(() => call, PrkDbError);
  assertEquals([e.code, e.retryable], ["canceled", false]);
  assert(performance.now() - started < 10_000, "the wait must not last the backoff");
  db.close();
});
