import { assert, assertEquals } from "@std/assert";
import { InteractionEnv, parseCommand } from "../interaction/mod.ts";
import { esc, renderLogs, renderMessages, renderNodes } from "./render.ts";
import { viewOf } from "./view.ts";

function elected(): InteractionEnv {
  const env = new InteractionEnv();
  env.addNodes(3);
  for (const line of ["campaign 1", "stabilize", "propose 1 a<b", "process-ready 1"]) {
    env.run(parseCommand(line));
  }
  return env;
}

Deno.test("render: log cells carry index and term, committed or not, and the commit edge", () => {
  const html = renderLogs(viewOf(elected()));
  const row1 = html.match(/<tr data-node="1".*?<\/tr>/)![0];
  assert(/class="entry t1 committed commit" [^>]*data-index="1" data-term="1">1</.test(row1), row1);
  assert(
    /class="entry t1 uncommitted" title="2@1 &#34;a&#60;b&#34; \(uncommitted\)/.test(row1),
    row1,
  );
  const row2 = html.match(/<tr data-node="2".*?<\/tr>/)![0];
  assertEquals(row2.match(/td class="entry/g)?.length, 1, "node 2 has not received 2@1 yet");
});

Deno.test("render: messages with their buttons only in free play", () => {
  const view = viewOf(elected());
  assertEquals(view.messages.map((m) => `${m.from}->${m.to} ${m.type}`), [
    "1->2 AppendEntries",
    "1->3 AppendEntries",
  ]);
  const free = renderMessages(view.messages, [{ id: view.messages[0].id, heldUntil: 4 }]);
  assert(free.includes(`data-action="drop" data-target="${view.messages[0].id}"`));
  assert(free.includes("held until tick 4"));
  assert(free.includes("&#34;a&#60;b&#34;"), "message text is escaped");
  assert(!renderMessages(view.messages, undefined).includes("data-action"));
  assert(renderMessages([], undefined).includes("No messages"));
});

Deno.test("render: a crashed node offers Restart, a running one Crash", () => {
  const env = elected();
  env.crash(2);
  const html = renderNodes(viewOf(env), true);
  assert(/data-node="2" data-role="Crashed".*?data-action="restart"/.test(html), html);
  assert(/data-node="1" data-role="Leader".*?data-action="crash"/.test(html), html);
  assertEquals(esc(`<"'&>`), "&#60;&#34;&#39;&#38;&#62;");
});

Deno.test("render: a learner is marked, and so is a membership change in the log", () => {
  const env = elected();
  for (
    const line of [
      "stabilize",
      "join-node 4 voters=1,2,3",
      "change-membership 1 add-learner 4",
      "stabilize",
    ]
  ) env.run(parseCommand(line));
  const view = viewOf(env);
  assertEquals(view.nodes.map((n) => n.learner), [false, false, false, true]);
  assert(/data-node="4" data-role="Follower".*?learner/.test(renderNodes(view, false)));
  const config = view.nodes[0].log.find((e) => e.type === "config")!;
  assertEquals(config.text, `${config.index}@1 config voters=[1, 2, 3] learners=[4]`);
  const cell = renderLogs(view).match(/<td class="entry [^"]*config[^"]*" title="([^"]*)"/)!;
  assertEquals(cell[1], `${esc(config.text)} (committed)`);
});
