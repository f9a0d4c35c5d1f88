/**
 * Operator commands against a running cluster: `status`, `get`, `put`, `del`, `list`,
 * `move-leader`, `member list|add|remove`, `replica add|remove|move` and
 * `snapshot save|restore`. Keys and values are plain text on the command line.
 * Each returns its exit code: 0 done, 1 failed (or a key not found), and throws
 * {@linkcode UsageError} for a command-line mistake (exit code 2).
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a command-line program: printing is its job
import { printTable } from "./table.ts";
import { adminRequest } from "./admin_request.ts";
import { parseArgs } from "node:util";
import type { PrkDbClient, ReadMode } from "../client/mod.ts";
import type { NodeHealthJson } from "../server/health.ts";
import type { ClusterStatusJson } from "../server/status_document.ts";
import {
  addReplica,
  assertDrained,
  drainNode,
  fillNode,
  forgetNode,
  moveReplica,
  printMembers,
  readCluster,
  removeReplica,
} from "./membership.ts";
import {
  connect,
  type Connection,
  connection,
  CONNECTION_FLAGS,
  CONNECTION_HELP,
  type ConnectionValues,
  httpFor,
  UsageError,
} from "./connection.ts";
import { type PartitionCopy, readSnapshot, restoreSnapshot, saveSnapshot } from "./snapshot.ts";
import { restoreDataDir } from "./restore_data_dir.ts";
import { parsePeers } from "./peers.ts";
import { Buffer } from "node:buffer";

const HELP: Record<string, string> = {
  status: `Usage: deno run -A cli.ts status [--json] [connection options]

Every node's view of every partition it replicates: role, the leader it knows, term, commit
and applied index, lag (seconds) and backlog (entries): the document the cluster view at /ui
shows (/status.json, gathered by the first endpoint that answers). Exits 1 when a node is
unreachable or unhealthy.

  --json                One JSON document instead of tables.`,
  get: `Usage: deno run -A cli.ts get <key> [--read-mode linearizable|follower|stale] [--json]

Prints the value of <key> (UTF-8 text). Exits 1 when the key is absent.

  --read-mode <mode>    linearizable (default, at the leader), follower or stale.
  --json                Print {"key","value","version"} (value null when absent; exit 0).`,
  put: `Usage: deno run -A cli.ts put <key> <value> [--ttl <duration>]

Writes <value> (UTF-8 text) under <key> and prints its new version.

  --ttl <duration>      Expire the key after 30s, 500ms, 5m, 2h (a bare number is seconds).`,
  del: `Usage: deno run -A cli.ts del <key>

Deletes <key>. Prints "deleted" or "absent"; both exit 0.`,
  list: `Usage: deno run -A cli.ts list [--prefix <p>] [--limit <n>] [--keys-only] [--json]

Lists keys in byte order with their values, one per line as "<key><TAB><value>".

  --prefix <p>          Only keys starting with <p> (default: every key).
  --limit <n>           At most n keys.
  --keys-only           Print keys only.
  --read-mode <mode>    linearizable (default), follower or stale.
  --json                One JSON object per line: {"key","value","version"}.`,
  "move-leader": `Usage: deno run -A cli.ts move-leader --partition <p> --to <node>

Hands partition <p>'s leadership to replica <node> (a Raft leadership transfer) and waits
until it leads. Leader balancing then leaves it there. Members only: with TLS, present a node
certificate (--cert certs/node-1.pem --key certs/node-1.key).`,
  member: `Usage: deno run -A cli.ts member list [--json]
       deno run -A cli.ts member add <node>
       deno run -A cli.ts member remove <node>

list     Every node with how many partition replicas it holds and leads, and every
         partition's voters, learners and leader.
add      Moves replicas onto <node> from the most loaded nodes until it holds its share.
         A new node joins first: serve --id <node> --join <url of a member> --listen ... Each move adds it as a learner, promotes it
         once caught up, then removes the old replica: the cluster stays writable.
remove   Moves every replica off <node> (which may be dead) to the least loaded nodes, back
         to each partition's replication factor, then removes it from the cluster's address
         book: the others refuse its traffic, and its id is not used again.

Members only: with TLS, present a node certificate (--cert certs/node-1.pem --key ...).`,
  replica: `Usage: deno run -A cli.ts replica add --partition <p> --node <n>
       deno run -A cli.ts replica remove --partition <p> --node <n>
       deno run -A cli.ts replica move --partition <p> --from <a> --to <b>

Changes one partition's Raft group by one server at a time. add: <n> joins as a learner and
is promoted to voter once it has caught up. remove: <n> leaves (a leader hands over first).
move: add <b>, then remove <a>. Each step waits until it is applied, printing progress.

Members only: with TLS, present a node certificate.`,
  snapshot: `Usage: deno run -A cli.ts snapshot save <file>
       deno run -A cli.ts snapshot restore <file>
       deno run -A cli.ts snapshot restore <file> --data-dir <dir> --id <n> --peers <list>
                                          [--cluster <name>] [--replication <n>] [--storage file|kv]

save     Backs up every partition to <file>: one consistent copy of each (a linearizable
         point-in-time copy of that partition, with versions, sessions and expiry times), as
         JSON lines with a format version and a SHA-256 checksum (see docs/operations.md).
restore  Checks <file>, then writes every key into the running cluster with put. Keys not in
         the backup are left alone; restored keys get new versions.
restore --data-dir
         Builds node <n>'s data directory of a new cluster from <file>, with no cluster
         running: every partition it replicates starts from the backup's copy, versions kept.
         Run it for each node with the same <file> and --peers, then serve each directory.`,
};

/** The operator commands. */
export const OPERATOR_COMMANDS: readonly string[] = Object.keys(HELP);

const help = (command: string) => `${HELP[command]}\n\n${CONNECTION_HELP}\n`;

const text = (bytes: Uint8Array | null) => bytes === null ? null : new TextDecoder().decode(bytes);

function readMode(value: string | undefined): ReadMode | undefined {
  if (value === undefined) return undefined;
  if (value !== "linearizable" && value !== "follower" && value !== "stale") {
    throw new UsageError(`--read-mode must be linearizable, follower or stale, got "${value}"`);
  }
  return value;
}

/** Parses a TTL: `30s`, `500ms`, `5m`, `2h`, or a bare number of seconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new UsageError(`--ttl must look like 30s, 500ms, 5m or 2h, got "${value}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"]!;
  const ms = Math.round(Number(m[1]) * unit);
  if (ms <= 0) throw new UsageError(`--ttl must be positive, got "${value}"`);
  return ms;
}

function positionals(p: string[], names: string[], command: string): string[] {
  if (p.length !== names.length) {
    throw new UsageError(
      `${command} takes ${names.map((n) => `<${n}>`).join(" ")}, got ${p.length} argument${
        p.length === 1 ? "" : "s"
      }`,
    );
  }
  return p;
}

/**
 * Runs an operator command.
 *
 * @param command One of {@linkcode OPERATOR_COMMANDS}.
 * @param args Its arguments.
 * @returns The exit code.
 */
export async function runOperator(command: string, args: string[]): Promise<number> {
  const { values, positionals: rest } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      ...CONNECTION_FLAGS,
      json: { type: "boolean" },
      "read-mode": { type: "string" },
      ttl: { type: "string" },
      prefix: { type: "string" },
      limit: { type: "string" },
      "keys-only": { type: "boolean" },
      partition: { type: "string" },
      to: { type: "string" },
      from: { type: "string" },
      node: { type: "string" },
      "data-dir": { type: "string" },
      id: { type: "string" },
      peers: { type: "string" },
      cluster: { type: "string" },
      replication: { type: "string" },
      storage: { type: "string" },
    },
  });
  if (values.help) {
    console.log(help(command));
    return 0;
  }
  if (command === "snapshot" && rest[0] === "restore" && values["data-dir"] !== undefined) {
    return await restoreOffline(rest, values);
  }
  const c = await connection(values as ConnectionValues);
  const mode = readMode(values["read-mode"]);
  // Check the whole command line before connecting.
  let run: (db: PrkDbClient) => Promise<number>;
  switch (command) {
    case "get": {
      const [key] = positionals(rest, ["key"], "get");
      run = async (db) => {
        const e = await db.get(key, { readMode: mode });
        if (values.json) {
          console.log(JSON.stringify({ key, value: text(e.value), version: e.version }));
          return 0;
        }
        if (e.value === null) {
          console.error(`prkdb: key "${key}" not found`);
          return 1;
        }
        console.log(text(e.value));
        return 0;
      };
      break;
    }
    case "put": {
      const [key, value] = positionals(rest, ["key", "value"], "put");
      const ttl = values.ttl === undefined ? undefined : parseDuration(values.ttl);
      run = async (db) => {
        const r = await db.put(key, value, ttl === undefined ? {} : { expireIn: ttl });
        console.log(values.json ? JSON.stringify(r) : `OK version ${r.version}`);
        return 0;
      };
      break;
    }
    case "del": {
      const [key] = positionals(rest, ["key"], "del");
      run = async (db) => {
        const r = await db.delete(key);
        console.log(values.json ? JSON.stringify(r) : r.found ? "deleted" : "absent");
        return 0;
      };
      break;
    }
    case "list": {
      positionals(rest, [], "list");
      const limit = values.limit === undefined ? undefined : Number(values.limit);
      if (limit !== undefined && (!Number.isSafeInteger(limit) || limit <= 0)) {
        throw new UsageError(`--limit must be a positive integer, got "${values.limit}"`);
      }
      run = async (db) => {
        const it = db.list({ prefix: values.prefix ?? "" }, { limit, readMode: mode });
        for await (const e of it) {
          const key = text(e.key)!, value = text(e.value);
          if (values.json) console.log(JSON.stringify({ key, value, version: e.version }));
          else console.log(values["keys-only"] ? key : `${key}\t${value}`);
        }
        return 0;
      };
      break;
    }
    case "status":
      positionals(rest, [], "status");
      return await status(c, values.json === true);
    case "move-leader": {
      positionals(rest, [], "move-leader");
      const partition = Number(values.partition), to = Number(values.to);
      if (values.partition === undefined || !Number.isSafeInteger(partition) || partition < 0) {
        throw new UsageError("--partition <p> is required: a partition number");
      }
      if (values.to === undefined || !Number.isSafeInteger(to) || to <= 0) {
        throw new UsageError("--to <node> is required: a node id");
      }
      return await moveLeader(c, partition, to);
    }
    case "member":
      return await member(c, rest, values.json === true);
    case "replica":
      return await replica(c, rest, values);
    case "snapshot": {
      const [action, file] = rest;
      if ((action !== "save" && action !== "restore") || rest.length !== 2) {
        throw new UsageError("snapshot takes save <file> or restore <file>");
      }
      if (action === "restore") {
        const snapshot = await readSnapshot(file); // check the file before touching the cluster
        run = async (db) => {
          const n = await restoreSnapshot(db, snapshot);
          console.log(`Restored ${n} keys from ${file} (backed up ${snapshot.createdAt})`);
          return 0;
        };
      } else {
        run = async (db) => {
          const http = httpFor(c);
          try {
            const n = await saveSnapshot(
              db.cluster.partitions.length,
              file,
              (p) => partitionCopy(c, http, p),
            );
            console.log(`Saved ${n} keys to ${file}`);
            return 0;
          } finally {
            http.close();
          }
        };
      }
      break;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
  const db = await connect(c);
  try {
    return await run(db);
  } finally {
    db.close();
  }
}

/** One partition's consistent copy, from the first node that gives it (retrying "not now"). */
async function partitionCopy(
  c: Connection,
  http: ReturnType<typeof httpFor>,
  partition: number,
): Promise<PartitionCopy> {
  try {
    const body = await adminRequest(c, http, {
      path: `/admin/partition-snapshot?partition=${partition}`,
      slackMs: 5000,
      deadlineMs: 5000,
      retryOn: [503],
    });
    return {
      partition,
      index: body.index as number,
      state: new Uint8Array(Buffer.from(body.state as string, "base64")),
    };
  } catch (error) {
    throw new Error(`partition ${partition}: no consistent copy: ${(error as Error).message}`);
  }
}

async function restoreOffline(
  rest: string[],
  values: {
    "data-dir"?: string;
    id?: string;
    peers?: string;
    cluster?: string;
    replication?: string;
    storage?: string;
  },
): Promise<number> {
  const [, file] = rest;
  if (rest.length !== 2) throw new UsageError("snapshot restore takes <file>");
  const id = nodeId(values.id, "--id");
  const peers = parsePeers(values.peers);
  if (!peers.has(id)) throw new UsageError(`--peers must include --id ${id}`);
  const storage = values.storage ?? "file";
  if (storage !== "file" && storage !== "kv") throw new UsageError("--storage must be file or kv");
  const replication = values.replication === undefined ? 3 : Number(values.replication);
  if (!Number.isSafeInteger(replication) || replication < 1) {
    throw new UsageError("--replication must be a positive integer");
  }
  const snapshot = await readSnapshot(file);
  try {
    const done = await restoreDataDir(snapshot, {
      dataDir: values["data-dir"]!,
      id,
      peers,
      cluster: values.cluster ?? "prkdb",
      replicationFactor: replication,
      storage,
    });
    console.log(
      `Restored node ${id} into ${values["data-dir"]}: ${done.partitions} partitions, ` +
        `${done.keys} keys (backed up ${snapshot.createdAt}). Start it with serve --id ${id} ` +
        `--data-dir ${values["data-dir"]}`,
    );
    return 0;
  } catch (error) {
    console.error(`prkdb: snapshot restore failed: ${(error as Error).message}`);
    return 1;
  }
}

function nodeId(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (value === undefined || !Number.isSafeInteger(n) || n <= 0) {
    throw new UsageError(`${flag} is required: a node id`);
  }
  return n;
}

async function member(c: Connection, rest: string[], json: boolean): Promise<number> {
  const [action, node] = rest;
  if (action === "list" && rest.length === 1) {
    const http = httpFor(c);
    try {
      printMembers(await readCluster(c, http), json);
      return 0;
    } finally {
      http.close();
    }
  }
  if ((action !== "add" && action !== "remove") || rest.length !== 2) {
    throw new UsageError("member takes list, add <node> or remove <node>");
  }
  const id = nodeId(node, "<node>");
  const http = httpFor(c);
  try {
    if (action === "add") {
      const moved = await fillNode(c, http, id);
      console.log(`Node ${id} took ${moved} replica${moved === 1 ? "" : "s"}`);
      return 0;
    }
    const stuck = await drainNode(c, http, id);
    if (stuck > 0) {
      console.error(`prkdb: ${stuck} partition(s) still have a replica on node ${id}`);
      return 1;
    }
    await assertDrained(c, http, id);
    await forgetNode(c, http, id);
    console.log(`Node ${id} holds no replica and left the cluster: it can be shut down`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    console.error(`prkdb: member ${action} failed: ${(error as Error).message}`);
    return 1;
  } finally {
    http.close();
  }
}

async function replica(
  c: Connection,
  rest: string[],
  values: { partition?: string; node?: string; from?: string; to?: string },
): Promise<number> {
  const [action] = rest;
  if (!["add", "remove", "move"].includes(action) || rest.length !== 1) {
    throw new UsageError("replica takes add, remove or move");
  }
  const partition = Number(values.partition);
  if (values.partition === undefined || !Number.isSafeInteger(partition) || partition < 0) {
    throw new UsageError("--partition <p> is required: a partition number");
  }
  const http = httpFor(c);
  try {
    if (action === "add") await addReplica(c, http, partition, nodeId(values.node, "--node"));
    else if (action === "remove") {
      await removeReplica(c, http, partition, nodeId(values.node, "--node"));
    } else {
      const from = nodeId(values.from, "--from"), to = nodeId(values.to, "--to");
      await moveReplica(c, http, partition, from, to);
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    console.error(`prkdb: replica ${action} failed: ${(error as Error).message}`);
    return 1;
  } finally {
    http.close();
  }
}

interface NodeView {
  id: number;
  url: string;
  reachable: boolean;
  error?: string;
  health?: NodeHealthJson;
}

/**
 * `status`: the same document the cluster view at `/ui` shows (`/status.json`, every node's
 * status gathered by one node), as tables or JSON.
 */
async function status(c: Parameters<typeof httpFor>[0], json: boolean) {
  const http = httpFor(c);
  let doc: ClusterStatusJson | undefined;
  let last = "";
  try {
    for (const url of c.endpoints) {
      try {
        const r = await http.fetch(`${url}/status.json`, {
          signal: AbortSignal.timeout(c.timeoutMs),
        });
        if (r.ok) {
          doc = await r.json();
          break;
        }
        last = `${url}: HTTP ${r.status}`;
        await r.body?.cancel();
      } catch (error) {
        last = `${url}: ${(error as Error).message}`;
      }
    }
  } finally {
    http.close();
  }
  if (!doc) {
    console.error(`prkdb: no node answered /status.json (${last})`);
    return 1;
  }
  const views: NodeView[] = doc.nodes.map((n) => ({
    id: n.id,
    url: n.url,
    reachable: n.reachable,
    ...(n.error ? { error: n.error } : {}),
    ...(n.status && {
      health: {
        healthy: n.status.healthy,
        node: n.id,
        ...(n.status.reason ? { reason: n.status.reason } : {}),
        partitions: n.status.replicas.map((r) => ({
          partition: r.partition,
          role: r.role,
          leader: r.leader,
          term: r.term,
          commitIndex: r.commitIndex,
          lastApplied: r.lastApplied,
          healthy: r.healthy,
          ...(r.reason ? { reason: r.reason } : {}),
          lagSeconds: r.lagSeconds,
          lastSync: "",
          backlogEntries: r.backlogEntries,
        })),
      },
    }),
  }));
  // Each partition's replicas, as the replica with the newest term reports them.
  const info = { partitions: [] as { partition: number; replicas: number[] }[] };
  for (let p = 0; p < doc.partitions; p++) {
    const seen = doc.nodes.flatMap((n) => n.status?.replicas ?? []).filter((r) => r.partition === p)
      .sort((a, b) => b.term - a.term);
    info.partitions.push({ partition: p, replicas: seen[0]?.replicas ?? [] });
  }
  const ok = views.every((v) => v.reachable && v.health?.healthy);
  if (json) {
    console.log(JSON.stringify({ healthy: ok, nodes: views }, null, 2));
    return ok ? 0 : 1;
  }
  printTable(
    ["NODE", "URL", "STATE", "REASON"],
    views.map((v) => [
      String(v.id),
      v.url,
      !v.reachable ? "unreachable" : v.health?.healthy ? "healthy" : "unhealthy",
      v.error ?? v.health?.reason ?? "",
    ]),
  );
  console.log();
  const rows: string[][] = [];
  for (const p of info.partitions) {
    for (const id of p.replicas) {
      const view = views.find((v) => v.id === id);
      const h = view?.health?.partitions.find((x) => x.partition === p.partition);
      rows.push(
        h
          ? [
            String(p.partition),
            String(id),
            h.role,
            h.leader ? String(h.leader) : "-",
            String(h.term),
            String(h.commitIndex),
            String(h.lastApplied),
            h.lagSeconds.toFixed(1),
            String(h.backlogEntries),
            h.healthy ? "" : h.reason ?? "",
          ]
          : [String(p.partition), String(id), "unreachable", "-", "-", "-", "-", "-", "-", ""],
      );
    }
  }
  printTable(
    [
      "PARTITION",
      "NODE",
      "ROLE",
      "LEADER",
      "TERM",
      "COMMIT",
      "APPLIED",
      "LAG_S",
      "BACKLOG",
      "PROBLEM",
    ],
    rows,
  );
  return ok ? 0 : 1;
}

async function moveLeader(
  c: Parameters<typeof httpFor>[0],
  partition: number,
  to: number,
): Promise<number> {
  const http = httpFor(c);
  let last = "";
  try {
    for (const url of c.endpoints) {
      let r: Response;
      try {
        r = await http.fetch(`${url}/admin/move-leader`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ partition, to }),
          signal: AbortSignal.timeout(c.timeoutMs + 2000),
        });
      } catch (error) {
        last = `${url} is unreachable: ${(error as Error).message}`;
        continue;
      }
      const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
      if (r.ok) {
        console.log(`Partition ${body.partition}: node ${body.leader} leads (term ${body.term})`);
        return 0;
      }
      last = `${url}: ${body.error ?? body.message ?? `HTTP ${r.status}`}`;
      // A refusal (bad request, not allowed) is the same at every node.
      if (r.status === 400 || r.status === 401 || r.status === 403) break;
    }
  } finally {
    http.close();
  }
  console.error(`prkdb: move-leader failed: ${last}`);
  return 1;
}
