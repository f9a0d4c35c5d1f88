/**
 * The PrkDB client: connect to any nodes of a cluster, then `put`, `get` (in three read modes,
 * with versions), `delete`, conditional writes and `atomic()` batches. Keys are strings, bytes
 * or tuples like `["users", 42]`; values are strings or bytes. Writes are applied at most once,
 * even when retried.
 *
 * @example Quick start (with `deno task cluster` running)
 * ```ts ignore
 * import { PrkDbClient } from "@prkdb/prkdb/client";
 * const db = await PrkDbClient.connect(["http://127.0.0.1:8081"]);
 * const { version } = await db.put("hello", "world");
 * console.log(await db.getText("hello")); // "world"
 * // Compare-and-set: only if nobody wrote "hello" since.
 * const r = await db.put("hello", "again", { ifVersion: version });
 * console.log(r.ok); // true
 * ```
 *
 * @module
 */
export * from "./prkdb_client.ts";
export * from "./types.ts";
export * from "./errors.ts";
export * from "./atomic_operation.ts";
export * from "./client_sessions.ts";
export * from "./list_iterator.ts";
export * from "./watch_stream.ts";
export * from "./keys.ts";
export * from "../partition/key_codec.ts";
export * from "../rpc/route_headers.ts";
