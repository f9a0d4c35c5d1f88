import { assert, assertEquals } from "@std/assert";
import { InteractionEnv, parseCommand } from "../interaction/mod.ts";
import { renderRing } from "./ring.ts";
import { viewOf } from "./view.ts";

Deno.test("ring: a dot per message on the wire, responses hollow; timers as arcs", () => {
  const env = new InteractionEnv();
  env.addNodes(3);
  for (const line of ["tick 2 times=5", "campaign 1", "deliver-msgs 2", "process-ready 2"]) {
    env.run(parseCommand(line));
  }
  env.crash(3);
  const svg = renderRing(viewOf(env));
  const dots = [...svg.matchAll(/<circle class="(msg[^"]*)"[^>]*data-message="(\d+)"/g)]
    .map((m) => m[1]);
  assertEquals(dots, ["msg response VoteResponse"], "3's request was dropped with 3's mailbox");
  assert(/class="ring-node Crashed" data-node="3"><circle class="body"/.test(svg), "no timer arc");
  const arc = svg.match(/data-node="2"><circle class="timer-arc"[^>]*stroke-dasharray="([\d.]+) /);
  const { elapsed, timeout } = env.electionTimer(2);
  assertEquals(elapsed, 5, "a PreVote granted does not restart the timer");
  assertEquals(Number(arc![1]), Number(((elapsed / timeout) * 2 * Math.PI * 29).toFixed(1)));
  assert(/data-node="1"><circle class="timer-arc"/.test(svg));
});
