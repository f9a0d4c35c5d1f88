/**
 * One HTTP port per node serves everything: the peer RaftService, the client KvService
 * (Connect, gRPC-web and Connect JSON, so curl works), and `/health`.
 *
 * @module
 */
import { Code, ConnectError, createConnectRouter } from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import type { NodeId } from "../raft/types.ts";
import type { MultiRaftHost } from "../partition/multi_raft_host.ts";
import type { PartitionMessage } from "../partition/transport.ts";
import { KvService } from "./gen/prkdb/v1/kv_pb.ts";
import { type RaftBatch, RaftService } from "./gen/prkdb/v1/raft_pb.ts";
import { createKvService } from "./kv_service.ts";
import { decodeRaftMessage, MalformedMessageError, type RaftRpc, rpcFor } from "./raft_codec.ts";

/** Options for {@linkcode startNodeServer}. */
export interface NodeServerOptions {
  /** The node's host. */
  host: MultiRaftHost;
  /** Cluster name: Raft batches from another cluster are refused. */
  cluster: string;
  /** Every member's base URL. */
  nodes: ReadonlyMap<NodeId, string>;
  /** Address to listen on. */
  hostname: string;
  /** Port to listen on (0 for any). */
  port: number;
  /** Extra routes (for example `/metrics`), tried before 404. */
  routes?: Record<string, (request: Request) => Response | Promise<Response>>;
  /** Observes refused Raft traffic, with the reason. */
  onRefused?: (reason: string, count: number) => void;
}

/** A running node server. */
export interface NodeServer {
  /** The port it listens on. */
  readonly port: number;
  /** Stops accepting requests and closes open connections. */
  close(): Promise<void>;
}

/** The `/health` document. */
export function healthOf(
  host: MultiRaftHost,
): { healthy: boolean; node: NodeId; partitions: unknown[]; reason?: string } {
  const partitions = host.status().map((s) => ({
    partition: s.partition,
    role: s.raft.role,
    leader: s.raft.leaderId,
    term: s.raft.term,
    commitIndex: s.raft.commitIndex,
    lastApplied: s.raft.lastApplied,
  }));
  const leaderless = partitions.filter((p) => p.leader === 0).map((p) => p.partition);
  return {
    healthy: leaderless.length === 0,
    node: host.nodeId,
    partitions,
    ...(leaderless.length > 0
      ? { reason: `partitions without a leader: ${leaderless.join(", ")}` }
      : {}),
  };
}

/**
 * Starts serving a node on one port.
 *
 * @param options What to serve and where.
 * @returns The server.
 */
export function startNodeServer(options: NodeServerOptions): NodeServer {
  const { host } = options;
  const receive = (rpc: RaftRpc) => (batch: RaftBatch) => {
    if (batch.cluster !== options.cluster) {
      options.onRefused?.("foreign_cluster", batch.messages.length);
      throw new ConnectError(
        `Batch from cluster "${batch.cluster}", this is "${options.cluster}"`,
        Code.PermissionDenied,
      );
    }
    if (!options.nodes.has(batch.from) || batch.from === host.nodeId) {
      options.onRefused?.("stranger", batch.messages.length);
      throw new ConnectError(
        `Node ${batch.from} is not a peer of node ${host.nodeId}`,
        Code.PermissionDenied,
      );
    }
    const messages: PartitionMessage[] = [];
    try {
      for (const m of batch.messages) {
        const decoded = decodeRaftMessage(m);
        if (decoded.message.from !== batch.from || decoded.message.to !== host.nodeId) {
          throw new MalformedMessageError(
            `message ${decoded.message.from}->${decoded.message.to} in a batch from ${batch.from} to ${host.nodeId}`,
          );
        }
        if (rpcFor(decoded.message.type) !== rpc) {
          throw new MalformedMessageError(`${decoded.message.type} does not belong in ${rpc}`);
        }
        messages.push(decoded);
      }
    } catch (error) {
      options.onRefused?.("malformed", batch.messages.length);
      throw new ConnectError((error as Error).message, Code.InvalidArgument);
    }
    const refused = host.receive(batch.from, messages);
    if (refused > 0) options.onRefused?.("rejected", refused);
    return {};
  };
  const router = createConnectRouter();
  router.service(RaftService, {
    vote: receive("vote"),
    appendEntries: receive("appendEntries"),
    heartbeat: receive("heartbeat"),
    installSnapshot: receive("installSnapshot"),
    readIndex: receive("readIndex"),
  });
  router.service(KvService, createKvService(host, options.nodes));
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, createFetchHandler(h)]));
  const server = Deno.serve(
    { hostname: options.hostname, port: options.port, onListen() {} },
    (request) => {
      const path = new URL(request.url).pathname;
      const handler = handlers.get(path);
      if (handler) return handler(request);
      if (path === "/health") {
        const health = healthOf(host);
        return Response.json(health, { status: health.healthy ? 200 : 503 });
      }
      const route = options.routes?.[path];
      if (route) return route(request);
      return new Response(`No route for ${path}. Try /health, or POST /prkdb.v1.KvService/Get\n`, {
        status: 404,
      });
    },
  );
  return {
    port: server.addr.port,
    close: () => server.shutdown(),
  };
}
