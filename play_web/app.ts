/**
 * The playground page's script, bundled for the browser by the play server: it keeps either a
 * {@linkcode Playground} (free play) or a {@linkcode ScriptReplay} (a golden script, block by
 * block), turns clicks into their actions, and redraws the page from the cluster's view after
 * each one. All Raft logic is the real core from `raft/`, imported through `interaction/`.
 *
 * This folder is a workspace member with its own `deno.json` so it is type-checked with the
 * DOM's types, which would clash with Deno's in the rest of the repository. It sits beside
 * `play/` rather than inside it: `deno test play/` finds no tests in a folder that holds a
 * workspace member.
 *
 * @module
 */
import { type Action, Playground } from "../play/playground.ts";
import { renderLogs, renderMessages, renderNodes } from "../play/render.ts";
import { ScriptReplay } from "../play/replay.ts";
import { renderRing } from "../play/ring.ts";
import { viewOf } from "../play/view.ts";

type Mode =
  | { readonly kind: "free"; readonly play: Playground; readonly queued: Action[] }
  | { readonly kind: "script"; readonly name: string; readonly replay: ScriptReplay };

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

let mode: Mode = freePlay(1, 5, []);
let trace: string[] = ["A fresh cluster: every node is a follower at term 0. Press Step or Run."];
let running: ReturnType<typeof setInterval> | undefined;

function freePlay(seed: number, nodes: number, queued: Action[]): Mode {
  return { kind: "free", play: new Playground({ seed, nodes }), queued };
}

/** Performs one free-play action, showing a refusal (like "not the leader") in the trace. */
function act(action: Action): void {
  if (mode.kind !== "free") return;
  try {
    trace = mode.play.apply(action);
  } catch (error) {
    trace = [`error: ${(error as Error).message}`];
  }
}

/** One step: the next queued (replayed) action, the scheduler's next event, or the next block. */
function step(): void {
  if (mode.kind === "free") act(mode.queued.shift() ?? { kind: "step" });
  else {
    const result = mode.replay.next();
    if (!result) stop();
  }
  render();
}

function stop(): void {
  clearInterval(running);
  running = undefined;
}

function render(): void {
  const env = mode.kind === "free" ? mode.play.env : mode.replay.env;
  const view = viewOf(env);
  const free = mode.kind === "free";
  $("ring").innerHTML = renderRing(view);
  $("nodes").innerHTML = renderNodes(view, free);
  $("logs").innerHTML = renderLogs(view);
  const wire = mode.kind === "free" ? mode.play.wire() : undefined;
  $("messages").innerHTML = renderMessages(view.messages, wire);
  $("run").textContent = running ? "Pause" : "Run";
  $("free-controls").hidden = !free;
  $("free").hidden = free;
  if (mode.kind === "free") renderFree(mode);
  else renderScript(mode);
}

function renderFree(m: Mode & { kind: "free" }): void {
  const queued = m.queued.length > 0 ? `, replaying: ${m.queued.length} action(s) to go` : "";
  $("status").textContent = `Free play: seed ${m.play.seed}, ${m.play.size} nodes, ` +
    `tick ${m.play.clock}, ${m.play.actions.length} action(s) taken${queued}.`;
  $("trace-title").textContent = "Last step";
  $("verdict").textContent = "";
  $("trace").textContent = trace.join("\n");
}

function renderScript(m: Mode & { kind: "script" }): void {
  const { replay } = m;
  const last = replay.results.at(-1);
  $("status").textContent = `Golden script ${m.name}: block ${replay.results.length} of ` +
    `${replay.blocks.length}${replay.done ? " (done)" : ""}. Step runs the next block.`;
  $("trace-title").textContent = last
    ? `Block ${last.index + 1}, line ${last.block.lineNumber}`
    : "";
  const verdict = $("verdict");
  verdict.className = last ? (last.matches ? "ok" : "bad") : "";
  verdict.textContent = last
    ? (last.matches ? "Same output as the golden file." : "Differs from the golden file!")
    : "";
  verdict.dataset.block = last ? String(last.index) : "";
  $("trace").textContent = last
    ? [...last.block.comments, last.block.line, "----", ...last.output].join("\n")
    : replay.blocks[0]?.comments.join("\n") ?? "";
}

async function loadScript(name: string): Promise<void> {
  stop();
  const text = await (await fetch(`golden/${encodeURIComponent(name)}`)).text();
  mode = { kind: "script", name, replay: new ScriptReplay(text) };
  render();
}

async function listScripts(): Promise<void> {
  const names: string[] = await (await fetch("golden/")).json();
  $("scripts").innerHTML = names.map((n) => `<option>${n}</option>`).join("");
}

function numberOf(id: string): number {
  return Number($<HTMLInputElement>(id).value);
}

function proposeOnLeader(play: Playground): void {
  const up = play.env.ids.filter((id) => !play.env.crashed.has(id));
  const leaders = up.filter((id) => play.env.status(id).role === "Leader");
  // During a partition an old leader may linger: the newest term's leader is the real one.
  const leader = leaders.sort((a, b) => play.env.status(b).term - play.env.status(a).term)[0];
  if (leader === undefined) trace = ["No leader to propose to: let an election finish first."];
  else act({ kind: "propose", node: leader, command: $<HTMLInputElement>("command").value });
}

const controls: Record<string, () => void> = {
  step,
  run: () => {
    if (running) stop();
    else running = setInterval(step, numberOf("speed"));
  },
  tick: () => act({ kind: "tick" }),
  heal: () => act({ kind: "heal" }),
  back: () => {
    if (mode.kind !== "free") return;
    const { seed, size, actions } = mode.play;
    mode = { ...mode, play: Playground.replay({ seed, nodes: size }, actions.slice(0, -1)) };
    trace = ["Went back one action (replayed the rest from the seed)."];
  },
  propose: () => mode.kind === "free" && proposeOnLeader(mode.play),
  reset: () => {
    stop();
    mode = freePlay(numberOf("seed"), numberOf("size"), []);
    trace = ["A fresh cluster with this seed."];
  },
  replay: () => {
    if (mode.kind !== "free") return;
    stop();
    const { seed, size, actions } = mode.play;
    mode = freePlay(seed, size, [...actions]);
    trace = [`Replaying ${actions.length} action(s) from seed ${seed}: Step or Run.`];
  },
  load: () => void loadScript($<HTMLSelectElement>("scripts").value),
  free: () => {
    stop();
    mode = freePlay(numberOf("seed"), numberOf("size"), []);
  },
};

for (const [id, handler] of Object.entries(controls)) {
  $(id).addEventListener("click", () => {
    handler();
    render();
  });
}

// Buttons drawn by render.ts: a node's crash/restart/isolate, a message's deliver/drop/delay.
document.body.addEventListener("click", (event) => {
  const button = (event.target as HTMLElement).closest<HTMLElement>("button[data-action]");
  if (!button) return;
  const target = Number(button.dataset.target);
  const kind = button.dataset.action!;
  if (kind === "deliver" || kind === "drop" || kind === "delay") act({ kind, message: target });
  else if (kind === "crash" || kind === "restart" || kind === "isolate") {
    act({ kind, node: target });
  }
  render();
});

render();
await listScripts();
