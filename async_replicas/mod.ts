/**
 * Leader-follower replication, PrkDB's first design: a database of typed collections whose
 * leader records every change in an ordered outbox, and followers that pull changes by offset,
 * apply them atomically with the offset, back off on errors and report health, state and the
 * `prkdb_replication_*` metrics. Beside Multi-Raft it serves as asynchronous read replicas.
 *
 * @example A leader with one follower (see examples/replication.ts)
 * ```ts ignore
 * import { PrkDb, ReplicationManager } from "@prkdb/prkdb/async-replicas";
 * interface Order { id: string; amount: number }
 * const db = PrkDb.builder().registerCollection<Order>({ name: "orders", key: (o) => o.id }).build();
 * const leader = new ReplicationManager(db, {
 *   selfNode: { id: "leader-1", address: "127.0.0.1:8080" },
 *   followers: [{ id: "follower-1", address: "127.0.0.1:8081" }],
 * });
 * await leader.start();
 * await db.collection<Order>("orders").put({ id: "o-1", amount: 10 });
 * ```
 *
 * @module
 */
export * from "./document_storage.ts";
export * from "./prkdb.ts";
export * from "./replication_manager.ts";
export * from "./raft_follower.ts";
export * from "./metrics_server.ts";
