/**
 * Operator endpoints over plain HTTP + JSON, for members only (see the access table in
 * `auth.ts`: a path it does not list admits the `node` role alone).
 *
 * `POST /admin/move-leader` with `{"partition": P, "to": N}` hands partition P's leadership to
 * replica N and answers once N leads it: `{"partition": P, "leader": N, "term": T}`. Any node
 * accepts it: the target pins the partition (leader balancing leaves it there), and the current
 * leader starts a Raft leadership transfer.
 *
 * @module
 */
import type { NodeId } from "../raft/types.ts";
import type { MultiRaftHost } from "../runtime/multi_raft_host.ts";
import { FORWARDED_HEADER } from "../rpc/route_headers.ts";

/** The path of the leadership transfer endpoint. */
export const MOVE_LEADER_PATH = "/admin/move-leader";

/** How long a move may take before the endpoint gives up waiting (the transfer may still land). */
const MOVE_WAIT_MS = 5000;

/** What {@linkcode moveLeader} needs from its node. */
export interface AdminDeps {
  /** The node's host. */
  host: MultiRaftHost;
  /** Every member's base URL. */
  nodes: ReadonlyMap<NodeId, string>;
  /** `fetch` to other members (mutual TLS when configured). */
  fetch?: typeof fetch;
}

const answer = (status: number, body: unknown) => Response.json(body, { status });
const refuse = (status: number, error: string) => answer(status, { error });

/**
 * Serves `POST /admin/move-leader`.
 *
 * @param request The HTTP request.
 * @param deps The node.
 * @returns The HTTP response.
 */
export async function moveLeader(request: Request, deps: AdminDeps): Promise<Response> {
  const { host } = deps;
  if (request.method !== "POST") {
    return refuse(405, `${MOVE_LEADER_PATH} takes POST {"partition": P, "to": N}`);
  }
  let body: { partition?: unknown; to?: unknown };
  try {
    body = await request.json();
  } catch {
    return refuse(400, 'The body must be JSON: {"partition": P, "to": N}');
  }
  const { partition, to } = body;
  if (!Number.isInteger(partition) || (partition as number) < 0) {
    return refuse(400, "partition must be a non-negative integer");
  }
  const p = partition as number;
  if (p >= host.map.partitions) {
    return refuse(400, `partition ${p} does not exist; the cluster has ${host.map.partitions}`);
  }
  const replicas = host.replicasOf(p);
  if (!Number.isInteger(to) || !replicas.includes(to as number)) {
    return refuse(
      400,
      `to must be a replica of partition ${p}: one of ${replicas.join(", ")} (got ${
        JSON.stringify(to)
      })`,
    );
  }
  const target = to as NodeId;
  const forwarded = request.headers.get(FORWARDED_HEADER) !== null;
  const self = host.nodeId;
  // Two hops at most: any node to the target (unmarked), the target to the leader (marked, so
  // a node that is not the leader any more refuses instead of passing it on again).
  const relay = async (node: NodeId, mark: boolean): Promise<Response> => {
    const url = deps.nodes.get(node);
    if (!url) return refuse(503, `Node ${node} is not a member`);
    try {
      const r = await (deps.fetch ?? fetch)(`${url}${MOVE_LEADER_PATH}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(mark ? { [FORWARDED_HEADER]: String(self) } : {}),
        },
        body: JSON.stringify({ partition: p, to: target }),
        signal: AbortSignal.timeout(MOVE_WAIT_MS + 1000),
      });
      return answer(r.status, await r.json());
    } catch (error) {
      return refuse(503, `Node ${node} (${url}) is unreachable: ${(error as Error).message}`);
    }
  };
  if (self === target) {
    host.keepLeadership(p);
    if (host.leaderOf(p) === self) return done(host, p);
    const leader = host.leaderOf(p);
    if (leader === 0 || forwarded) {
      return refuse(503, `Partition ${p} has no known leader right now; retry`);
    }
    return await relay(leader, true);
  }
  if (host.isReplica(p) && host.leaderOf(p) === self) {
    host.transferLeadership(p, target);
    const deadline = Date.now() + MOVE_WAIT_MS;
    while (host.leaderOf(p) !== target) {
      if (Date.now() > deadline) {
        return refuse(
          504,
          `Partition ${p}: node ${target} did not take over within ${MOVE_WAIT_MS} ms ` +
            `(leader now ${host.leaderOf(p) || "unknown"}); is it caught up and reachable?`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return done(host, p);
  }
  if (forwarded) return refuse(503, `Partition ${p}: leaders just changed; retry`);
  return await relay(target, false);
}

function done(host: MultiRaftHost, partition: number): Response {
  const raft = host.status().find((s) => s.partition === partition)?.raft;
  return answer(200, { partition, leader: host.leaderOf(partition), term: raft?.term ?? 0 });
}
