/**
 * Running PrkDB nodes from code: `startNode` assembles storage, the Multi-Raft host, the
 * Connect-RPC transport, metrics and the server (the CLI's `serve` uses it), and gives the
 * node's health and replication state. With `tls` set, every call between nodes and from
 * clients runs over mutual TLS; `initCertificates` makes a development CA and certificates, and
 * `TokenStore` checks client bearer tokens (see docs/security.md).
 *
 * @example A one-node database in memory
 * ```ts ignore
 * import { startNode } from "@prkdb/prkdb/server";
 * const node = await startNode({ id: 1, peers: new Map([[1, "127.0.0.1:8081"]]), partitions: 4, storage: "memory" });
 * console.log(node.health().healthy);
 * await node.stop();
 * ```
 *
 * @module
 */
export {
  type NodeConfig,
  openStorage,
  type RunningNode,
  startNode,
  type StorageKind,
  syncErrorType,
} from "./node.ts";
export type { NodeServer } from "./node_server.ts";
export type { MemberEntry, MemberTableJson } from "./member_table.ts";
export {
  type Access,
  accessFor,
  authorize,
  type Caller,
  callerFromCertificate,
  type Decision,
  type PeerCertificate,
  type Role,
  TokenFileError,
  TokenStore,
  VERIFIED_NODE,
} from "./auth.ts";
export {
  CertificateError,
  type CertOptions,
  CLIENT_CERTS,
  initCertificates,
  renewCertificates,
} from "./certs.ts";
export {
  DEFAULT_HTTP_LIMITS,
  type HttpLimits,
  type HttpServer,
  type HttpServerOptions,
  type RefusalReason,
  startHttpServer,
} from "./http_server.ts";
export type { UnaryAnswer, UnaryCall } from "./unary_fast_path.ts";
export {
  encodeAnswer,
  LEAN_HEAD_LIMIT,
  type LeanLaneHooks,
  parseRequestHead,
  type RequestHead,
  serveLeanLane,
  type StreamSink,
} from "./lean_http1.ts";
export { ChunkedBody, ChunkedBodyError } from "../rpc/chunked_body.ts";
export { MAX_WIRE_NUMBER } from "../rpc/raft_codec.ts";
export {
  loadTlsFiles,
  TlsConfigError,
  type TlsFiles,
  type TlsHttp,
  tlsHttp,
  type TlsMaterial,
  TlsReloader,
} from "../rpc/tls.ts";
export type { NodeHealthJson, NodeStateJson, PartitionHealthJson } from "./health.ts";
export { type ActivityCounts, type ActivityEvent, ActivityRecorder } from "./activity.ts";
export {
  buildClusterStatus,
  buildNodeStatus,
  type ClusterStatusJson,
  type ClusterStatusOptions,
  type NodeEntryJson,
  type NodeStatusJson,
  type ReplicaStatusJson,
  sharedBuild,
  STATUS_VERSION,
} from "./status_document.ts";
