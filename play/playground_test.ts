import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { formatMessage } from "../interaction/mod.ts";
import { Playground } from "./playground.ts";
import { viewOf } from "./view.ts";

/** Steps until `done` holds, failing after `limit` steps. */
function stepUntil(play: Playground, what: string, done: () => boolean, limit = 2000): void {
  for (let i = 0; i < limit; i++) {
    if (done()) return;
    play.step();
  }
  throw new Error(`No ${what} after ${limit} steps`);
}

function leaderOf(play: Playground): number | undefined {
  return viewOf(play.env).nodes.find((n) => n.role === "Leader")?.id;
}

function elect(play: Playground): number {
  stepUntil(play, "leader", () => leaderOf(play) !== undefined);
  return leaderOf(play)!;
}

Deno.test("playground: a step handles a Ready first, then delivers the oldest message, else ticks", () => {
  const play = new Playground({ seed: 3, nodes: 3 });
  assertEquals(play.step(), ["> tick 1: nodes 1, 2, 3 tick"]);
  stepUntil(play, "campaign", () => play.env.ids.some((id) => play.env.hasReady(id)));
  const candidate = play.env.ids.find((id) => play.env.hasReady(id))!;
  assertEquals(play.step()[0], `> ${candidate} handling Ready`);
  const [oldest] = play.env.inFlight();
  assertEquals(play.step(), [
    `> ${oldest.message.to} receiving messages`,
    `  ${formatMessage(oldest.message)}`,
  ]);
});

Deno.test("playground: a proposal on the elected leader commits on every node", () => {
  const play = new Playground({ seed: 1 });
  const leader = elect(play);
  assertEquals(
    play.apply({ kind: "propose", node: leader, command: "x=1" })[0].slice(0, 12),
    "proposed at ",
  );
  const committed = () =>
    viewOf(play.env).nodes.every((n) =>
      n.log.some((e) => e.text.endsWith(' "x=1"') && e.index <= n.commitIndex)
    );
  stepUntil(play, "commit everywhere", committed);
  const follower = play.env.ids.find((id) => id !== leader)!;
  assertEquals(
    play.apply({ kind: "propose", node: follower, command: "y=2" })[0].slice(0, 21),
    "error: NotLeaderError",
  );
});

Deno.test("playground: a delayed message waits for the next tick; a dropped one is gone", () => {
  const play = new Playground({ seed: 2, nodes: 3 });
  elect(play);
  stepUntil(play, "two messages on the wire", () => play.env.inFlight().length >= 2);
  const [first, second] = play.wire();
  assertEquals(play.apply({ kind: "delay", message: first.id }), [
    `message ${first.id} held until tick ${play.clock + 1}`,
  ]);
  assertEquals(play.wire()[0].heldUntil, play.clock + 1);
  play.apply({ kind: "drop", message: second.id });
  assert(!play.wire().some((m) => m.id === second.id), "dropped");
  const tickAt = play.clock;
  stepUntil(play, "the held message delivered", () => !play.wire().some((m) => m.id === first.id));
  assertEquals(play.clock, tickAt + 1, "delivered only after the clock moved");
  assertThrows(() => play.apply({ kind: "deliver", message: second.id }), Error, "No message");
});

Deno.test("playground: a crashed node keeps its disk and restarts from it", () => {
  const play = new Playground({ seed: 4, nodes: 3 });
  const leader = elect(play);
  play.apply({ kind: "propose", node: leader, command: "x=1" });
  stepUntil(play, "commit", () => viewOf(play.env).nodes.every((n) => n.commitIndex >= 2));
  const before = viewOf(play.env).nodes.find((n) => n.id === leader)!;
  assertEquals(play.apply({ kind: "crash", node: leader }), [`crashed ${leader}`]);
  const down = viewOf(play.env).nodes.find((n) => n.id === leader)!;
  assertEquals([down.role, down.term, down.log], ["Crashed", before.term, before.log]);
  stepUntil(play, "a new leader", () => (leaderOf(play) ?? leader) !== leader);
  assert(play.apply({ kind: "restart", node: leader })[0].startsWith(`restarted ${leader}:`));
  const up = viewOf(play.env).nodes.find((n) => n.id === leader)!;
  assertEquals([up.role, up.log], ["Follower", before.log]);
});

Deno.test("playground: the seed and the recorded actions replay the same run", () => {
  const play = new Playground({ seed: 9 });
  const leader = elect(play);
  play.apply({ kind: "isolate", node: leader });
  for (let i = 0; i < 300; i++) play.step();
  play.apply({ kind: "heal" });
  for (let i = 0; i < 100; i++) play.step();
  const again = Playground.replay({ seed: 9 }, play.actions);
  assertEquals(viewOf(again.env), viewOf(play.env));
  assertEquals(again.clock, play.clock);
  assertEquals(again.actions, play.actions);
});

Deno.test("playground: different seeds time elections differently", () => {
  const timeouts = (seed: number) =>
    new Playground({ seed }).env.ids.map((id) =>
      new Playground({ seed }).env.electionTimer(id).timeout
    );
  assertNotEquals(timeouts(1), timeouts(2));
  assertEquals(timeouts(1), timeouts(1));
});
