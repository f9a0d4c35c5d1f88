/**
 * A telemetry sink that counts Raft events by type: what tests and the simulation use to see
 * what the core did (elections, leader changes, lost quorums) without a metrics backend.
 *
 * @module
 */
import type { RaftEvent } from "../raft/events.ts";

/**
 * Where a runtime sends the events of each Ready.
 *
 * @example Usage
 * ```ts
 * import type { RaftEventSink } from "@prkdb/prkdb/telemetry";
 * const sink: RaftEventSink = { record: (_partition, events) => console.log(events.length) };
 * ```
 */
export interface RaftEventSink {
  /**
   * Records the events one node's core emitted in one Ready.
   *
   * @param partition The Raft group they came from.
   * @param events The events, in order.
   */
  record(partition: number, events: readonly RaftEvent[]): void;
}

/**
 * Counts events by type, across all partitions.
 *
 * @example Usage
 * ```ts
 * import { RaftEventCounter } from "@prkdb/prkdb/telemetry";
 * const counter = new RaftEventCounter();
 * counter.record(0, [{ type: "ElectionStarted", preVote: false, term: 1 }]);
 * console.log(counter.count("ElectionStarted")); // 1
 * ```
 */
export class RaftEventCounter implements RaftEventSink {
  readonly #counts = new Map<RaftEvent["type"], number>();

  /**
   * Counts the events.
   *
   * @param _partition Ignored: counts are cluster-wide.
   * @param events The events.
   */
  record(_partition: number, events: readonly RaftEvent[]): void {
    for (const e of events) this.#counts.set(e.type, (this.#counts.get(e.type) ?? 0) + 1);
  }

  /**
   * How many events of a type were recorded.
   *
   * @param type The event type.
   * @returns The count.
   */
  count(type: RaftEvent["type"]): number {
    return this.#counts.get(type) ?? 0;
  }

  /**
   * Every count, by type.
   *
   * @returns A plain object, stable to print.
   */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#counts].sort(([a], [b]) => a.localeCompare(b)));
  }
}
