/**
 * Telemetry: where the Raft core's events and status go. The core never imports a metrics
 * library; it emits {@linkcode RaftEvent}s and a runtime hands them to a
 * {@linkcode RaftEventSink}.
 *
 * @example Count elections
 * ```ts
 * import { RaftEventCounter } from "@prkdb/prkdb/telemetry";
 * const counter = new RaftEventCounter();
 * counter.record(0, [{ type: "LeaderChanged", leaderId: 1, term: 1 }]);
 * console.log(counter.snapshot()); // { LeaderChanged: 1 }
 * ```
 *
 * @module
 */
export * from "./event_counter.ts";
export * from "./metric_definitions.ts";
export * from "./prkdb_metrics.ts";
export * from "./exposition.ts";
