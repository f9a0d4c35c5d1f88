/**
 * A whole PrkDB node: storage, the Multi-Raft host, the Connect transport to peers, metrics,
 * and the server, assembled from one configuration. The CLI's `serve` runs one of these.
 *
 * @module
 */
import { http1Stream } from "../rpc/http1_stream.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import type { NodeId } from "../raft/types.ts";
import { MultiRaftHost } from "../runtime/multi_raft_host.ts";
import type { CompactionPolicy } from "../partition/compaction.ts";
import { FileStorage } from "../storage/file_storage.ts";
import { KvStorage } from "../storage/kv_storage.ts";
import { MemoryStorage } from "../storage/memory_storage.ts";
import { openDataDir } from "../storage/data_dir.ts";
import type { RaftStorage } from "../storage/raft_storage.ts";
import { PrkDbMetrics, type SyncErrorType } from "../telemetry/prkdb_metrics.ts";
import {
  AppliedCounter,
  nodeHealth,
  type NodeHealthJson,
  nodeState,
  type NodeStateJson,
} from "./health.ts";
import { type NodeServer, startNodeServer } from "./node_server.ts";
import { TokenStore } from "./auth.ts";
import type { HttpLimits } from "./http_server.ts";
import { type TlsFiles, tlsHttp, TlsReloader } from "../rpc/tls.ts";
import { ConnectRaftTransport } from "../rpc/raft_transport.ts";
import { ActivityRecorder } from "./activity.ts";
import { MEMBERS_FILE, MemberTable, type MemberTableJson } from "./member_table.ts";
import { NodeIdentityError } from "../storage/errors.ts";
import { join } from "@std/path";
import { pullTables } from "./admin_members.ts";

/** Which storage backend a node uses. */
export type StorageKind = "file" | "kv" | "memory";

/** Everything a node needs. */
export interface NodeConfig {
  /** This node's id. */
  id: NodeId;
  /**
   * Every member's `host:port`, this node included, at the cluster's first start. Later starts
   * take the members from the data directory's address book (see `member_table.ts`).
   */
  peers: ReadonlyMap<NodeId, string>;
  /**
   * The address book of a node joining a running cluster (from the node it joins through),
   * instead of `peers`.
   */
  members?: MemberTableJson;
  /** Address to listen on (defaults to this node's entry in `peers`). */
  listen?: { hostname: string; port: number };
  /** Number of partitions (the same on every node). */
  partitions: number;
  /** Replicas per partition. */
  replicationFactor?: number;
  /** Storage backend. */
  storage: StorageKind;
  /** Data directory for file and KV storage. */
  dataDir?: string;
  /** Cluster name; nodes refuse Raft traffic from other clusters. */
  cluster?: string;
  /** Milliseconds per Raft tick. */
  tickMs?: number;
  /** When to compact logs. */
  compaction?: CompactionPolicy;
  /**
   * Move a partition's leadership to the node nearly all its writes come through (see
   * `runtime/leader_balance.ts`). Default on.
   */
  followWrites?: boolean;
  /** Start even if `dataDir` exists without a node identity (empty, or partly created). */
  allowBlankStart?: boolean;
  /**
   * Mutual TLS: the cluster CA and this node's certificate (SAN URI `prkdb-node-<id>`). Every
   * node-to-node call and every client call then runs over TLS. Omit to run insecure.
   */
  tls?: TlsFiles;
  /** How often to look for rotated TLS files, besides SIGHUP. Default 10000 ms; 0 for never. */
  tlsReloadMs?: number;
  /** A file of client bearer tokens, lines of `<role> <token>`. */
  tokenFile?: string;
  /** Request and connection limits. */
  limits?: Partial<HttpLimits>;
  /** Serve the cluster view's demo actions (transfer a leader). Off by default. */
  demoActions?: boolean;
  /** With `demoActions`: the demo launcher's node control URL (pause, kill, restart nodes). */
  demoControl?: string;
}

/** How often a node pulls the other members' address books. */
const PULL_MEMBERS_MS = 3000;

/** A running node. */
export interface RunningNode {
  /** The node's Multi-Raft host. */
  readonly host: MultiRaftHost;
  /** Its HTTP server. */
  readonly server: NodeServer;
  /** The host name it listens on. */
  readonly hostname: string;
  /** Its metrics. */
  readonly metrics: PrkDbMetrics;
  /** The node's health, per partition: the same document as `GET /health`. */
  health(): NodeHealthJson;
  /** The node's replication state (last change, changes applied, sync, errors). */
  state(): NodeStateJson;
  /** Stops serving, then stops the host (which closes storage). */
  stop(): Promise<void>;
}

/**
 * Opens the configured storage backend. File and KV storage go through the data directory's
 * lock and identity check (see storage/data_dir.ts).
 */
export async function openStorage(
  kind: StorageKind,
  dataDir: string | undefined,
  node: Pick<NodeConfig, "id" | "partitions" | "cluster" | "allowBlankStart"> & {
    placement: readonly NodeId[];
  },
): Promise<RaftStorage> {
  if (kind === "memory") return new MemoryStorage();
  if (!dataDir) throw new Error(`--data-dir is required with --storage ${kind}`);
  const open = (dir: string) =>
    kind === "file" ? FileStorage.open(dir) : KvStorage.open(`${dir}/prkdb.sqlite`);
  return await openDataDir(dataDir, {
    open,
    allowBlankStart: node.allowBlankStart,
    identity: {
      cluster: node.cluster ?? "prkdb",
      node: node.id,
      partitions: node.partitions,
      members: [...node.placement].sort((a, b) => a - b),
      storage: kind,
      storageFormat: kind === "file" ? FileStorage.formatVersion : KvStorage.formatVersion,
    },
  });
}

/**
 * Classifies a failed RPC the way the leader-follower design does: the peer could not be
 * reached (`connection_error`), it refused the batch (`sync_failed`), or it failed to persist
 * or apply it (`apply_failed`).
 */
export function syncErrorType(error: unknown): SyncErrorType {
  const e = ConnectError.from(error);
  if (e.code === Code.Internal || e.code === Code.DataLoss) return "apply_failed";
  if (
    [Code.Unavailable, Code.DeadlineExceeded, Code.Unknown, Code.Canceled, Code.Aborted].includes(
      e.code,
    )
  ) {
    return "connection_error";
  }
  return "sync_failed";
}

/**
 * Whether a failed RPC was refused by the peer (it answered with an error) rather than lost on
 * the way. A peer of an earlier version that serves no stream answers `unimplemented`: it is
 * then talked to with unary calls, so that is no refusal.
 */
function isRefusal(error: unknown): boolean {
  if (error === undefined) return false;
  const e = ConnectError.from(error);
  return syncErrorType(e) !== "connection_error" && e.code !== Code.Unimplemented;
}

/**
 * Starts a node.
 *
 * @param config The node's configuration.
 * @returns The running node.
 */
export async function startNode(config: NodeConfig): Promise<RunningNode> {
  const scheme = config.tls ? "https" : "http";
  const cluster = config.cluster ?? "prkdb";
  // The address book: the data directory's copy, else the one a joining node was given, else
  // --peers at the cluster's first start.
  // Memory storage keeps nothing across restarts, so neither does its address book.
  const bookDir = config.storage === "memory" ? undefined : config.dataDir;
  const stored = bookDir ? await MemberTable.read(bookDir) : undefined;
  const table = stored ?? MemberTable.create(
    config.members ?? {
      cluster,
      partitions: config.partitions,
      replicationFactor: config.replicationFactor ?? 3,
      placement: [...config.peers.keys()].sort((a, b) => a - b),
      members: Object.fromEntries(
        [...config.peers].map(([id, address]) => [id, { address, version: 1, removed: false }]),
      ),
    },
    bookDir,
  );
  if (!stored && config.members) {
    const id = config.id;
    if (config.members.placement.includes(id) || config.members.members[id]?.removed) {
      throw new Error(
        `node ${id} cannot join: the cluster already used that id; join under a new id`,
      );
    }
  }
  if (stored && stored.json.cluster !== cluster) {
    throw new Error(
      `${config.dataDir}: this data dir belongs to cluster ${stored.json.cluster}, started with --cluster ${cluster}`,
    );
  }
  const placement = table.json.placement;
  if (stored && config.peers.size > 0) {
    // --peers on a later start must name the members this data dir knows: the first ones, or
    // today's. Anything else would start partition groups on another placement.
    const ids = (list: Iterable<number>) => [...list].sort((a, b) => a - b).join(",");
    const named = ids(config.peers.keys());
    if (named !== ids(placement) && named !== ids(table.addresses().keys())) {
      throw new NodeIdentityError(
        join(bookDir!, MEMBERS_FILE),
        `this node knew members ${ids(placement)}, started with --peers naming ${named}` +
          (ids(placement) === ids(table.addresses().keys())
            ? ""
            : ` (its members now: ${ids(table.addresses().keys())})`) +
          `; leave --peers out (the data dir has the members), and change members with ` +
          `serve --join and cli.ts member`,
      );
    }
  }
  const urls = new Map<NodeId, string>();
  const own = table.addresses().get(config.id) ?? config.peers.get(config.id);
  if (!own) {
    throw new Error(
      table.json.members[config.id]?.removed
        ? `node ${config.id} was removed from the cluster; ids are not reused`
        : `--peers must include this node (${config.id})`,
    );
  }
  const tokens = config.tokenFile ? await TokenStore.load(config.tokenFile) : undefined;
  const tls = config.tls ? await TlsReloader.open(config.tls) : undefined;
  const peerHttp = tls ? tlsHttp(tls) : undefined;
  const tickMs = config.tickMs ?? 100;
  const storage = await openStorage(config.storage, config.dataDir, { ...config, placement });
  if (!stored) await table.save(); // the identity check passed: this is a first start
  // The host reports to the metrics, so they come first; they read the host once it exists.
  // A peer counts as connected if an RPC to it succeeded within two election timeouts.
  const metrics = new PrkDbMetrics(config.id, undefined, 2 * 20 * tickMs);
  const applied = new AppliedCounter();
  const activity = new ActivityRecorder();
  const transport = new ConnectRaftTransport({
    self: config.id,
    cluster,
    peers: new Map(),
    fetch: peerHttp?.fetch,
    streamFetch: http1Stream(tls),
    onCall: (peer, rpc, _entries, seconds, error) =>
      metrics.rpc(
        peer,
        rpc,
        seconds,
        error === undefined ? undefined : syncErrorType(error),
        error,
        isRefusal(error),
      ),
    onSent: (peer, rpc, entries, seconds) => metrics.sent(peer, rpc, entries, seconds),
  });
  // Keep the URLs (which the server's stranger check, forwarding and the status document read)
  // and the transport in step with the address book.
  const follow = () => {
    const live = table.addresses();
    for (const id of urls.keys()) if (!live.has(id)) urls.delete(id);
    for (const [id, address] of live) urls.set(id, `${scheme}://${address}`);
    transport.setPeers(urls);
  };
  follow();
  table.onChange(follow);
  const host = await MultiRaftHost.start({
    nodeId: config.id,
    members: placement,
    clusterMembers: () => [...urls.keys()],
    partitions: config.partitions,
    replicationFactor: config.replicationFactor,
    storage,
    // Counts what is sent, for the status document.
    transport: {
      send: (to, messages) => {
        activity.sent(messages.length);
        transport.send(to, messages);
      },
      ping: (to, leading) => transport.ping(to, leading),
      close: () => transport.close(),
    },
    tickMs,
    compaction: config.compaction ?? { entries: 10_000 },
    followWrites: config.followWrites,
    observer: {
      events: (p, events) => {
        metrics.events(p, events);
        activity.events(p, events);
      },
      proposal: (p, outcome, seconds) => {
        metrics.proposal(p, outcome, seconds);
        activity.proposal();
      },
      storageWrite: (seconds) => metrics.storageWrite(seconds),
      applied: (p, count, index) => {
        metrics.applied(p, count);
        applied.record(p, count, index);
      },
      snapshotTaken: (p) => metrics.snapshotTaken(p),
      duplicate: (p) => metrics.duplicate(p),
      handedOff: (p, _to, reason) => metrics.handedOff(p, reason),
    },
  }).catch(async (error) => {
    // A refused recovery must not keep the data directory locked.
    await transport.close();
    await storage.close().catch(() => {});
    await metrics.shutdown();
    throw error;
  });
  metrics.watch({
    partitions: () => host.status(),
    replication: () => host.replication(),
    loopUtilization: () => host.takeLoopUtilization(),
  });
  // Nodes that missed a push of the address book catch up by pulling each other's copies.
  const pulling = setInterval(
    () => void pullTables({ table, nodes: urls, host, fetch: peerHttp?.fetch }),
    PULL_MEMBERS_MS,
  );
  const [hostname, port] = own.split(":");
  const listen = config.listen ?? { hostname, port: Number(port) };
  let server: NodeServer;
  try {
    server = await startNodeServer({
      host,
      cluster,
      nodes: urls,
      hostname: listen.hostname,
      port: listen.port,
      metrics,
      applied,
      onRefused: (reason, count) => metrics.refused(reason, count),
      tls,
      tokens,
      limits: config.limits,
      onHttpRefused: (reason) => metrics.requestRefused(reason),
      onHttpServed: (lane) => metrics.requestServed(lane),
      fetch: peerHttp?.fetch,
      activity,
      demoActions: config.demoActions,
      demoControl: config.demoActions ? config.demoControl : undefined,
      members: table,
      peers: transport,
    });
  } catch (error) {
    clearInterval(pulling);
    peerHttp?.close();
    await host.stop();
    await metrics.shutdown();
    throw error;
  }
  tls?.watch(config.tlsReloadMs ?? 10_000);
  return {
    host,
    server,
    hostname: listen.hostname,
    metrics,
    health: () => nodeHealth(host, metrics),
    state: () => nodeState(metrics, applied),
    async stop() {
      clearInterval(pulling);
      tls?.close();
      await server.close();
      peerHttp?.close();
      await host.stop();
      await metrics.shutdown();
    },
  };
}
