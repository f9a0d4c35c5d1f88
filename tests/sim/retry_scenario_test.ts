/**
 * The retry anomaly that client sessions exist to prevent, played step by step on the real
 * runtime and judged by the linearizability checker:
 *
 * 1. alice's put of A is delayed in the network (a paused node holds it);
 * 2. alice times out and retries A elsewhere; the retry commits and is acknowledged;
 * 3. bob writes B, acknowledged;
 * 4. the delayed copy of A finally reaches the leader;
 * 5. bob reads, after B was acknowledged.
 *
 * With a session the late copy is answered from the session table and the read sees B. Without
 * one it is applied again, the read sees A, and the checker rejects the history.
 */
import { assert, assertEquals } from "@std/assert";
import { ManualCluster } from "../support/manual_cluster.ts";
import { checkKeyHistory, type KvOperation } from "./linearizability.ts";

const te = new TextEncoder();
const td = new TextDecoder();

async function play(withSession: boolean): Promise<{ history: KvOperation[]; read: string }> {
  const c = await ManualCluster.start(3, 1);
  try {
    const leader = c.leaderOf(0);
    const key = te.encode("doc");
    const history: KvOperation[] = [];
    let clock = 0;
    const session = withSession
      ? { id: await c.run(leader.openSession(0, 60_000)), seq: 1, firstIncomplete: 1 }
      : undefined;
    const putA = () => leader.put(key, te.encode("A"), { session });
    // 1-2. The first attempt is held; the retry commits.
    const aCall = ++clock;
    await c.run(putA());
    history.push({ id: 0, client: 1, call: aCall, ret: ++clock, kind: "put", value: "A" });
    // 3. bob writes B.
    const bCall = ++clock;
    await c.run(leader.put(key, te.encode("B")));
    history.push({ id: 1, client: 2, call: bCall, ret: ++clock, kind: "put", value: "B" });
    // 4. The held first attempt of A arrives, long after alice's call returned.
    await c.run(putA());
    // 5. bob reads.
    const rCall = ++clock;
    const got = await c.run(leader.get(key));
    const read = got ? td.decode(got.value) : "";
    history.push({ id: 2, client: 2, call: rCall, ret: ++clock, kind: "get", value: read });
    return { history, read };
  } finally {
    await c.stop();
  }
}

Deno.test("retry scenario: with a session, the late copy of a retried write is not applied again", async () => {
  const { history, read } = await play(true);
  assertEquals(read, "B");
  assertEquals(checkKeyHistory(history), undefined);
});

Deno.test("retry scenario: without a session, the late copy overwrites B and the checker sees it", async () => {
  const { history, read } = await play(false);
  assertEquals(read, "A", "a write without a session is applied once per delivery");
  const failure = checkKeyHistory(history);
  assert(failure, "the checker accepted a read of A after B was acknowledged");
});
