import { assertEquals } from "@std/assert";
import { RaftEventCounter } from "./event_counter.ts";

Deno.test("RaftEventCounter: counts by type across partitions", () => {
  const c = new RaftEventCounter();
  c.record(0, [{ type: "ElectionStarted", preVote: true, term: 2 }, {
    type: "LeaderChanged",
    leaderId: 1,
    term: 2,
  }]);
  c.record(3, [{ type: "LeaderChanged", leaderId: 2, term: 3 }]);
  assertEquals(c.count("LeaderChanged"), 2);
  assertEquals(c.count("QuorumLost"), 0);
  assertEquals(c.snapshot(), { ElectionStarted: 1, LeaderChanged: 2 });
});
