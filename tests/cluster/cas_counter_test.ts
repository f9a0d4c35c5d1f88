/**
 * A counter incremented with compare-and-set by several clients while nodes are paused
 * (SIGSTOP) and killed (SIGKILL): every acknowledged increment is counted exactly once.
 */
import { assert, assertEquals } from "@std/assert";
import { PrkDbClient, PrkDbError } from "../../client/mod.ts";
import { partitionForKey } from "../../partition/hash.ts";
import { waitFor } from "../support/wait.ts";
import { ProcessCluster } from "./processes.ts";

const CLIENTS = 4;
const INCREMENTS_PER_CLIENT = 12;

Deno.test("e2e: a CAS counter under SIGSTOP and SIGKILL counts every acknowledged increment once", async () => {
  const c = await ProcessCluster.start(3, { partitions: 2 });
  try {
    const urls = [...c.urls.values()];
    let acked = 0;
    let unknown = 0;
    let conflicts = 0;
    const unknownWhy: string[] = [];
    let faultsOver = false;
    let finished = 0;
    const client = async (): Promise<void> => {
      // Retries are bounded by the time budget, not by a count.
      const db = await PrkDbClient.connect(urls, {
        timeoutMs: 20_000,
        attemptTimeoutMs: 400,
        maxAttempts: 1000,
      });
      // Increment until the faults are over and this client did its share (bounded either way).
      for (
        let done = 0, tries = 0;
        (!faultsOver || done < INCREMENTS_PER_CLIENT) && tries < 2000;
        tries++
      ) {
        const current = await db.get("counter").catch((error) => {
          if (error instanceof PrkDbError) return undefined; // a failed read changes nothing
          throw error;
        });
        if (!current) continue;
        const n = current.value ? Number(new TextDecoder().decode(current.value)) : 0;
        try {
          const r = await db.put("counter", String(n + 1), { ifVersion: current.version });
          if (r.ok) {
            acked++;
            done++;
            finished++;
          } else conflicts++;
        } catch (error) {
          if (!(error instanceof PrkDbError)) throw error;
          // The client gave up on this write: it may or may not have been applied.
          unknown++;
          done++;
          finished++;
          unknownWhy.push(`${error.code}: ${error.message}`);
        }
      }
    };
    const faults = async (): Promise<void> => {
      const db = await PrkDbClient.connect(urls);
      await waitFor("a few increments", () => acked >= 5, 30_000);
      // Fault the node that leads the counter's partition: progress needs a failover.
      const p = partitionForKey(new TextEncoder().encode("counter"), 2);
      const leader = (await db.refresh()).partitions[p].leader;
      c.signal(leader, "SIGSTOP");
      await waitFor("progress while the leader is paused", () => acked >= 15, 30_000);
      c.signal(leader, "SIGCONT");
      await waitFor("a leader again", async () => (await db.refresh()).partitions[p].leader > 0);
      const victim = (await db.refresh()).partitions[p].leader;
      await c.kill(victim);
      await waitFor("progress with a node down", () => acked >= 25, 30_000);
      c.spawn(victim);
      await waitFor("progress after the restart", () => acked >= 35, 30_000);
      faultsOver = true;
    };
    await Promise.all([...Array.from({ length: CLIENTS }, client), faults()]);
    await c.waitHealthy();
    const db = await PrkDbClient.connect(urls);
    const final = Number(await db.getText("counter"));
    assert(faultsOver, "the faults did not all happen while the clients ran");
    assert(acked + unknown === finished && acked >= CLIENTS * INCREMENTS_PER_CLIENT - unknown);
    assert(conflicts > 0, "the clients never raced: the test does not exercise compare-and-set");
    // Every acknowledged increment is there once; an increment whose outcome the client could
    // not learn may or may not be.
    assert(
      final >= acked && final <= acked + unknown,
      `counter ${final}, acknowledged ${acked}, unknown ${unknown}`,
    );
    assertEquals(unknownWhy, [], "sessions should resolve every retried increment");
  } finally {
    await c.stop();
  }
});
