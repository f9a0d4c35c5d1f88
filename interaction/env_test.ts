import { assertEquals, assertThrows } from "@std/assert";
import { InteractionEnv } from "./env.ts";
import { parseCommand } from "./script.ts";

function run(env: InteractionEnv, ...lines: string[]): string[] {
  return lines.flatMap((line) => env.run(parseCommand(line)));
}

Deno.test("interaction: messages on the wire have ids in send order and can be delivered one by one", () => {
  const env = new InteractionEnv();
  run(env, "add-nodes 3 pre-vote=false", "campaign 1");
  const wire = env.inFlight();
  assertEquals(wire.map((m) => [m.id, m.message.to]), [[1, 2], [2, 3]]);
  assertEquals(env.deliverMessage(2), ["> 3 receiving messages", "  1->3 Vote term=1 last=0@0"]);
  assertEquals(env.deliverMessage(1, true), [
    "> 2 dropping messages",
    "  1->2 Vote term=1 last=0@0",
  ]);
  assertThrows(() => env.deliverMessage(1), Error, "No message 1 on the wire");
  assertEquals(env.hasReady(3), true, "node 3 has a vote to send");
});

Deno.test("interaction: a crashed node loses memory and mailbox, keeps its disk, and restarts from it", () => {
  const env = new InteractionEnv();
  run(env, "add-nodes 3", "campaign 1", "stabilize", "propose 1 one", "process-ready 1");
  assertEquals(run(env, "crash 2"), ["crashed 2"]);
  assertEquals(env.inFlight().map((m) => m.message.to), [3], "node 2's mailbox is gone");
  assertThrows(() => env.status(2), Error, "Node 2 is crashed");
  assertEquals(run(env, "raft-state")[1], "2: crashed term=1 vote=1 commit=1");
  run(env, "stabilize");
  const out = run(env, "tick-heartbeat 1");
  assertEquals(out.at(-1), "  dropped 1 message(s) to crashed nodes", out.join("\n"));
  assertEquals(run(env, "restart 2"), ["restarted 2: term=1 vote=1 commit=1 entries=1"]);
  run(env, "tick-heartbeat 1", "stabilize");
  assertEquals(env.disk(2).entries.length, 2, "the restarted node caught up");
});
