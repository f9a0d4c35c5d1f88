/**
 * Partitioning and the key-value state machine: a stable hash picks each key's partition, and
 * every partition's Raft log carries {@linkcode KvCommand}s that {@linkcode KvStateMachine}
 * applies: versioned values, conditional and atomic writes, and client sessions that apply
 * each write at most once. The runtime that drives it lives in `@prkdb/prkdb/runtime`.
 *
 * @example Route and apply a write
 * ```ts
 * import { encodeCommand, KvStateMachine, partitionForKey } from "@prkdb/prkdb/partition";
 * const key = new TextEncoder().encode("user:1");
 * const partition = partitionForKey(key, 4);
 * const sm = new KvStateMachine();
 * sm.apply({ index: 1, term: 1, type: "normal",
 *   data: encodeCommand({
 *   op: "write", time: 0, checks: [], mutations: [{ type: "set", key, value: new Uint8Array([1]) }],
 * }) });
 * console.log(partition < 4, sm.size); // true 1
 * ```
 *
 * @module
 */
export * from "./hash.ts";
export * from "./key_codec.ts";
export * from "./command.ts";
export * from "./kv_state_machine.ts";
export * from "./compaction.ts";
export * from "./placement.ts";
export * from "./errors.ts";
export * from "./transport.ts";
export * from "./read_mode.ts";
export * from "./sessions.ts";
export * from "./version.ts";

// The runtime moved to `@prkdb/prkdb/runtime`. These re-exports keep imports from this entry
// point working for one more version.
export {
  type FollowerReplication,
  type HostObserver,
  type HostOptions,
  MultiRaftHost,
  type PartitionStatus,
} from "../runtime/mod.ts";
export * from "./sorted_keys.ts";
