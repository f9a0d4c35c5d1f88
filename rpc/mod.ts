/**
 * Running PrkDB nodes from code: `startNode` assembles storage, the Multi-Raft host, the
 * Connect-RPC transport, metrics and the server (the CLI's `serve` uses it), and gives the
 * node's health and replication state.
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
export type { NodeHealthJson, NodeStateJson, PartitionHealthJson } from "./health.ts";
