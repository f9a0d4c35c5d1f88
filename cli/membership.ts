/**
 * Operator commands that change where partitions live, one Raft membership change at a time
 * (thesis section 4.1): `member list`, `member add`, `member remove` and
 * `replica add|remove|move`. A replica is added as a learner, promoted once it has caught up,
 * and only then is an old one removed, so every group keeps its majority and the cluster stays
 * writable throughout.
 *
 * They talk to the nodes over `/status.json` and `/admin/membership` (members only: with TLS,
 * present a node certificate).
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a command-line program: printing is its job
import { printTable } from "./table.ts";
import { adminRequest, AdminRequestError } from "./admin_request.ts";
import type { ClusterStatusJson } from "../server/status_document.ts";
import { type Connection, type httpFor, UsageError } from "./connection.ts";

/** One partition's group as the cluster reports it. */
export interface GroupView {
  /** The partition. */
  partition: number;
  /** Its voters. */
  voters: number[];
  /** Its learners. */
  learners: number[];
  /** Its leader, 0 when none is known. */
  leader: number;
}

/** The cluster as the operator commands see it. */
export interface ClusterView {
  /** How many partitions the cluster has (some may be missing from `groups`: nobody answered). */
  partitions: number;
  /** Every node, and whether it answered. */
  nodes: { id: number; reachable: boolean }[];
  /** Every partition's group. */
  groups: GroupView[];
}

type Http = ReturnType<typeof httpFor>;

/**
 * Reads every partition's group from the first endpoint that serves `/status.json`: for each
 * partition, the view of the replica with the highest term (the leader's, when one is known).
 *
 * @param c The connection.
 * @param http Its HTTP client.
 * @returns The cluster.
 */
export async function readCluster(c: Connection, http: Http): Promise<ClusterView> {
  let last = "";
  for (const url of c.endpoints) {
    let doc: ClusterStatusJson;
    try {
      const r = await http.fetch(`${url}/status.json`, {
        signal: AbortSignal.timeout(c.timeoutMs),
      });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      doc = await r.json();
    } catch (error) {
      last = `${url}: ${(error as Error).message}`;
      continue;
    }
    const best = new Map<number, { term: number; group: GroupView }>();
    for (const node of doc.nodes) {
      for (const r of node.status?.replicas ?? []) {
        const known = best.get(r.partition);
        const isLeader = r.role === "Leader";
        if (known && (known.term > r.term || (known.term === r.term && !isLeader))) continue;
        best.set(r.partition, {
          term: r.term,
          group: {
            partition: r.partition,
            voters: r.voters,
            learners: r.learners,
            leader: r.leader,
          },
        });
      }
    }
    return {
      partitions: doc.partitions,
      nodes: doc.nodes.map((n) => ({ id: n.id, reachable: n.reachable })),
      groups: [...best.values()].map((b) => b.group).sort((a, b) => a.partition - b.partition),
    };
  }
  throw new Error(`no endpoint served /status.json (${last})`);
}

/**
 * Asks the cluster for one membership change and waits until it is applied, retrying while
 * the leader says to wait (a change in flight, a learner catching up, an election), with a line
 * of progress each time. Gives up after `deadlineMs`.
 *
 * @param c The connection.
 * @param http Its HTTP client.
 * @param partition The partition.
 * @param change `add-learner`, `promote` or `remove`.
 * @param node The node it concerns.
 * @param deadlineMs How long to keep retrying.
 * @returns The group's voters and learners afterwards.
 * @throws {Error} When the change is refused or does not happen in time.
 */
export async function changeGroup(
  c: Connection,
  http: Http,
  partition: number,
  change: "add-learner" | "promote" | "remove",
  node: number,
  deadlineMs = 60_000,
): Promise<{ voters: number[]; learners: number[] }> {
  try {
    const body = await adminRequest(c, http, {
      path: "/admin/membership",
      body: { partition, change, node },
      slackMs: 5000,
      deadlineMs,
      retryOn: [503, 504],
      onWait: (reason) => console.log(`  waiting: ${reason}`),
    });
    return { voters: body.voters as number[], learners: body.learners as number[] };
  } catch (error) {
    if (!(error instanceof AdminRequestError && error.timedOut)) throw error;
    throw new Error(
      `partition ${partition}: ${change} ${node} did not happen in time: ${
        (error as Error).message
      }`,
    );
  }
}

/**
 * Adds `node` to a partition's group: as a learner, then promoted once it has caught up.
 *
 * @param c The connection.
 * @param http Its HTTP client.
 * @param partition The partition.
 * @param node The node to add.
 */
export async function addReplica(
  c: Connection,
  http: Http,
  partition: number,
  node: number,
): Promise<void> {
  console.log(`Partition ${partition}: node ${node} joins as a learner...`);
  try {
    await changeGroup(c, http, partition, "add-learner", node);
  } catch (error) {
    // A move that stopped halfway left it a learner (or it already votes): finish the job.
    if (!/already a member/.test((error as Error).message)) throw error;
    console.log(`Partition ${partition}: node ${node} is already in the group`);
  }
  console.log(`Partition ${partition}: node ${node} catches up, then votes...`);
  try {
    const after = await changeGroup(c, http, partition, "promote", node);
    console.log(`Partition ${partition}: voters ${after.voters.join(", ")}`);
  } catch (error) {
    if (!/already a voter/.test((error as Error).message)) throw error;
    console.log(`Partition ${partition}: node ${node} already votes`);
  }
}

/**
 * Removes `node` from a partition's group.
 *
 * @param c The connection.
 * @param http Its HTTP client.
 * @param partition The partition.
 * @param node The node to remove.
 */
export async function removeReplica(
  c: Connection,
  http: Http,
  partition: number,
  node: number,
): Promise<void> {
  try {
    const after = await changeGroup(c, http, partition, "remove", node);
    console.log(
      `Partition ${partition}: node ${node} removed; voters ${after.voters.join(", ")}`,
    );
  } catch (error) {
    // A retried removal whose first attempt was applied after all.
    if (!/is not a member/.test((error as Error).message)) throw error;
    console.log(`Partition ${partition}: node ${node} is not in the group (any more)`);
  }
}

/**
 * Moves a partition's replica: adds the new one first, then removes the old one.
 *
 * @param c The connection.
 * @param http Its HTTP client.
 * @param partition The partition.
 * @param from The node giving up its replica.
 * @param to The node taking it.
 */
export async function moveReplica(
  c: Connection,
  http: Http,
  partition: number,
  from: number,
  to: number,
): Promise<void> {
  await addReplica(c, http, partition, to);
  await removeReplica(c, http, partition, from);
}

/** How many groups each node belongs to. */
function load(view: ClusterView): Map<number, number> {
  const count = new Map(view.nodes.map((n) => [n.id, 0]));
  for (const g of view.groups) {
    for (const id of [...g.voters, ...g.learners]) count.set(id, (count.get(id) ?? 0) + 1);
  }
  return count;
}

/**
 * Drains a node: moves every replica it holds to the reachable node with the fewest replicas
 * that is not in that group yet, so every partition keeps its replication factor. A dead node
 * can be drained: the groups' other members carry the changes.
 *
 * @param c The connection.
 * @param http Its HTTP client.
 * @param node The node to drain.
 * @returns How many partitions could not be moved (no node to take them).
 */
export async function drainNode(c: Connection, http: Http, node: number): Promise<number> {
  const view = await readCluster(c, http);
  if (!view.nodes.some((n) => n.id === node)) {
    throw new UsageError(`node ${node} is not in the cluster (${view.nodes.map((n) => n.id)})`);
  }
  const counts = load(view);
  let stuck = 0;
  for (const g of view.groups) {
    const members = [...g.voters, ...g.learners];
    if (!members.includes(node)) continue;
    const target = view.nodes
      .filter((n) => n.reachable && n.id !== node && !members.includes(n.id))
      .sort((a, b) => (counts.get(a.id)! - counts.get(b.id)!) || a.id - b.id)[0];
    if (!target) {
      console.error(`Partition ${g.partition}: no reachable node outside the group can take it`);
      stuck++;
      continue;
    }
    console.log(
      `Partition ${g.partition}: moving the replica on node ${node} to node ${target.id}`,
    );
    await moveReplica(c, http, g.partition, node, target.id);
    counts.set(target.id, counts.get(target.id)! + 1);
  }
  return stuck;
}

/**
 * Waits until the cluster's view shows every partition's group and none lists `node`: the
 * condition for forgetting it, checked across the whole cluster (a node answering the request
 * only knows its own partitions).
 *
 * @param c The connection.
 * @param http Its HTTP client.
 * @param node The node.
 * @param timeoutMs How long to wait for groups nobody reported, or that still list the node.
 * @throws {Error} When a group still lists the node, or some group's status stays unknown.
 */
export async function assertDrained(
  c: Connection,
  http: Http,
  node: number,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await readCluster(c, http);
    const holding = view.groups.filter((g) => [...g.voters, ...g.learners].includes(node));
    // A removal just committed may not show yet in the replica the view was taken from.
    if (holding.length > 0 && Date.now() > deadline) {
      throw new Error(
        `partitions ${holding.map((g) => g.partition).join(", ")} still list node ${node}`,
      );
    }
    const seen = new Set(view.groups.map((g) => g.partition));
    const unknown = Array.from({ length: view.partitions }, (_, p) => p).filter((p) =>
      !seen.has(p)
    );
    if (unknown.length === 0 && holding.length === 0) return;
    if (unknown.length > 0 && Date.now() > deadline) {
      throw new Error(
        `no replica of partitions ${unknown.join(", ")} answered, so it is unknown whether they ` +
          `still list node ${node}; try again when they do`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Removes a node that holds no replica any more from the cluster's address book: the other
 * nodes forget its address and refuse its traffic, and its id is never used again.
 *
 * @param c The connection.
 * @param http Its HTTP client.
 * @param node The node.
 */
export async function forgetNode(c: Connection, http: Http, node: number): Promise<void> {
  // A replica that lags may still list the node for a moment: retry while the answer is 503.
  try {
    await adminRequest(c, http, {
      path: "/admin/members",
      body: { id: node, remove: true },
      slackMs: 2000,
      deadlineMs: 15_000,
      retryOn: [503],
    });
  } catch (error) {
    throw new Error(`cannot remove node ${node} from the cluster: ${(error as Error).message}`);
  }
}

/**
 * Fills a node: moves replicas onto it from the most loaded nodes until it holds its share
 * (the average number of replicas per reachable node, rounded down).
 *
 * @param c The connection.
 * @param http Its HTTP client.
 * @param node The node to fill.
 * @returns How many replicas moved onto it.
 */
export async function fillNode(c: Connection, http: Http, node: number): Promise<number> {
  const view = await readCluster(c, http);
  const self = view.nodes.find((n) => n.id === node);
  if (!self) {
    throw new UsageError(
      `node ${node} is not in the cluster (${view.nodes.map((n) => n.id)}): start it with the ` +
        `cluster's --peers first`,
    );
  }
  if (!self.reachable) throw new Error(`node ${node} does not answer; start it first`);
  const counts = load(view);
  const reachable = view.nodes.filter((n) => n.reachable);
  const total = reachable.reduce((sum, n) => sum + counts.get(n.id)!, 0);
  const share = Math.floor(total / reachable.length);
  let moved = 0;
  // Finish moves onto it that stopped halfway: a learner there is promoted, and the group's
  // most loaded other voter leaves if that leaves it more voters than the others have.
  const usual = view.groups.map((g) => g.voters.length).sort((a, b) => a - b)[
    Math.floor(view.groups.length / 2)
  ];
  for (const g of view.groups.filter((g) => g.learners.includes(node))) {
    await addReplica(c, http, g.partition, node);
    g.learners = g.learners.filter((id) => id !== node);
    g.voters = [...g.voters, node];
    if (g.voters.length > usual) {
      const old = g.voters.filter((id) => id !== node)
        .sort((a, b) => counts.get(b)! - counts.get(a)!)[0];
      await removeReplica(c, http, g.partition, old);
      counts.set(old, counts.get(old)! - 1);
      g.voters = g.voters.filter((id) => id !== old);
    }
    moved++;
  }
  while (counts.get(node)! < share) {
    const candidates = view.groups.filter((g) => ![...g.voters, ...g.learners].includes(node));
    let best: { group: GroupView; from: number } | undefined;
    for (const g of candidates) {
      for (const from of g.voters) {
        if (!best || counts.get(from)! > counts.get(best.from)!) best = { group: g, from };
      }
    }
    if (!best || counts.get(best.from)! <= counts.get(node)! + 1) break;
    console.log(
      `Partition ${best.group.partition}: moving the replica on node ${best.from} to node ${node}`,
    );
    await moveReplica(c, http, best.group.partition, best.from, node);
    counts.set(best.from, counts.get(best.from)! - 1);
    counts.set(node, counts.get(node)! + 1);
    best.group.voters = [...best.group.voters.filter((id) => id !== best!.from), node];
    moved++;
  }
  return moved;
}

/**
 * Prints every partition's group and every node's share.
 *
 * @param view The cluster.
 * @param json One JSON document instead of tables.
 */
export function printMembers(view: ClusterView, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(view, null, 2));
    return;
  }
  const counts = load(view);
  const leads = new Map<number, number>();
  for (const g of view.groups) leads.set(g.leader, (leads.get(g.leader) ?? 0) + 1);
  printTable(
    ["NODE", "STATE", "REPLICAS", "LEADS"],
    view.nodes.map((n) => [
      String(n.id),
      n.reachable ? "up" : "unreachable",
      String(counts.get(n.id) ?? 0),
      String(leads.get(n.id) ?? 0),
    ]),
  );
  console.log();
  printTable(
    ["PARTITION", "VOTERS", "LEARNERS", "LEADER"],
    view.groups.map((g) => [
      String(g.partition),
      g.voters.join(","),
      g.learners.join(",") || "-",
      g.leader ? String(g.leader) : "-",
    ]),
  );
}
