/**
 * `GET /admin/partition-snapshot?partition=P`: a consistent copy of one partition's state, for
 * backups (`cli.ts snapshot save`). A replica answers after a ReadIndex round, at one applied
 * index: `{"partition": P, "index": I, "state": "<base64 of the state machine's snapshot>"}`.
 * A node that does not replicate the partition passes the request to its leader. Readers may
 * call it (it shows the same data a list does).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { UnavailableError } from "../partition/errors.ts";
import type { MultiRaftHost } from "../runtime/multi_raft_host.ts";
import { findLeader } from "./admin_membership.ts";
import { FORWARDED_HEADER } from "../rpc/route_headers.ts";

/** The path of the partition snapshot endpoint. */
export const PARTITION_SNAPSHOT_PATH = "/admin/partition-snapshot";

/**
 * Serves `GET /admin/partition-snapshot`.
 *
 * @param request The HTTP request.
 * @param deps The node's host, every member's URL, and `fetch` to other members.
 * @returns The HTTP response.
 *
 * @example Usage
 * ```ts ignore
 * if (path === PARTITION_SNAPSHOT_PATH) return partitionSnapshot(request, { host, nodes });
 * ```
 */
export async function partitionSnapshot(
  request: Request,
  deps: { host: MultiRaftHost; nodes: ReadonlyMap<number, string>; fetch?: typeof fetch },
): Promise<Response> {
  const { host } = deps;
  if (request.method !== "GET") return Response.json({ error: "Use GET" }, { status: 405 });
  const p = Number(new URL(request.url).searchParams.get("partition"));
  if (!Number.isInteger(p) || p < 0 || p >= host.map.partitions) {
    return Response.json(
      { error: `partition must be 0 to ${host.map.partitions - 1}` },
      { status: 400 },
    );
  }
  if (host.isReplica(p)) {
    try {
      const { index, state } = await host.consistentSnapshot(p, request.signal);
      return Response.json({
        partition: p,
        index,
        state: Buffer.from(state.buffer, state.byteOffset, state.byteLength).toString("base64"),
      });
    } catch (error) {
      if (error instanceof UnavailableError) {
        return Response.json({ error: error.message }, { status: 503 });
      }
      throw error;
    }
  }
  if (request.headers.get(FORWARDED_HEADER) !== null) {
    return Response.json({ error: `Partition ${p}: replicas moved; retry` }, { status: 503 });
  }
  const leader = await findLeader(deps, p, request.signal);
  const url = deps.nodes.get(leader);
  if (!url) {
    return Response.json({ error: `Partition ${p} has no known leader; retry` }, { status: 503 });
  }
  const r = await (deps.fetch ?? fetch)(`${url}${PARTITION_SNAPSHOT_PATH}?partition=${p}`, {
    headers: { [FORWARDED_HEADER]: String(host.nodeId) },
    signal: request.signal,
  });
  return new Response(r.body, { status: r.status, headers: r.headers });
}
