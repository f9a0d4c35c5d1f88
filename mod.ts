/**
 * PrkDB: a partitioned, replicated key-value database for Deno.
 *
 * Most applications need only the client: `PrkDbClient.connect([...urls])`, then `put`, `get`
 * and `delete`. Run a cluster with `deno run -A jsr:@prkdb/prkdb/cli cluster`. Entry points:
 * `/client`, `/server` (run nodes from code), `/replication` (leader-follower replicas),
 * `/raft`, `/partition`, `/storage`, `/telemetry`, `/cli`.
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
export {
  type CallOptions,
  type ClientOptions,
  type ClusterInfo,
  PrkDbClient,
  PrkDbError,
  type ReadMode as ClientReadMode,
} from "./client/mod.ts";
