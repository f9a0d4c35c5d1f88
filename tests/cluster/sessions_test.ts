/**
 * Exactly-once writes with real node processes and the real client: a write delivered again
 * after its retry committed, and a write queued at a paused leader, are never applied twice.
 */
import { assert, assertEquals } from "@std/assert";
import { PrkDbClient } from "../../client/mod.ts";
import { classify } from "../../client/errors.ts";
import { answeredError } from "../../client/unary_calls.ts";
import { waitFor } from "../support/wait.ts";
import { checkKeyHistory, type KvOperation } from "../sim/linearizability.ts";
import { ProcessCluster } from "./processes.ts";

/** A fetch that remembers every Put request it sends (URL, headers and body bytes). */
function recordingFetch(): {
  fetch: typeof fetch;
  puts: { url: string; body: Uint8Array<ArrayBuffer>; type: string }[];
} {
  const puts: { url: string; body: Uint8Array<ArrayBuffer>; type: string }[] = [];
  const f: typeof fetch = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (url.endsWith("/prkdb.v1.KvService/Put") && init?.body) {
      const body = new Uint8Array(await new Response(init.body as BodyInit).arrayBuffer());
      puts.push({ url, body, type: new Headers(init.headers).get("content-type") ?? "" });
      return await fetch(input, { ...init, body });
    }
    return await fetch(input, init);
  };
  return { fetch: f, puts };
}

Deno.test("e2e sessions: a write delivered again after its retry committed is not applied twice", async () => {
  const c = await ProcessCluster.start(3, { partitions: 2 });
  try {
    const urls = [...c.urls.values()];
    const rec = recordingFetch();
    const alice = await PrkDbClient.connect(urls, { fetch: rec.fetch });
    const bob = await PrkDbClient.connect(urls);
    assert((await alice.put("doc", "A")).ok);
    const late = rec.puts.at(-1)!;
    assert((await bob.put("doc", "B")).ok);
    // The network delivers alice's request once more, to every node, after bob's write.
    for (const url of urls) {
      const target = late.url.replace(/^http:\/\/[^/]+/, url);
      const r = await fetch(target, {
        method: "POST",
        headers: { "content-type": late.type },
        body: late.body,
      });
      await r.body?.cancel();
    }
    assertEquals(await bob.getText("doc"), "B", "the late copy of A was applied again");
    // Once alice has moved on, the partition forgets A's result and refuses another copy.
    await alice.put("doc-other-key-same-session", "x");
    await alice.put("doc", "C");
    const refused = await fetch(late.url, {
      method: "POST",
      headers: { "content-type": late.type },
      body: late.body,
    });
    const answer = new Uint8Array(await refused.arrayBuffer());
    assertEquals(JSON.parse(new TextDecoder().decode(answer)).code, "failed_precondition");
    assertEquals(refused.headers.get("prkdb-error"), "stale_request");
    // The client reads that answer as the kind it tells apart.
    const seen = classify(
      answeredError(refused.status, answer, refused.headers),
      late.url,
      undefined,
    );
    assertEquals([seen.code, seen.kind], ["failed_precondition", "stale_request"]);
    assertEquals(await bob.getText("doc"), "C");
  } finally {
    await c.stop();
  }
});

Deno.test("e2e sessions: a put queued at a paused leader is not applied after its retry and a later write", async () => {
  const c = await ProcessCluster.start(3, { partitions: 1 });
  try {
    const urls = [...c.urls.values()];
    const alice = await PrkDbClient.connect(urls, { timeoutMs: 15_000, attemptTimeoutMs: 300 });
    const bob = await PrkDbClient.connect(urls, { timeoutMs: 15_000, attemptTimeoutMs: 300 });
    const history: KvOperation[] = [];
    let clock = 0;
    const record = async (
      client: number,
      kind: "put" | "get",
      value: string | null,
      op: () => Promise<unknown>,
    ) => {
      const call = ++clock;
      const result = await op();
      const ret = ++clock;
      history.push(
        kind === "put" ? { id: history.length, client, call, ret, kind, value: value! } : {
          id: history.length,
          client,
          call,
          ret,
          kind,
          value: (result as string | undefined) ?? null,
        },
      );
    };
    await record(1, "put", "0", () => alice.put("doc", "0")); // opens alice's session
    const leader = (await alice.refresh()).partitions[0].leader;
    c.signal(leader, "SIGSTOP");
    // Alice's first attempt waits in the paused leader's socket; her retries commit elsewhere.
    await record(1, "put", "A", () => alice.put("doc", "A"));
    await record(2, "put", "B", () => bob.put("doc", "B"));
    c.signal(leader, "SIGCONT");
    await waitFor(
      "the old leader to rejoin",
      async () => (await c.health(leader))?.healthy === true,
      15_000,
    );
    await record(2, "get", null, () => bob.getText("doc"));
    const stale = await PrkDbClient.connect([c.urls.get(leader)!]);
    await waitFor(
      "the old leader to apply everything",
      async () => (await stale.getText("doc", { readMode: "stale" })) === "B",
      15_000,
    );
    const last = history.at(-1)!;
    assert(
      last.kind === "get" && last.value === "B",
      `the read after B saw ${JSON.stringify(last)}`,
    );
    assertEquals(checkKeyHistory(history), undefined);
  } finally {
    await c.stop();
  }
});
