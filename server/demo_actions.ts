/**
 * Demo actions for the cluster view, served only when a node runs with `--demo-actions` (off by
 * default): `POST /demo/transfer-leader` with `{"partition": p, "to": id}` asks the partition's
 * leader to hand leadership to `to`. A node that does not lead the partition passes the request
 * to the leader it knows. Writing a key needs no demo route: the page uses the ordinary
 * `KvService/Put` (Connect JSON), which any node accepts.
 *
 * @module
 */
import type { MultiRaftHost } from "../runtime/multi_raft_host.ts";

/** The path of the leadership transfer action. */
export const TRANSFER_LEADER_PATH = "/demo/transfer-leader";

const reply = (status: number, body: Record<string, unknown>) => Response.json(body, { status });

/**
 * Handles `POST /demo/transfer-leader`.
 *
 * @param request The request: `{"partition": p, "to": id}`.
 * @param host This node's host.
 * @param nodes Every member's base URL, to pass the request to the leader.
 * @param get How to reach another member (mutual TLS when configured).
 * @returns `{"started": true, "leader": id}` from the leader, or an error with a reason.
 */
export async function transferLeader(
  request: Request,
  host: MultiRaftHost,
  nodes: ReadonlyMap<number, string>,
  get: typeof fetch = fetch,
): Promise<Response> {
  if (request.method !== "POST") return reply(405, { error: "Use POST" });
  let body: { partition?: unknown; to?: unknown };
  try {
    body = await request.json();
  } catch {
    return reply(400, { error: 'The body must be JSON: {"partition": 0, "to": 2}' });
  }
  const { partition, to } = body;
  if (!Number.isInteger(partition) || !Number.isInteger(to)) {
    return reply(400, { error: 'The body must be JSON: {"partition": 0, "to": 2}' });
  }
  const p = partition as number, target = to as number;
  if (p < 0 || p >= host.map.partitions) {
    return reply(400, { error: `No partition ${p}: there are ${host.map.partitions}` });
  }
  const replicas = host.replicasOf(p);
  if (!replicas.includes(target)) {
    return reply(400, {
      error: `Node ${target} is not a replica of partition ${p}; its replicas are ${
        replicas.join(", ")
      }`,
    });
  }
  if (target === host.nodeId && host.leaderOf(p) === target) {
    return reply(200, { started: false, leader: host.nodeId, detail: "it already leads" });
  }
  if (host.transferLeadership(p, target)) {
    return reply(200, { started: true, leader: host.nodeId });
  }
  // Pass it on once, to the leader this node knows (a forwarded request is not forwarded again).
  const leader = host.leaderOf(p);
  const url = nodes.get(leader);
  if (!url || request.headers.has("prkdb-demo-forwarded")) {
    return reply(503, { error: `Node ${host.nodeId} does not know partition ${p}'s leader` });
  }
  try {
    const response = await get(`${url}${TRANSFER_LEADER_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", "prkdb-demo-forwarded": "1" },
      body: JSON.stringify({ partition: p, to: target }),
      signal: AbortSignal.timeout(2000),
    });
    return reply(response.status, await response.json());
  } catch (error) {
    return reply(502, { error: `Node ${leader} did not answer: ${(error as Error).message}` });
  }
}
