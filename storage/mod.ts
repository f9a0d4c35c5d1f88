/**
 * Durable Raft storage: what each node persists for each of its partitions before it speaks,
 * and recovers after a crash. Three backends share one contract ({@linkcode RaftStorage}) and
 * one conformance suite:
 *
 * - {@linkcode FileStorage}: the embedded default. A checksummed, segmented write-ahead log
 *   shared by all partitions (one fsync per batch), and atomic snapshot files.
 * - {@linkcode KvStorage}: Deno KV, one atomic commit per batch, crash-safe past its limits.
 * - {@linkcode MemoryStorage}: for tests; can lose unsynced writes on a simulated crash.
 *
 * @example Group commit: two partitions, one fsync
 * ```ts
 * import { FileStorage } from "@prkdb/prkdb/storage";
 * const dir = await Deno.makeTempDir();
 * const storage = await FileStorage.open(dir);
 * const noop = (index: number) => ({ index, term: 1, type: "noop" as const, data: new Uint8Array() });
 * await storage.write([{ partition: 0, entries: [noop(1)] }, { partition: 1, entries: [noop(1), noop(2)] }]);
 * console.log((await storage.load(1)).entries.length); // 2
 * await storage.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
export * from "./raft_storage.ts";
export * from "./errors.ts";
export * from "./crc32.ts";
export * from "./memory_storage.ts";
export * from "./file_storage.ts";
export * from "./kv_storage.ts";
export * from "./high_water.ts";
export * from "./data_dir.ts";
export * from "./data_dir_lock.ts";
export * from "./node_identity.ts";
export * from "./conformance.ts";
