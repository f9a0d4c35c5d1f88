/**
 * PrkDB: a partitioned, replicated key-value database for Deno.
 *
 * Keys hash into partitions; each partition is its own Raft group. This entry point re-exports
 * the building blocks: the Raft core (`@prkdb/prkdb/raft`), partitioning and the key-value state
 * machine (`@prkdb/prkdb/partition`), and telemetry (`@prkdb/prkdb/telemetry`).
 *
 * @example Hash a key to its partition
 * ```ts
 * import { partitionForKey } from "@prkdb/prkdb";
 * const p = partitionForKey(new TextEncoder().encode("user:1"), 8);
 * console.log(p >= 0 && p < 8); // true
 * ```
 *
 * @module
 */
export * from "./raft/mod.ts";
export * from "./partition/mod.ts";
export * from "./telemetry/mod.ts";
