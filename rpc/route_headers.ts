/**
 * The HTTP headers by which nodes and clients tell each other where a partition's requests
 * belong. A node that cannot serve a request itself passes it on to the partition's leader once,
 * marking it so that it is never passed on twice, and names that leader in its answer so that a
 * client can send the partition's next requests straight there.
 *
 * @module
 */

/**
 * Request header marking a call a node already passed on (its value: that node's id). A node
 * never passes such a call on again: it answers `unavailable` instead, so that a call cannot
 * circle between nodes whose views of the leaders disagree.
 *
 * @example Usage
 * ```ts
 * import { FORWARDED_HEADER } from "@prkdb/prkdb/client";
 * console.log(FORWARDED_HEADER); // "prkdb-forwarded"
 * ```
 */
export const FORWARDED_HEADER = "prkdb-forwarded";

/**
 * Response header naming, by node id, the leader a node passed a call on to: the partition's
 * leader as that node saw it. `PrkDbClient` reads it and routes the partition's next calls
 * there, so a client whose view of the leaders went stale (after a failover or a leadership
 * transfer) stops paying for the extra hop after one call.
 *
 * @example Usage
 * ```ts
 * import { LEADER_HEADER } from "@prkdb/prkdb/client";
 * const headers = new Headers({ [LEADER_HEADER]: "2" });
 * console.log(Number(headers.get(LEADER_HEADER))); // 2
 * ```
 */
export const LEADER_HEADER = "prkdb-leader";
