/**
 * The cluster as a ring, in the style of RaftScope: one circle per node, coloured by role, with
 * its election timer as an arc around it, and one dot per message on the wire, on the line from
 * its sender to its recipient. An SVG string built from a {@linkcode ClusterView}.
 *
 * @example A three-node ring has three nodes and no messages
 * ```ts
 * import { InteractionEnv } from "../interaction/mod.ts";
 * import { renderRing } from "./ring.ts";
 * import { viewOf } from "./view.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const env = new InteractionEnv();
 * env.addNodes(3);
 * const svg = renderRing(viewOf(env));
 * assertEquals(svg.match(/<g class="ring-node/g)?.length, 3);
 * assertEquals(svg.includes('class="msg'), false);
 * ```
 *
 * @module
 */
import { esc } from "./render.ts";
import type { ClusterView, MessageView, NodeView } from "./view.ts";

const SIZE = 280;
const CENTRE = SIZE / 2;
const ORBIT = 100;
const RADIUS = 24;

type Point = { x: number; y: number };

/** Where node number `i` of `n` sits: evenly around the circle, the first at the top. */
function position(i: number, n: number): Point {
  const angle = -Math.PI / 2 + (2 * Math.PI * i) / n;
  return { x: CENTRE + ORBIT * Math.cos(angle), y: CENTRE + ORBIT * Math.sin(angle) };
}

/**
 * Draws the ring.
 *
 * @returns An `<svg>` element as HTML.
 */
export function renderRing(view: ClusterView): string {
  const at = new Map(view.nodes.map((n, i) => [n.id, position(i, view.nodes.length)]));
  // Messages between the same two nodes queue up along their line, oldest nearest the recipient.
  const queued = new Map<string, number>();
  const messages = view.messages.map((m) => {
    const key = `${m.from}>${m.to}`;
    const k = queued.get(key) ?? 0;
    queued.set(key, k + 1);
    return messageOnWire(m, at.get(m.from)!, at.get(m.to)!, k);
  });
  // Lines under the nodes, dots over them.
  return `<svg class="ring" viewBox="0 0 ${SIZE} ${SIZE}" width="${SIZE}" height="${SIZE}">` +
    messages.map((m) => m.line).join("") +
    view.nodes.map((n) => nodeCircle(n, at.get(n.id)!)).join("") +
    messages.map((m) => m.dot).join("") + `</svg>`;
}

function nodeCircle(n: NodeView, p: Point): string {
  const classes = `ring-node ${n.role}${n.isolated ? " isolated" : ""}`;
  let arc = "";
  if (n.timer) {
    // The timer arc: the share of the timeout already elapsed, clockwise from the top.
    const r = RADIUS + 5;
    const length = 2 * Math.PI * r;
    const done = Math.min(1, n.timer.elapsed / n.timer.timeout) * length;
    arc = `<circle class="timer-arc" cx="${p.x}" cy="${p.y}" r="${r}" ` +
      `stroke-dasharray="${done.toFixed(1)} ${length.toFixed(1)}" ` +
      `transform="rotate(-90 ${p.x} ${p.y})"/>`;
  }
  return `<g class="${classes}" data-node="${n.id}">${arc}` +
    `<circle class="body" cx="${p.x}" cy="${p.y}" r="${RADIUS}"/>` +
    `<text x="${p.x}" y="${p.y - 3}">S${n.id}</text>` +
    `<text class="small" x="${p.x}" y="${p.y + 11}">t${n.term}</text></g>`;
}

function messageOnWire(
  m: MessageView,
  from: Point,
  to: Point,
  k: number,
): { line: string; dot: string } {
  // Lines of the two directions sit side by side rather than on top of each other.
  const dx = to.x - from.x;
  const dy = to.y - from.y;
  const length = Math.hypot(dx, dy);
  const nx = (-dy / length) * 4;
  const ny = (dx / length) * 4;
  const share = Math.max(0.25, 0.72 - 0.09 * k);
  const x = from.x + nx + dx * share;
  const y = from.y + ny + dy * share;
  const kind = m.type.endsWith("Response") ? "msg response" : "msg";
  const line = `<line class="wire" x1="${(from.x + nx).toFixed(1)}" ` +
    `y1="${(from.y + ny).toFixed(1)}" x2="${(to.x + nx).toFixed(1)}" y2="${
      (to.y + ny).toFixed(1)
    }"/>`;
  const dot = `<circle class="${kind} ${m.type}" cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" ` +
    `r="5" data-message="${m.id}"><title>#${m.id} ${esc(m.text)}</title></circle>`;
  return { line, dot };
}
