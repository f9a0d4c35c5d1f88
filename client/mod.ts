/**
 * The PrkDB client: connect to any nodes of a cluster, then `put`, `get` (in three read modes)
 * and `delete` with string or byte keys and values.
 *
 * @example Quick start (with `deno task cluster` running)
 * ```ts ignore
 * import { PrkDbClient } from "@prkdb/prkdb/client";
 * const db = await PrkDbClient.connect(["http://127.0.0.1:8081"]);
 * await db.put("hello", "world");
 * console.log(await db.getText("hello")); // "world"
 * ```
 *
 * @module
 */
export * from "./prkdb_client.ts";
