/**
 * A whole PrkDB node: storage, the Multi-Raft host, the Connect transport to peers, and the
 * server, assembled from one configuration. The CLI's `serve` runs one of these.
 *
 * @module
 */
import type { NodeId } from "../raft/types.ts";
import { MultiRaftHost } from "../partition/multi_raft_host.ts";
import type { CompactionPolicy } from "../partition/compaction.ts";
import { FileStorage } from "../storage/file_storage.ts";
import { KvStorage } from "../storage/kv_storage.ts";
import { MemoryStorage } from "../storage/memory_storage.ts";
import type { RaftStorage } from "../storage/raft_storage.ts";
import { type NodeServer, startNodeServer } from "./node_server.ts";
import { ConnectRaftTransport } from "./raft_transport.ts";

/** Which storage backend a node uses. */
export type StorageKind = "file" | "kv" | "memory";

/** Everything a node needs. */
export interface NodeConfig {
  /** This node's id. */
  id: NodeId;
  /** Every member's `host:port`, this node included. */
  peers: ReadonlyMap<NodeId, string>;
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
}

/** A running node. */
export interface RunningNode {
  readonly host: MultiRaftHost;
  readonly server: NodeServer;
  /** Stops serving, then stops the host (which closes storage). */
  stop(): Promise<void>;
}

/** Opens the configured storage backend. */
export function openStorage(kind: StorageKind, dataDir: string | undefined): Promise<RaftStorage> {
  if (kind === "memory") return Promise.resolve(new MemoryStorage());
  if (!dataDir) throw new Error(`--data-dir is required with --storage ${kind}`);
  return kind === "file"
    ? FileStorage.open(dataDir)
    : Deno.mkdir(dataDir, { recursive: true }).then(() =>
      KvStorage.open(`${dataDir}/prkdb.sqlite`)
    );
}

/**
 * Starts a node.
 *
 * @param config The node's configuration.
 * @returns The running node.
 */
export async function startNode(config: NodeConfig): Promise<RunningNode> {
  const urls = new Map([...config.peers].map(([id, addr]) => [id, `http://${addr}`]));
  const cluster = config.cluster ?? "prkdb";
  const storage = await openStorage(config.storage, config.dataDir);
  const transport = new ConnectRaftTransport({ self: config.id, cluster, peers: urls });
  const host = await MultiRaftHost.start({
    nodeId: config.id,
    members: [...config.peers.keys()],
    partitions: config.partitions,
    replicationFactor: config.replicationFactor,
    storage,
    transport,
    tickMs: config.tickMs,
    compaction: config.compaction ?? { entries: 10_000 },
  });
  const own = config.peers.get(config.id);
  if (!own) throw new Error(`--peers must include this node (${config.id})`);
  const [hostname, port] = own.split(":");
  const listen = config.listen ?? { hostname, port: Number(port) };
  let server: NodeServer;
  try {
    server = startNodeServer({
      host,
      cluster,
      nodes: urls,
      hostname: listen.hostname,
      port: listen.port,
    });
  } catch (error) {
    await host.stop();
    throw error;
  }
  return {
    host,
    server,
    async stop() {
      await server.close();
      await host.stop();
    },
  };
}
