/**
 * The examples run, from a fresh process, and say what they should.
 */
import { assertEquals, assertStringIncludes } from "@std/assert";

async function run(example: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(`../examples/${example}`, import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, `${example} failed:\n${text}\n${new TextDecoder().decode(out.stderr)}`);
  return text;
}

Deno.test("example: raft_by_hand walks election, write, follower read and failover", async () => {
  const out = await run("raft_by_hand.ts");
  assertStringIncludes(out, "node 3 serves read #1 at index 2: hello, raft");
  assertStringIncludes(out, "greeting = hello again");
});

Deno.test("example: in_memory_cluster survives an isolated leader", async () => {
  const out = await run("in_memory_cluster.ts");
  assertStringIncludes(out, "took over. item:7 = value 7");
  assertStringIncludes(out, 'caught up: item:7 = "updated while node was away"');
});

Deno.test("example: replication replicates 10 orders to two followers, each serving its own metrics", async () => {
  const out = await run("replication.ts", "--exit", "--port", "0");
  assertStringIncludes(out, "follower-1: 10 orders");
  assertStringIncludes(out, "follower-2: 10 orders");
  assertStringIncludes(out, "leader-1: healthy true, outbox drift 0");
  assertStringIncludes(out, 'prkdb_replication_changes_applied_total{node_id="follower-1"} 10');
  assertStringIncludes(out, 'prkdb_replication_changes_applied_total{node_id="follower-2"} 10');
});
