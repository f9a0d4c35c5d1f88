/**
 * A simulated watcher: it follows partition 0's changes at one node, moves to another node
 * when that one crashes or pauses, and resumes from the last position it saw. At the end the
 * simulation checks what it saw against what clients were told: every acknowledged put once,
 * nothing twice, in log order.
 *
 * @module
 */
import type { Change } from "../../partition/kv_state_machine.ts";
import type { SimNode } from "./sim_node.ts";

const td = new TextDecoder();

/** What a watcher saw. */
export interface WatcherReport {
  /** Changes seen, in the order seen. */
  readonly seen: readonly { index: number; type: string; key: string; value: string | null }[];
  /** Times the watcher found its history compacted away and had to start over. */
  readonly restarts: number;
  /** Index ranges it could not follow (after a restart): checks skip writes applied there. */
  readonly gaps: readonly [from: number, to: number][];
}

/** Follows partition 0 across nodes. */
export class SimWatcher {
  #node: number | undefined;
  #position = 0;
  readonly #seen: { index: number; type: string; key: string; value: string | null }[] = [];
  readonly #gaps: [number, number][] = [];
  #restarts = 0;

  /** One step: read what the current node has applied since the last position. */
  step(nodes: readonly number[], node: (id: number) => SimNode | undefined, now: number): void {
    // A node removed from the group serves no changes: like a stopped one, move on.
    const serving = (n: SimNode | undefined): n is SimNode =>
      n !== undefined && n.running(now) && n.host.isReplica(0);
    let current = this.#node === undefined ? undefined : node(this.#node);
    if (!serving(current)) {
      // Move to a node that serves (the first one, for determinism).
      this.#node = nodes.find((id) => serving(node(id)));
      current = this.#node === undefined ? undefined : node(this.#node);
    }
    if (!current) return;
    const host = current.host;
    for (let pages = 0; pages < 8; pages++) {
      const page = host.changes(0, this.#position, 64);
      if (page.kind === "compacted") {
        // The history it needs is gone here: start over from this node's state.
        const applied = host.status()[0].applied;
        this.#gaps.push([this.#position + 1, applied]);
        this.#position = applied;
        this.#restarts++;
        return;
      }
      if (page.through <= this.#position) return;
      for (const c of page.changes) this.#record(c);
      this.#position = page.through;
    }
  }

  #record(c: Change): void {
    this.#seen.push({
      index: c.index,
      type: c.type,
      key: td.decode(c.key),
      value: c.value ? td.decode(c.value) : null,
    });
  }

  /** What it saw. */
  report(): WatcherReport {
    return { seen: [...this.#seen], restarts: this.#restarts, gaps: [...this.#gaps] };
  }
}

/**
 * Checks a watch against acknowledged writes: indexes never go back, no put value twice, and
 * every acknowledged put applied outside a gap was seen.
 *
 * @returns A description of the first problem, or `undefined`.
 */
export function checkWatch(
  report: WatcherReport,
  acknowledged: readonly { key: string; value: string; index: number }[],
): string | undefined {
  let last = 0;
  const values = new Set<string>();
  for (const s of report.seen) {
    if (s.index < last) return `watch went back from index ${last} to ${s.index}`;
    last = s.index;
    if (s.type === "put" && s.value !== null) {
      if (values.has(s.value)) return `watch delivered ${s.key}=${s.value} twice`;
      values.add(s.value);
    }
  }
  const inGap = (i: number) => report.gaps.some(([a, b]) => i >= a && i <= b);
  for (const a of acknowledged) {
    if (a.index > last || inGap(a.index)) continue; // not reached yet, or not followable
    if (!values.has(a.value)) return `watch missed acknowledged ${a.key}=${a.value} at ${a.index}`;
  }
  return undefined;
}
