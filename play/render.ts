/**
 * HTML for the playground page, as strings built from a {@linkcode ClusterView}: the nodes with
 * their timers, the logs side by side as in the Raft paper's figures 6 to 8, and the messages
 * on the wire. Pure functions, so they run (and are tested) without a browser; buttons carry a
 * `data-action` the page's click handler reads.
 *
 * @example The log table of a fresh cluster has a row per node and no entries
 * ```ts
 * import { InteractionEnv } from "../interaction/mod.ts";
 * import { renderLogs } from "./render.ts";
 * import { viewOf } from "./view.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const env = new InteractionEnv();
 * env.addNodes(3);
 * assertEquals(renderLogs(viewOf(env)).match(/<tr data-node=/g)?.length, 3);
 * ```
 *
 * @module
 */
import type { ClusterView, MessageView, NodeView } from "./view.ts";
import type { WireMessage } from "./playground.ts";

/** Escapes text for HTML. */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** How many distinct term colours the stylesheet defines (`.t0` to `.t7`). */
export const TERM_COLOURS = 8;

/**
 * The nodes as cards: role, term, vote, leader, commit index, election timer and, in free
 * mode, the buttons that crash, restart or isolate them.
 *
 * @returns HTML.
 */
export function renderNodes(view: ClusterView, controls: boolean): string {
  return view.nodes.map((n) => nodeCard(n, controls)).join("");
}

function nodeCard(n: NodeView, controls: boolean): string {
  // A leader's timer is its CheckQuorum period; everyone else's is the election timeout.
  const name = n.role === "Leader" ? "CheckQuorum period" : "election timer";
  const timer = n.timer
    ? `<div class="timer" title="${name}: ${n.timer.elapsed} of ${n.timer.timeout} ticks">` +
      `<div style="width:${Math.min(100, (100 * n.timer.elapsed) / n.timer.timeout)}%"></div>` +
      `</div><div class="dim">${name} ${n.timer.elapsed}/${n.timer.timeout}</div>`
    : `<div class="timer"></div><div class="dim">down; its disk is kept</div>`;
  const buttons = !controls
    ? ""
    : (n.role === "Crashed" ? button("restart", n.id, "Restart") : button("crash", n.id, "Crash")) +
      (n.isolated ? "" : button("isolate", n.id, "Isolate"));
  return `<div class="node ${n.role}${n.isolated ? " isolated" : ""}" data-node="${n.id}" ` +
    `data-role="${n.role}" data-term="${n.term}" data-commit="${n.commitIndex}">` +
    `<div><b>S${n.id}</b> <span class="role">${n.role}</span>` +
    `${n.learner ? ' <span class="dim">learner</span>' : ""}` +
    `${n.isolated ? ' <span class="tag">isolated</span>' : ""}</div>` +
    `<div>term <b>${n.term}</b> · voted ${n.votedFor || "–"} · leader ${n.leaderId || "–"}</div>` +
    `<div>commit <b>${n.commitIndex}</b></div>${timer}<div>${buttons}</div></div>`;
}

/**
 * Every node's log in one table, indexes as columns: each cell shows the entry's term and is
 * coloured by it; a thick line follows each node's commit index.
 *
 * @returns HTML.
 */
export function renderLogs(view: ClusterView): string {
  const width = Math.max(view.lastIndex, 8);
  const head = Array.from({ length: width }, (_, i) => `<th>${i + 1}</th>`).join("");
  const rows = view.nodes.map((n) => {
    const cells: string[] = [];
    for (let index = 1; index <= width; index++) cells.push(logCell(n, index));
    return `<tr data-node="${n.id}" class="${n.role}"><th>S${n.id}</th>${cells.join("")}</tr>`;
  });
  return `<table class="logs"><tr><th>index</th>${head}</tr>${rows.join("")}</table>`;
}

function logCell(n: NodeView, index: number): string {
  const edge = index === n.commitIndex ? " commit" : "";
  if (index <= n.snapshotIndex) return `<td class="snap${edge}" title="in the snapshot">▒</td>`;
  const e = n.log[index - n.snapshotIndex - 1];
  if (!e) return `<td class="empty${edge}"></td>`;
  const state = index <= n.commitIndex ? "committed" : "uncommitted";
  const title = `${e.text} (${state})`;
  const kind = e.type === "config" ? " config" : "";
  return `<td class="entry t${e.term % TERM_COLOURS} ${state}${kind}${edge}" title="${
    esc(title)
  }" ` +
    `data-index="${e.index}" data-term="${e.term}">${e.term}</td>`;
}

/**
 * The messages on the wire, oldest first; in free mode each with buttons to deliver, drop or
 * delay it.
 *
 * @returns HTML.
 */
export function renderMessages(
  messages: readonly MessageView[],
  wire: readonly WireMessage[] | undefined,
): string {
  if (messages.length === 0) return `<p class="dim">No messages on the wire.</p>`;
  const held = new Map(wire?.map((w) => [w.id, w.heldUntil]));
  const rows = messages.map((m) => {
    const until = held.get(m.id);
    const buttons = wire
      ? button("deliver", m.id, "Deliver") + button("drop", m.id, "Drop") +
        button("delay", m.id, "Delay")
      : "";
    return `<tr data-message="${m.id}"><td>${m.id}</td><td>${m.from}→${m.to}</td>` +
      `<td class="type">${m.type}</td><td>${m.term}</td><td class="text">${esc(m.text)}</td>` +
      `<td>${until === undefined ? "" : `held until tick ${until}`}</td><td>${buttons}</td></tr>`;
  });
  return `<table class="messages"><tr><th>#</th><th>from→to</th><th>type</th><th>term</th>` +
    `<th>message</th><th></th><th></th></tr>${rows.join("")}</table>`;
}

function button(action: string, target: number, label: string): string {
  return `<button data-action="${action}" data-target="${target}">${label}</button>`;
}
