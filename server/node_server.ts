/**
 * One port per node serves everything: the peer RaftService, the client KvService (Connect,
 * gRPC-web and Connect JSON, so curl works), the change feed, `/health` and `/metrics`. With TLS
 * configured, members prove who they are with certificates and a Raft batch must come from the
 * node its certificate names; clients present a certificate or a bearer token.
 *
 * @module
 */
import { Code, ConnectError, createConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import type { NodeId } from "../raft/types.ts";
import type { MultiRaftHost } from "../runtime/multi_raft_host.ts";
import { Deadlines } from "../runtime/deadlines.ts";
import { systemClock } from "../runtime/clock.ts";
import type { PrkDbMetrics } from "../telemetry/prkdb_metrics.ts";
import { KvStateMachine } from "../partition/kv_state_machine.ts";
import { type TokenStore, VERIFIED_NODE } from "./auth.ts";
import {
  DEFAULT_HTTP_LIMITS,
  type HttpLimits,
  type RefusalReason,
  startHttpServer,
} from "./http_server.ts";
import type { TlsMaterial } from "../rpc/tls.ts";
import { AdminService } from "../rpc/gen/prkdb/v1/admin_pb.ts";
import {
  DeleteRequestSchema,
  DeleteResponseSchema,
  ForwardRequestSchema,
  ForwardResponseSchema,
  GetRequestSchema,
  GetResponseSchema,
  KvService,
  PutRequestSchema,
  PutResponseSchema,
} from "../rpc/gen/prkdb/v1/kv_pb.ts";
import { leanUnary } from "./unary_fast_path.ts";
import {
  RAFT_STREAM_PATH,
  RAFT_STREAM_TYPE,
  raftStreamSink,
  receiveRaftStream,
} from "./raft_stream.ts";
import { ReplicationService } from "../rpc/gen/prkdb/v1/replication_pb.ts";
import { type AppliedCounter, nodeHealth, nodeState } from "./health.ts";
import {
  RaftAckSchema,
  type RaftBatch,
  RaftBatchSchema,
  RaftService,
} from "../rpc/gen/prkdb/v1/raft_pb.ts";
import { type ReceivedBatch, receivedFromGenerated } from "../rpc/raft_read.ts";
import { createKvService } from "./kv_service.ts";
import { StreamedWrites, type WriteLink } from "./streamed_writes.ts";
import { MOVE_LEADER_PATH, moveLeader } from "./admin_http.ts";
import { changeMembership, MEMBERSHIP_PATH } from "./admin_membership.ts";
import { relayNodeAction } from "./demo_control.ts";
import { MEMBERS_PATH, serveMembers } from "./admin_members.ts";
import { PARTITION_SNAPSHOT_PATH, partitionSnapshot } from "./admin_snapshot.ts";
import type { MemberTable } from "./member_table.ts";
import { partitionChange } from "./partition_change.ts";
import { ActivityRecorder } from "./activity.ts";
import { buildClusterStatus, buildNodeStatus, sharedBuild } from "./status_document.ts";
import { uiPage } from "./ui_page.ts";
import { TRANSFER_LEADER_PATH, transferLeader } from "./demo_actions.ts";
import { MalformedMessageError, type RaftRpc, rpcFor } from "../rpc/raft_codec.ts";

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
  /** The node's metrics, served at `/metrics` and used for health. */
  metrics: PrkDbMetrics;
  /** Applied changes, for the state document. */
  applied: AppliedCounter;
  /** Observes refused Raft traffic, with the reason. */
  onRefused?: (reason: string, count: number) => void;
  /** Serve HTTPS with mutual TLS using this material; omit to serve plain HTTP (insecure). */
  tls?: { readonly current: TlsMaterial; onChange(listener: (m: TlsMaterial) => void): void };
  /** Bearer tokens for clients. */
  tokens?: TokenStore;
  /** Request and connection limits. */
  limits?: Partial<HttpLimits>;
  /** Observes refused connections and requests, with the reason. */
  onHttpRefused?: (reason: RefusalReason) => void;
  /** Observes each request served, by lane: lean (parsed by hand) or general. */
  onHttpServed?: (lane: "lean" | "general") => void;
  /** Passes other clients' nodes a `fetch` for forwarding (mutual TLS when configured). */
  fetch?: typeof fetch;
  /** The node's activity, for `/status.json` and the `/ui` cluster view. */
  activity?: ActivityRecorder;
  /** Serve the demo actions (`/demo/transfer-leader`). Off by default. */
  demoActions?: boolean;
  /** The demo launcher's node control URL: `/demo/node` and `/demo/nodes` pass to it. */
  demoControl?: string;
  /** The cluster's address book, served at `/admin/members`. */
  members?: MemberTable;
  /**
   * The node's peer streams: writes for partitions another node leads are passed on there, and
   * writes other nodes pass on are served and answered there. Without it, writes are passed on
   * with `Forward` calls, and none are served from streams.
   */
  peers?: WriteLink;
}

/** Why a single-chunk snapshot would not restore, or undefined. */
function snapshotProblem(data: Uint8Array): string | undefined {
  try {
    new KvStateMachine().restore(data);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** The answer to an RPC path asked with another method than POST (a browser, a bare curl). */
function wrongMethod(method: string, path: string): Response {
  return new Response(
    `${method} ${path} is an RPC: use POST with Content-Type: application/json (or ` +
      `application/proto), for example:\n` +
      `  curl -H 'Content-Type: application/json' -d '{}' http://HOST:PORT${path}\n`,
    { status: 405, headers: { allow: "POST", "content-type": "text/plain; charset=utf-8" } },
  );
}

/** A running node server. */
export interface NodeServer {
  /** The port it listens on. */
  readonly port: number;
  /** Whether it serves HTTPS with mutual TLS. */
  readonly secure: boolean;
  /** Stops accepting requests and closes open connections. */
  close(): Promise<void>;
}

/**
 * Starts serving a node on one port.
 *
 * @param options What to serve and where.
 * @returns The server, once it listens.
 */
export async function startNodeServer(options: NodeServerOptions): Promise<NodeServer> {
  const { host } = options;
  const activity = options.activity ?? new ActivityRecorder();
  const secure = options.tls !== undefined;
  // Takes one batch, from a unary call (whose messages must belong to `rpc`) or from a peer's
  // stream (any kind); throws a ConnectError for a batch that must be refused.
  const streamed = options.peers && new StreamedWrites({
    link: options.peers,
    awaitDurable: (partition, index, term, durable) =>
      host.awaitDurable(partition, index, term, durable),
    onDurableAnswer: () => options.metrics.durableNoticeAnswer(),
  });
  const kvParts = createKvService(host, options.nodes, {
    fetch: options.fetch,
    stream: streamed,
    onForwarded: (via, count) => options.metrics.forwarded(via, count),
  });
  const kv = kvParts.service;
  const accept = (batch: ReceivedBatch, verified: string | null, rpc?: RaftRpc): void => {
    // With mutual TLS the certificate decides who is speaking, not the batch.
    if (secure && verified !== String(batch.from)) {
      options.onRefused?.("impostor", batch.messages.length);
      throw new ConnectError(
        `The batch claims node ${batch.from}, the certificate says ${verified ?? "no member"}`,
        Code.PermissionDenied,
      );
    }
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
    try {
      if (rpc !== undefined && (batch.writes.length > 0 || batch.answers.length > 0)) {
        throw new MalformedMessageError(`writes and answers travel on the stream, not in ${rpc}`);
      }
      if (!streamed && batch.writes.length > 0) {
        throw new MalformedMessageError("this node serves no writes passed on in a stream");
      }
      if (batch.writes.some((w) => w.id === 0) || batch.answers.some((a) => a.id === 0)) {
        throw new MalformedMessageError("a write or answer with id 0");
      }
      if (batch.malformed !== undefined) throw new MalformedMessageError(batch.malformed);
      for (const decoded of batch.messages) {
        if (decoded.message.from !== batch.from || decoded.message.to !== host.nodeId) {
          throw new MalformedMessageError(
            `message ${decoded.message.from}->${decoded.message.to} in a batch from ${batch.from} to ${host.nodeId}`,
          );
        }
        if (rpc !== undefined && rpcFor(decoded.message.type) !== rpc) {
          throw new MalformedMessageError(`${decoded.message.type} does not belong in ${rpc}`);
        }
        const d = decoded.message;
        if (d.type === "InstallSnapshot" && d.offset === 0 && d.done) {
          const problem = snapshotProblem(d.data);
          if (problem) throw new MalformedMessageError(`snapshot refused: ${problem}`);
        }
      }
    } catch (error) {
      options.onRefused?.("malformed", batch.messages.length);
      throw new ConnectError((error as Error).message, Code.InvalidArgument);
    }
    const messages = batch.messages;
    activity.received(messages.length);
    const refused = host.receive(
      batch.from,
      messages,
      // An empty bitset means none was sent: a node always sends one bit per partition.
      batch.messages.length === 0 && batch.leading.length > 0 ? batch.leading : undefined,
    );
    if (refused > 0) options.onRefused?.("rejected", refused);
    // Only a batch accepted whole gets here: a refused one served none of its writes.
    if (streamed && batch.answers.length > 0) streamed.answered(batch.from, batch.answers);
    if (streamed && batch.durable.length > 0) streamed.durable(batch.from, batch.durable);
    if (streamed && batch.writes.length > 0) {
      streamed.serve(batch.from, batch.writes, kvParts.serveStreamed);
    }
  };
  // A ping's answer says whether this node serves writes passed on in a stream's batches.
  const receive = (rpc: RaftRpc) => (batch: RaftBatch, ctx: HandlerContext) => {
    accept(receivedFromGenerated(batch), ctx.requestHeader.get(VERIFIED_NODE), rpc);
    return { servesWrites: streamed !== undefined };
  };
  // Strict JSON: an unknown field or enum name is an error, not a silent default.
  // Streams are bounded per message, like a unary peer call's body.
  const peerBodyLimit = options.limits?.maxPeerBodyBytes ?? DEFAULT_HTTP_LIMITS.maxPeerBodyBytes;
  const router = createConnectRouter({
    jsonOptions: { ignoreUnknownFields: false },
    readMaxBytes: peerBodyLimit,
  });
  router.service(RaftService, {
    vote: receive("vote"),
    appendEntries: receive("appendEntries"),
    heartbeat: receive("heartbeat"),
    installSnapshot: receive("installSnapshot"),
    readIndex: receive("readIndex"),
    // A peer's long-lived stream: each batch is checked like a unary call's, and a refused one
    // ends the stream (the peer opens a new one for its next batch).
    async stream(batches, ctx) {
      for await (const batch of batches) {
        accept(receivedFromGenerated(batch), ctx.requestHeader.get(VERIFIED_NODE));
      }
      return {};
    },
  });

  router.service(KvService, kv);
  // The hottest calls take a lean path that speaks the same protocol (see unary_fast_path.ts).
  // One timer for the time limits of all of the lean path's calls.
  const timeLimits = new Deadlines(systemClock);
  const lean: typeof leanUnary = (method) => leanUnary(method, timeLimits);
  const fast = new Map([
    [
      "/prkdb.v1.KvService/Put",
      lean({ input: PutRequestSchema, output: PutResponseSchema, call: kv.put! }),
    ],
    [
      "/prkdb.v1.KvService/Get",
      lean({ input: GetRequestSchema, output: GetResponseSchema, call: kv.get! }),
    ],
    [
      "/prkdb.v1.KvService/Delete",
      lean({ input: DeleteRequestSchema, output: DeleteResponseSchema, call: kv.delete! }),
    ],
    [
      // Liveness pings, a few per second between every pair of nodes, idle or not.
      `/${RaftService.typeName}/Heartbeat`,
      lean({ input: RaftBatchSchema, output: RaftAckSchema, call: receive("heartbeat") }),
    ],
    [
      "/prkdb.v1.KvService/Forward",
      lean({ input: ForwardRequestSchema, output: ForwardResponseSchema, call: kv.forward! }),
    ],
  ]);
  router.service(ReplicationService, {
    getChanges() {
      throw new ConnectError(
        "This is a Raft node: read partition change feeds with GetPartitionChanges",
        Code.Unimplemented,
      );
    },
    getPartitionChanges(req) {
      if (!host.isReplica(req.partition)) {
        const replicas = host.replicasOf(req.partition);
        throw new ConnectError(
          `Node ${host.nodeId} does not replicate partition ${req.partition}; its replicas are ${
            replicas.join(", ")
          }`,
          Code.FailedPrecondition,
        );
      }
      const feed = host.changeFeed(
        req.partition,
        Number(req.afterIndex),
        Math.min(req.limit || 100, 1000),
      );
      if (feed.kind === "snapshot") {
        return {
          appliedIndex: BigInt(feed.appliedIndex),
          snapshot: feed.data,
          snapshotIndex: BigInt(feed.index),
          changes: [],
        };
      }
      return {
        appliedIndex: BigInt(feed.appliedIndex),
        changes: feed.entries.map(partitionChange),
      };
    },
  });
  router.service(AdminService, {
    health() {
      const h = nodeHealth(host, options.metrics);
      return {
        healthy: h.healthy,
        node: h.node,
        reason: h.reason ?? "",
        partitions: h.partitions.map((p) => ({
          ...p,
          reason: p.reason ?? "",
          term: BigInt(p.term),
          commitIndex: BigInt(p.commitIndex),
          lastApplied: BigInt(p.lastApplied),
          backlogEntries: BigInt(p.backlogEntries),
        })),
      };
    },
    state() {
      const s = nodeState(options.metrics, options.applied);
      return { ...s, changesApplied: BigInt(s.changesApplied), errorCount: BigInt(s.errorCount) };
    },
  });
  const clusterStatus = sharedBuild(() =>
    buildClusterStatus({
      cluster: options.cluster,
      self: host.nodeId,
      partitions: host.map.partitions,
      nodes: options.nodes,
      local: buildNodeStatus(host, options.metrics, activity),
      fetch: options.fetch,
      demoActions: options.demoActions,
      nodeActions: options.demoActions === true && options.demoControl !== undefined,
    })
  );
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, createFetchHandler(h)]));
  const server = await startHttpServer({
    hostname: options.hostname,
    port: options.port,
    tls: options.tls,
    tokens: options.tokens,
    limits: options.limits,
    onRefused: options.onHttpRefused,
    onServed: options.onHttpServed,
    streamingPaths: new Set([RAFT_STREAM_PATH]),
    streamSink(path, header, caller) {
      // Binary streams only; a JSON stream goes to the Connect router.
      if (path !== RAFT_STREAM_PATH || header("content-type") !== RAFT_STREAM_TYPE) {
        return undefined;
      }
      // The caller's verified member id, as for the general path; never the caller's own.
      const verified = caller?.node === undefined ? null : String(caller.node);
      return raftStreamSink((batch) => accept(batch, verified), peerBodyLimit);
    },
    direct(path, call, caller) {
      const lean = fast.get(path);
      if (!lean) return undefined;
      // The caller's verified member id, as the handler below sets it; never the caller's own.
      const verified = caller?.node === undefined ? null : String(caller.node);
      return lean({
        ...call,
        header: (name) => name === VERIFIED_NODE ? verified : call.header(name),
      });
    },
    handler(request, caller) {
      request.headers.delete(VERIFIED_NODE);
      if (caller?.node !== undefined) request.headers.set(VERIFIED_NODE, String(caller.node));
      const path = new URL(request.url).pathname;
      const handler = handlers.get(path);
      if (handler && request.method !== "POST") return wrongMethod(request.method, path);
      if (
        path === RAFT_STREAM_PATH && request.method === "POST" &&
        request.headers.get("content-type") === RAFT_STREAM_TYPE
      ) {
        const verified = request.headers.get(VERIFIED_NODE);
        return receiveRaftStream(request, (batch) => accept(batch, verified), peerBodyLimit);
      }
      if (handler) return handler(request);
      if (path === "/health") {
        const health = nodeHealth(host, options.metrics);
        const state = nodeState(options.metrics, options.applied);
        return Response.json({ ...health, state }, { status: health.healthy ? 200 : 503 });
      }
      if (path === "/status.json") {
        if (new URL(request.url).searchParams.get("scope") === "node") {
          return Response.json(buildNodeStatus(host, options.metrics, activity));
        }
        return clusterStatus().then((doc) =>
          Response.json(doc, { headers: { "cache-control": "no-store" } })
        );
      }
      if (path === "/ui") return uiPage();
      // Browsers ask for it with every page: no icon, and no error in the page's console.
      if (path === "/favicon.ico") return new Response(null, { status: 204 });
      if ((path === "/demo/node" || path === "/demo/nodes") && options.demoActions) {
        if (options.demoControl) return relayNodeAction(request, options.demoControl);
      }
      if (path === TRANSFER_LEADER_PATH && options.demoActions) {
        return transferLeader(request, host, options.nodes, options.fetch);
      }
      if (path === MEMBERS_PATH && options.members) {
        return serveMembers(request, {
          host,
          table: options.members,
          nodes: options.nodes,
          fetch: options.fetch,
        });
      }
      if (path === PARTITION_SNAPSHOT_PATH) {
        return partitionSnapshot(request, { host, nodes: options.nodes, fetch: options.fetch });
      }
      if (path === MEMBERSHIP_PATH) {
        return changeMembership(request, { host, nodes: options.nodes, fetch: options.fetch });
      }
      if (path === MOVE_LEADER_PATH) {
        return moveLeader(request, { host, nodes: options.nodes, fetch: options.fetch });
      }
      if (path === "/metrics") {
        return options.metrics.scrape().then((text) =>
          new Response(text, {
            headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
          })
        );
      }
      return new Response(
        `No route for ${path}. Try /ui, /status.json, /health, /metrics, or POST /prkdb.v1.KvService/Get\n`,
        { status: 404 },
      );
    },
  });
  return server;
}
