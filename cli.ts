/**
 * The PrkDB command line: run one node (`serve`) or a local demo cluster (`cluster`), and
 * operate a running cluster (`status`, `get`, `put`, `del`, `list`, `move-leader`, `member`,
 * `replica`, `snapshot`).
 *
 * ```sh
 * deno run -A cli.ts serve --id 1 --listen 127.0.0.1:8081 \
 *   --peers 1=127.0.0.1:8081,2=127.0.0.1:8082,3=127.0.0.1:8083 --data-dir ./data/n1
 * deno run -A cli.ts cluster            # or: deno task cluster
 * deno run -A cli.ts status --endpoints https://127.0.0.1:8081 --cacert certs/ca.pem \
 *   --cert certs/client-ro.pem --key certs/client-ro.key
 * deno run -A jsr:@prkdb/prkdb/cli serve --help
 * ```
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a command-line program: printing is its job
import { parseArgs } from "node:util";
import { startNode, type StorageKind } from "./server/node.ts";
import { runCluster } from "./server/cluster.ts";
import { join } from "@std/path";
import { initCertificates, renewCertificates } from "./server/certs.ts";
import { type TlsFiles, tlsHttp, TlsReloader } from "./rpc/tls.ts";
import { MEMBERS_FILE, type MemberTableJson } from "./server/member_table.ts";
import { IDENTITY_FILE } from "./storage/node_identity.ts";
import { UsageError } from "./cli/connection.ts";
import { hostPort, int, parsePeers } from "./cli/peers.ts";
import { OPERATOR_COMMANDS, runOperator } from "./cli/operator.ts";
import config from "./deno.json" with { type: "json" };

const SERVE_HELP = `Usage: deno run -A cli.ts serve [options]

Runs one PrkDB node. One port serves the client API (KvService), peer Raft traffic
(RaftService), /health and /metrics.

Options:
  --id <n>              This node's id, a positive integer (required).
  --listen <host:port>  Where to listen (default: this node's address in --peers).
  --peers <list>        Every member, this node included: 1=127.0.0.1:8081,2=127.0.0.1:8082,...
                        (required at the cluster's first start, the same on every node; later
                        the data dir's address book has them and --peers may be left out).
  --join <url>          Join a running cluster through its node at <url> (a new node's first
                        start, instead of --peers). Needs --listen, the address the others
                        reach it at. Then give it replicas: cli.ts member add <id>.
  --data-dir <dir>      Where file or kv storage keeps its data (required unless --storage memory).
  --partitions <n>      Number of partitions, the same on every node (default 8).
  --replication <n>     Replicas per partition (default 3, or every node when fewer).
  --storage <kind>      file (default), kv (Deno KV) or memory (nothing survives a restart).
  --cluster <name>      Cluster name; Raft traffic from other clusters is refused (default prkdb).
  --tick-ms <n>         Milliseconds per Raft tick; elections take 10-20 ticks (default 100).
  --compact-entries <n> Snapshot and compact a partition's log every n entries (default 10000).
  --follow-writes <on|off>  Move a partition's leadership to the node nearly all its writes come
                        through (default on); off keeps it with the partition's preferred replica.
  --allow-blank-start   Start even though --data-dir exists without this node's identity (an
                        empty or partly created directory). Without it, such a start is refused:
                        a node that lost its data must not rejoin as if it had never voted.

Security (TLS is required unless --insecure is given):
  --tls-dir <dir>       Use <dir>/ca.pem, <dir>/node-<id>.pem and <dir>/node-<id>.key
                        (as made by 'certs init').
  --ca, --cert, --key   Or name the cluster CA, this node's certificate and key one by one.
  --tokens <file>       Client bearer tokens, lines of "<read-write|read-only|replica> <token>".
  --tls-reload-ms <n>   Look for rotated certificate files this often (default 10000; SIGHUP
                        reloads at once).
  --insecure            Serve plain HTTP with no authentication of peers or clients. Anyone who
                        can reach the port can read, write and forge Raft messages.
  --max-connections <n> Open connections at most (default 1024).
  --max-body-bytes <n>  Largest client request body (default 1048576; Raft batches 16 MiB).
  --request-timeout-ms <n>  Time allowed for a request's headers, and again for its body
                        (default 10000 and 30000).
  --idle-timeout-ms <n> Close connections idle this long (default 60000).
  --demo-actions        Let the cluster view at /ui transfer a partition's leader (a demo
                        aid; off by default). /ui and /status.json are served either way.
  --demo-control <url>  With --demo-actions: the launcher's node control endpoint, so the
                        page can also pause, kill and restart nodes (cli.ts cluster sets it).
  -h, --help            Show this help.

The data dir remembers the cluster, node id, partition count, --peers ids and storage it was
created with; starting it with different ones is refused. One process at a time may use it.
`;

const CERTS_HELP = `Usage: deno run -A cli.ts certs <init|renew> [options]    (or: deno task certs)

init   Creates a development CA, a certificate per node (SAN URI prkdb-node-<id>, IP 127.0.0.1,
       DNS localhost), client certificates client-rw (read-write), client-ro (read-only) and
       replica, and tokens.txt with a read-write and a read-only bearer token.
renew  Reissues every node and client certificate with the existing CA. Running nodes load
       them on SIGHUP or within --tls-reload-ms, without a restart.

Options:
  --dir <dir>           Where the files go (default certs).
  --nodes <n>           Node ids 1..n (default 3).
  --hosts <list>        Host names and IPs the nodes answer on (default 127.0.0.1,localhost).
  --days <n>            Validity in days (default 365).
  -h, --help            Show this help.
`;

const CLUSTER_HELP = `Usage: deno run -A cli.ts cluster [options]    (or: deno task cluster)

Starts a local demo cluster: one 'serve' process per node on 127.0.0.1, waits until every
partition has a leader, and prints where to look. When a node dies the others keep running; the
launcher reports it and the partitions failing over. Type 'restart <n>', 'stop <n>', 'status'
or 'help' on its console. A port in use is an error (exit 1). Ctrl-C stops every node.

Options:
  --nodes <n>           Number of nodes (default 3).
  --partitions <n>      Number of partitions (default 8).
  --storage <kind>      file (default), kv or memory.
  --dir <dir>           Where node data goes (default .prkdb-cluster).
  --base-port <n>       First node's port; the others follow (default 8081). 0 picks free
                        ports and prints them.
  --tick-ms <n>         Milliseconds per Raft tick (default 100).
  --prometheus <file>   Also write a Prometheus scrape config for the nodes to this file.
  --certs <dir>         Certificates and tokens, made there by 'certs init' if missing
                        (default certs).
  --insecure            Run without TLS or tokens (prints a warning).
  --demo-actions        Start the nodes with --demo-actions (the cluster view can transfer
                        leaders).
  -h, --help            Show this help.
`;

const USAGE = `Usage: deno run -A cli.ts <command> [options]

Commands:
  serve         Run one node.
  cluster       Run a local demo cluster of several nodes.
  certs         Create (init) or reissue (renew) development certificates.

Operating a running cluster (see docs/operations.md):
  status        Every node's partitions: role, leader, term, commit/applied index, lag.
  get <key>     Read a key (plain text).          put <key> <value>   Write one (--ttl).
  del <key>     Delete a key.                     list --prefix <p>   List keys and values.
  move-leader   Hand a partition's leadership to another replica.
  member        list / add <node> / remove <node>: where replicas live; move them onto a new
                node or off a dead one (Raft membership changes, one server at a time).
  replica       add / remove / move: change one partition's group by one server.
  snapshot      save <file> / restore <file>: back up every key, or write a backup back.

  --version     Print the version.

Run a command with --help for its options (connection: --endpoints, --cacert, --cert, --key,
--token, --insecure).
`;

function storageKind(value: string | undefined): StorageKind {
  const kind = value ?? "file";
  if (kind !== "file" && kind !== "kv" && kind !== "memory") {
    throw new UsageError(`--storage must be file, kv or memory, got "${kind}"`);
  }
  return kind;
}

function onOff(value: string | undefined, flag: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value !== "on" && value !== "off") {
    throw new UsageError(`${flag} must be on or off, got "${value}"`);
  }
  return value === "on";
}

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      id: { type: "string" },
      listen: { type: "string" },
      peers: { type: "string" },
      join: { type: "string" },
      "data-dir": { type: "string" },
      partitions: { type: "string" },
      replication: { type: "string" },
      storage: { type: "string" },
      cluster: { type: "string" },
      "tick-ms": { type: "string" },
      "compact-entries": { type: "string" },
      "follow-writes": { type: "string" },
      "allow-blank-start": { type: "boolean" },
      "tls-dir": { type: "string" },
      ca: { type: "string" },
      cert: { type: "string" },
      key: { type: "string" },
      tokens: { type: "string" },
      "tls-reload-ms": { type: "string" },
      insecure: { type: "boolean" },
      "max-connections": { type: "string" },
      "max-body-bytes": { type: "string" },
      "request-timeout-ms": { type: "string" },
      "idle-timeout-ms": { type: "string" },
      "demo-actions": { type: "boolean" },
      "demo-control": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return void console.log(SERVE_HELP);
  if (values["demo-control"] !== undefined && !values["demo-actions"]) {
    throw new UsageError("--demo-control needs --demo-actions");
  }
  const id = int(values.id, "--id");
  if (id === 0) throw new UsageError("--id must be positive");
  const storage = storageKind(values.storage);
  if (storage !== "memory" && !values["data-dir"]) {
    throw new UsageError(`--data-dir is required with --storage ${storage}`);
  }
  let listen: { hostname: string; port: number } | undefined;
  if (values.listen) {
    const [hostname, port] = hostPort(values.listen, "--listen").split(":");
    listen = { hostname, port: Number(port) };
  }
  const tls = tlsFiles(values, id);
  // Where the members come from: this data dir's address book after the first start, else the
  // node joined through (--join), else --peers.
  const known = values["data-dir"] !== undefined && storage !== "memory" &&
    await Deno.stat(join(values["data-dir"], MEMBERS_FILE)).then(() => true, () => false);
  let members: MemberTableJson | undefined;
  let peers = new Map<number, string>();
  if (values.join !== undefined && !known) {
    if (values.peers) throw new UsageError("--join and --peers exclude each other");
    if (!values.listen) throw new UsageError("--join needs --listen <host:port>");
    // A first start that stopped after the data dir got its identity but before the address
    // book was saved: the cluster knows this node already, and the data dir proves it is it.
    const resume = await Deno.stat(join(values["data-dir"] ?? ".", IDENTITY_FILE)).then(
      () => true,
      () => false,
    );
    members = await joinCluster(values.join, id, hostPort(values.listen, "--listen"), tls, resume);
    if (values.partitions !== undefined && Number(values.partitions) !== members.partitions) {
      throw new UsageError(
        `the cluster has ${members.partitions} partitions, not --partitions ${values.partitions}`,
      );
    }
  } else if (!known || values.peers !== undefined) {
    peers = parsePeers(values.peers);
    if (!peers.has(id)) throw new UsageError(`--peers must include this node (--id ${id})`);
  }
  if (!tls && !values.insecure) {
    throw new UsageError(
      "serve needs TLS (--tls-dir <dir>, or --ca, --cert and --key) or an explicit --insecure",
    );
  }
  if (tls && values.insecure) throw new UsageError("--insecure cannot be combined with TLS files");
  if (!tls) {
    console.error(
      "WARNING: --insecure: plain HTTP, no authentication. Anyone who can reach this port can " +
        "read and write every key and forge Raft messages. Use only on a trusted network.",
    );
  }
  const timeout = values["request-timeout-ms"] === undefined
    ? undefined
    : int(values["request-timeout-ms"], "--request-timeout-ms");
  const limits = {
    ...(values["max-connections"] && {
      maxConnections: int(values["max-connections"], "--max-connections"),
    }),
    ...(values["max-body-bytes"] && {
      maxBodyBytes: int(values["max-body-bytes"], "--max-body-bytes"),
    }),
    ...(timeout !== undefined && { headersTimeoutMs: timeout, bodyTimeoutMs: timeout }),
    ...(values["idle-timeout-ms"] && {
      idleTimeoutMs: int(values["idle-timeout-ms"], "--idle-timeout-ms"),
    }),
  };
  // Listen for signals before starting: a listener takes effect only after a turn of the event
  // loop, and a SIGTERM right after "listening" must still shut down cleanly.
  const stopped = new Promise<void>((resolve) => {
    const stop = () => resolve();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  const node = await startNode({
    tls,
    tokenFile: values.tokens,
    tlsReloadMs: int(values["tls-reload-ms"], "--tls-reload-ms", 10_000),
    limits,
    id,
    peers,
    members,
    listen,
    partitions: members?.partitions ?? (int(values.partitions, "--partitions", 8) || 1),
    replicationFactor: int(values.replication, "--replication", 3),
    storage,
    dataDir: values["data-dir"],
    cluster: values.cluster,
    tickMs: int(values["tick-ms"], "--tick-ms", 100) || 100,
    compaction: { entries: int(values["compact-entries"], "--compact-entries", 10_000) || 10_000 },
    followWrites: onOff(values["follow-writes"], "--follow-writes", true),
    allowBlankStart: values["allow-blank-start"],
    demoActions: values["demo-actions"],
    demoControl: values["demo-control"],
  });
  console.log(
    `prkdb node ${id} listening on ${
      tls ? "https" : "http"
    }://${node.hostname}:${node.server.port} ` +
      `(${node.host.partitions.length} of ${node.host.map.partitions} partitions, ${storage} storage)`,
  );
  await stopped;
  console.log(`prkdb node ${id} shutting down`);
  await node.stop();
  Deno.exit(0);
}

/**
 * A new node's first start: asks the node at `url` to add it to the cluster's address book and
 * returns the book, from which the node learns the cluster's name, partitions and members.
 */
async function joinCluster(
  url: string,
  id: number,
  address: string,
  tls: TlsFiles | undefined,
  resume: boolean,
): Promise<MemberTableJson> {
  const reloader = tls ? await TlsReloader.open(tls) : undefined;
  const http = reloader ? tlsHttp(reloader) : undefined;
  const base = `${url.replace(/\/+$/, "")}/admin/members`;
  try {
    const r = await (http?.fetch ?? fetch)(base, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id, address }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = await r.json();
    if (r.status === 409 && resume) {
      // Joined before, then stopped before saving the address book: take it as it is, if it
      // still has this node at this address.
      const table = await (await (http?.fetch ?? fetch)(base, {
        signal: AbortSignal.timeout(10_000),
      })).json() as MemberTableJson;
      const mine = table.members?.[id];
      if (mine && !mine.removed && mine.address === address) return table;
    }
    if (!r.ok) throw new Error(body.error ?? `HTTP ${r.status}`);
    return body as MemberTableJson;
  } catch (error) {
    throw new Error(`cannot join the cluster through ${url}: ${(error as Error).message}`);
  } finally {
    http?.close();
    reloader?.close();
  }
}

function tlsFiles(
  values: { "tls-dir"?: string; ca?: string; cert?: string; key?: string },
  id: number,
): TlsFiles | undefined {
  const dir = values["tls-dir"];
  const some = values.ca ?? values.cert ?? values.key;
  if (dir && some) throw new UsageError("give either --tls-dir or --ca/--cert/--key, not both");
  if (dir) {
    return {
      caFile: join(dir, "ca.pem"),
      certFile: join(dir, `node-${id}.pem`),
      keyFile: join(dir, `node-${id}.key`),
    };
  }
  if (!some) return undefined;
  if (!values.ca || !values.cert || !values.key) {
    throw new UsageError("--ca, --cert and --key go together");
  }
  return { caFile: values.ca, certFile: values.cert, keyFile: values.key };
}

async function certs(args: string[]): Promise<void> {
  const [action, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      dir: { type: "string" },
      nodes: { type: "string" },
      hosts: { type: "string" },
      days: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || action === "--help" || action === "-h") return void console.log(CERTS_HELP);
  if (action !== "init" && action !== "renew") {
    throw new UsageError(
      action === undefined
        ? "certs takes init or renew"
        : `certs takes init or renew, got "${action}"`,
    );
  }
  const nodes = int(values.nodes, "--nodes", 3);
  if (nodes < 1 || nodes > 99) throw new UsageError("--nodes must be between 1 and 99");
  const options = {
    dir: values.dir ?? "certs",
    nodes: Array.from({ length: nodes }, (_, i) => i + 1),
    hosts: values.hosts?.split(",").map((h) => h.trim()).filter(Boolean),
    days: int(values.days, "--days", 365) || 365,
  };
  const written = action === "init"
    ? await initCertificates(options)
    : await renewCertificates(options);
  console.log(`Wrote ${written.length} files to ${options.dir}/: ${written.join(" ")}`);
  if (action === "renew") console.log("Running nodes load them on SIGHUP or within 10 s.");
}

async function cluster(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      nodes: { type: "string" },
      partitions: { type: "string" },
      storage: { type: "string" },
      dir: { type: "string" },
      "base-port": { type: "string" },
      "tick-ms": { type: "string" },
      prometheus: { type: "string" },
      certs: { type: "string" },
      insecure: { type: "boolean" },
      "demo-actions": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return void console.log(CLUSTER_HELP);
  const nodes = int(values.nodes, "--nodes", 3);
  if (nodes < 1 || nodes > 9) throw new UsageError("--nodes must be between 1 and 9");
  await runCluster({
    nodes,
    partitions: int(values.partitions, "--partitions", 8) || 1,
    storage: storageKind(values.storage),
    dir: values.dir ?? ".prkdb-cluster",
    basePort: int(values["base-port"], "--base-port", 8081),
    tickMs: int(values["tick-ms"], "--tick-ms", 100) || 100,
    prometheusFile: values.prometheus,
    certs: values.insecure ? undefined : values.certs ?? "certs",
    demoActions: values["demo-actions"],
    cli: new URL(import.meta.url).href,
  });
}

if (import.meta.main) {
  const [command, ...rest] = Deno.args;
  try {
    if (command === "serve") await serve(rest);
    else if (command === "cluster") await cluster(rest);
    else if (command === "certs") await certs(rest);
    else if (OPERATOR_COMMANDS.includes(command)) Deno.exitCode = await runOperator(command, rest);
    else if (command === "--version" || command === "-V" || command === "version") {
      console.log(`prkdb ${config.version} (deno ${Deno.version.deno})`);
    } else if (command === "--help" || command === "-h" || command === "help") console.log(USAGE);
    else if (command === undefined) throw new UsageError("a command is required");
    else throw new UsageError(`unknown command "${command}"`);
  } catch (error) {
    const usage = error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    console.error(`prkdb: ${(error as Error).message}`);
    if (usage) {
      console.error(
        ["serve", "certs", "cluster", ...OPERATOR_COMMANDS].includes(command)
          ? `Run 'deno run -A cli.ts ${command} --help' for the options.`
          : USAGE,
      );
    }
    Deno.exit(usage ? 2 : 1);
  }
}
