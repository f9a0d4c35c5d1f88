/**
 * `POST /admin/membership`: changes one partition group's membership by one server, for
 * members only (like `/admin/move-leader`, see `auth.ts`).
 *
 * The body is `{"partition": P, "change": "add-learner" | "promote" | "remove", "node": N}`.
 * Any node accepts it and passes it to the partition's leader (the one it follows, else the
 * one the other nodes' `/health` reports), which appends the change and answers once it is
 * applied: `{"partition", "index", "voters", "learners"}`. Answers:
 *
 * - `409` when the change makes no sense (already a member, not a learner, the last voter);
 * - `503` when it has to wait (a change in flight, a learner still catching up, no leader):
 *   retry;
 * - `504` when it did not finish in time (it may still be applied).
 *
 * @module
 */
import { MembershipChangeError } from "../raft/errors.ts";
import type { MembershipChange } from "../raft/membership.ts";
import type { NodeId } from "../raft/types.ts";
import { TimeoutError, UnavailableError, WrongNodeError } from "../partition/errors.ts";
import type { AdminDeps } from "./admin_http.ts";
import type { NodeHealthJson } from "./health.ts";
import { FORWARDED_HEADER } from "../rpc/route_headers.ts";

/** The path of the membership change endpoint. */
export const MEMBERSHIP_PATH = "/admin/membership";

const CHANGES: Record<string, MembershipChange["type"]> = {
  "add-learner": "addLearner",
  promote: "promote",
  remove: "remove",
};

const answer = (status: number, body: unknown) => Response.json(body, { status });
const refuse = (status: number, error: string) => answer(status, { error });

/**
 * Serves `POST /admin/membership`.
 *
 * @param request The HTTP request.
 * @param deps The node.
 * @returns The HTTP response.
 *
 * @example Usage
 * ```ts ignore
 * if (path === MEMBERSHIP_PATH) return changeMembership(request, { host, nodes });
 * ```
 */
export async function changeMembership(request: Request, deps: AdminDeps): Promise<Response> {
  const { host } = deps;
  const usage = 'POST {"partition": P, "change": "add-learner" | "promote" | "remove", "node": N}';
  if (request.method !== "POST") return refuse(405, `${MEMBERSHIP_PATH} takes ${usage}`);
  let body: { partition?: unknown; change?: unknown; node?: unknown };
  try {
    body = await request.json();
  } catch {
    return refuse(400, `The body must be JSON: ${usage}`);
  }
  const { partition, change, node } = body;
  if (!Number.isInteger(partition) || (partition as number) < 0) {
    return refuse(400, "partition must be a non-negative integer");
  }
  const p = partition as number;
  if (p >= host.map.partitions) {
    return refuse(400, `partition ${p} does not exist; the cluster has ${host.map.partitions}`);
  }
  const type = typeof change === "string" ? CHANGES[change] : undefined;
  if (!type) {
    return refuse(
      400,
      `change must be add-learner, promote or remove (got ${JSON.stringify(change)})`,
    );
  }
  // Removing may name a node the address book no longer has: the repair for a group that still
  // lists a node that left.
  if (
    !Number.isInteger(node) || (node as number) <= 0 ||
    (type !== "remove" && !host.members().includes(node as number))
  ) {
    return refuse(
      400,
      `node must be a member of the cluster: one of ${host.members().join(", ")} (got ${
        JSON.stringify(node)
      })`,
    );
  }
  const forwarded = request.headers.get(FORWARDED_HEADER) !== null;
  if (host.isReplica(p) && host.leaderOf(p) === host.nodeId) {
    try {
      const index = await host.changeMembership(p, { type, node: node as NodeId });
      const membership = host.status().find((s) => s.partition === p)!.raft.membership;
      return answer(200, { partition: p, index, ...membership });
    } catch (error) {
      if (error instanceof MembershipChangeError) return refuse(409, error.message);
      if (error instanceof TimeoutError) return refuse(504, error.message);
      if (error instanceof UnavailableError || error instanceof WrongNodeError) {
        return refuse(503, error.message);
      }
      throw error;
    }
  }
  if (forwarded) return refuse(503, `Partition ${p}: leaders just changed; retry`);
  // One hop: to the leader this node follows, else the one the other nodes report.
  const leader = host.leaderOf(p) || await findLeader(deps, p, request.signal);
  const url = deps.nodes.get(leader);
  if (!url) return refuse(503, `Partition ${p} has no known leader right now; retry`);
  try {
    const r = await (deps.fetch ?? fetch)(`${url}${MEMBERSHIP_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", [FORWARDED_HEADER]: String(host.nodeId) },
      body: JSON.stringify({ partition: p, change, node }),
      signal: request.signal,
    });
    return answer(r.status, await r.json());
  } catch (error) {
    return refuse(503, `Node ${leader} (${url}) is unreachable: ${(error as Error).message}`);
  }
}

/**
 * Asks every other node's `/health` for the partition's leader (replicas report the leader
 * they follow) and keeps the answer with the highest term; 0 when nobody knows one.
 */
export async function findLeader(
  deps: Pick<AdminDeps, "host" | "nodes" | "fetch">,
  partition: number,
  signal: AbortSignal,
): Promise<NodeId> {
  const answers = await Promise.all(
    [...deps.nodes].filter(([id]) => id !== deps.host.nodeId).map(async ([, url]) => {
      try {
        const r = await (deps.fetch ?? fetch)(`${url}/health`, {
          signal: AbortSignal.any([signal, AbortSignal.timeout(1000)]),
        });
        const health = await r.json() as NodeHealthJson;
        return health.partitions.find((x) => x.partition === partition && x.leader !== 0);
      } catch {
        return undefined;
      }
    }),
  );
  let best: { leader: number; term: number } | undefined;
  for (const a of answers) if (a && (!best || a.term > best.term)) best = a;
  return best?.leader ?? 0;
}
