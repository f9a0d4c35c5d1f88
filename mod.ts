/**
 * PrkDB: a partitioned, replicated key-value database for Deno. This entry point is the client,
 * which is what most applications need; it loads no server, storage or telemetry code.
 *
 * Everything else has its own entry point:
 * `@prkdb/prkdb/server` (run nodes from code), `@prkdb/prkdb/cli` (the command line:
 * `deno run -A jsr:@prkdb/prkdb/cli cluster`), `@prkdb/prkdb/raft` (the Raft core),
 * `@prkdb/prkdb/partition` (placement, commands, the state machine), `@prkdb/prkdb/runtime`,
 * `@prkdb/prkdb/storage`, `@prkdb/prkdb/telemetry` (OpenTelemetry metrics) and
 * `@prkdb/prkdb/async-replicas`.
 *
 * @example Connect, write, read (with `deno task cluster --insecure` running)
 * ```ts ignore
 * import { PrkDbClient } from "@prkdb/prkdb";
 * const db = await PrkDbClient.connect(["http://127.0.0.1:8081"]);
 * await db.put(["users", 42], JSON.stringify({ name: "Ada" }));
 * console.log(await db.getText(["users", 42]));
 * db.close();
 * ```
 *
 * @example Tuple keys sort like their parts
 * ```ts
 * import { encodeKey, encodeKeyPrefix } from "@prkdb/prkdb";
 * const key = encodeKey(["users", 42]);
 * const prefix = encodeKeyPrefix(["users"]);
 * console.log(prefix.every((b, i) => key[i] === b)); // true
 * ```
 *
 * @module
 */
export * from "./client/mod.ts";
