/**
 * The replica runtime: what drives the pure Raft core on a real node. A
 * {@linkcode MultiRaftHost} composes one {@linkcode Replica} per partition over one storage
 * and one transport and carries out the Ready contract for all of them in rounds
 * ({@linkcode runRound}): persist, send, apply, settle writes and reads, advance, compact.
 * Time comes from a {@linkcode Clock}, so tests and the simulation drive it by hand.
 *
 * @example A three-node cluster in one process, driven by hand
 * ```ts
 * import { MemoryNetwork } from "@prkdb/prkdb/partition";
 * import { ManualClock, MultiRaftHost } from "@prkdb/prkdb/runtime";
 * import { MemoryStorage } from "@prkdb/prkdb/storage";
 * const net = new MemoryNetwork();
 * const clock = new ManualClock();
 * const hosts = await Promise.all([1, 2, 3].map((id) =>
 *   MultiRaftHost.start({
 *     nodeId: id, members: [1, 2, 3], partitions: 1, storage: new MemoryStorage(),
 *     transport: net.transport(id), clock, drive: "manual",
 *   })
 * ));
 * hosts.forEach((h, i) => net.register(i + 1, (from, m, leading) => h.receive(from, m, leading)));
 * for (let t = 0; t < 40 && hosts.every((h) => h.leaderOf(0) === 0); t++) {
 *   clock.advance(100);
 *   hosts.forEach((h) => h.tick());
 *   for (let i = 0; i < 5; i++) await Promise.all(hosts.map((h) => h.flush()));
 * }
 * console.log(hosts[0].leaderOf(0) > 0); // true
 * await Promise.all(hosts.map((h) => h.stop()));
 * ```
 *
 * @module
 */
export * from "./clock.ts";
export * from "./options.ts";
export * from "./requests.ts";
export * from "./deadlines.ts";
export * from "./client_requests.ts";
export * from "./write_result.ts";
export * from "./reads.ts";
export * from "./read_batch.ts";
export * from "./replica.ts";
export * from "./durability.ts";
export * from "./round.ts";
export * from "./round_loop.ts";
export * from "./leader_balance.ts";
export * from "./write_origins.ts";
export * from "./node_liveness.ts";
export * from "./replication_lag.ts";
export * from "./change_feed.ts";
export * from "./change_history.ts";
export * from "./loop_utilization.ts";
export * from "./kv_api.ts";
export * from "./multi_raft_host.ts";
