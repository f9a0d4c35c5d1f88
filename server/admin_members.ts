/**
 * `/admin/members`: the cluster's address book (see `member_table.ts`), for members only.
 *
 * - `GET` answers this node's copy of the table.
 * - `POST {"id": N, "address": "host:port"}` adds a node (a new node calls it on the node it
 *   joins through); `POST {"id": N, "remove": true}` removes one that holds no replica any more
 *   (503 while a replica here still lists it).
 *   The node changes its copy, answers the table, and pushes it to every other member.
 * - `POST {"merge": table}` merges another member's copy (the push above); nothing is passed on.
 *
 * Nodes also pull each other's copies every few seconds, so a node that missed a push catches
 * up.
 *
 * @module
 */
import type { MultiRaftHost } from "../runtime/multi_raft_host.ts";
import { members } from "../raft/membership.ts";
import { isMemberAddress, type MemberTable, type MemberTableJson } from "./member_table.ts";

/** The path of the address book. */
export const MEMBERS_PATH = "/admin/members";

/** What the endpoint needs from its node. */
export interface MembersDeps {
  /** The node's host (to refuse removing a node that still holds replicas here). */
  host: MultiRaftHost;
  /** This node's copy of the table. */
  table: MemberTable;
  /** Every member's base URL (kept in step with the table). */
  nodes: ReadonlyMap<number, string>;
  /** `fetch` to other members (mutual TLS when configured). */
  fetch?: typeof fetch;
}

const answer = (status: number, body: unknown) => Response.json(body, { status });

/**
 * Serves `/admin/members`.
 *
 * @param request The HTTP request.
 * @param deps The node.
 * @returns The HTTP response.
 *
 * @example Usage
 * ```ts ignore
 * if (path === MEMBERS_PATH) return serveMembers(request, { host, table, nodes });
 * ```
 */
export async function serveMembers(request: Request, deps: MembersDeps): Promise<Response> {
  const { table, host } = deps;
  if (request.method === "GET") return answer(200, table.json);
  if (request.method !== "POST") return answer(405, { error: "Use GET or POST" });
  let body: { id?: unknown; address?: unknown; remove?: unknown; merge?: unknown };
  try {
    body = await request.json();
  } catch {
    return answer(400, { error: 'The body must be JSON: {"id": 4, "address": "host:port"}' });
  }
  if (body.merge !== undefined) {
    try {
      await table.merge(body.merge as MemberTableJson);
      return answer(200, table.json);
    } catch (error) {
      return answer(409, { error: (error as Error).message });
    }
  }
  const id = body.id;
  if (!Number.isSafeInteger(id) || (id as number) <= 0) {
    return answer(400, { error: "id must be a positive integer" });
  }
  const old = table.json.members[id as number];
  if (body.remove === true) {
    if (id === host.nodeId) return answer(409, { error: "a node cannot remove itself" });
    // As far as this node's replicas know: one that lags may still list it, so this is "not
    // yet" (503) rather than "no".
    const holding = host.status().filter((s) =>
      host.isReplica(s.partition) && members(s.raft.membership).includes(id as number)
    ).map((s) => s.partition);
    if (holding.length > 0) {
      return answer(503, {
        error: `node ${id} still holds replicas of partitions ${holding.join(", ")}; move them ` +
          `first (cli.ts member remove ${id} does)`,
      });
    }
    await table.remove(id as number);
  } else {
    const address = body.address;
    if (!isMemberAddress(address)) {
      return answer(400, { error: 'address must be "host:port"' });
    }
    if (old?.removed) {
      return answer(409, { error: `node ${id} was removed from this cluster; ids are not reused` });
    }
    // A node id is used once. A node that joins under an id the cluster knows would start with
    // no memory of that id's votes and log, and could vote away acknowledged writes.
    if (old || table.json.placement.includes(id as number)) {
      return answer(409, {
        error: `node ${id} is already a member of this cluster; a node that lost its data ` +
          `joins under a new id (and cli.ts member remove ${id} moves the old one's replicas)`,
      });
    }
    await table.add(id as number, address);
  }
  await pushTable(deps);
  return answer(200, table.json);
}

/** Pushes this node's table to every other member, without waiting for the slow ones long. */
export async function pushTable(deps: Pick<MembersDeps, "table" | "nodes" | "fetch" | "host">) {
  await Promise.all(
    [...deps.nodes].filter(([id]) => id !== deps.host.nodeId).map(async ([, url]) => {
      try {
        await (deps.fetch ?? fetch)(`${url}${MEMBERS_PATH}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ merge: deps.table.json }),
          signal: AbortSignal.timeout(2000),
        }).then((r) => r.body?.cancel());
      } catch {
        // It catches up by pulling.
      }
    }),
  );
}

/**
 * Pulls every other member's table and merges it: how a node that missed a push catches up.
 *
 * @param deps The node.
 */
export async function pullTables(
  deps: Pick<MembersDeps, "table" | "nodes" | "fetch" | "host">,
): Promise<void> {
  await Promise.all(
    [...deps.nodes].filter(([id]) => id !== deps.host.nodeId).map(async ([, url]) => {
      try {
        const r = await (deps.fetch ?? fetch)(`${url}${MEMBERS_PATH}`, {
          signal: AbortSignal.timeout(2000),
        });
        if (r.ok) await deps.table.merge(await r.json());
        else await r.body?.cancel();
      } catch {
        // Unreachable now: next time.
      }
    }),
  );
}
