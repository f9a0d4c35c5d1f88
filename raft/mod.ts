/**
 * The Raft consensus core of PrkDB: pure, synchronous and deterministic.
 *
 * The core does no I/O. It has no timers, no clock, no randomness of its own and no `await`.
 * A runtime drives it with logical ticks, messages from peers, proposals and reads, and
 * performs the work it hands back in a {@linkcode Ready}: persist, then send, then apply, then
 * `advance`. The same core runs in the deterministic simulation, the golden interaction tests
 * and the real cluster.
 *
 * Roles are explicit classes (`Follower`, `Candidate`, `Leader`) that own their state; the node
 * applies the rules every role shares and delegates the rest. Implemented: leader election with
 * randomized timeouts, PreVote, CheckQuorum, log replication with fast back-off, batching and
 * pipelining, no-op on election, leadership transfer, ReadIndex (leader and follower reads),
 * snapshots (InstallSnapshot), and single-server membership changes with learners.
 *
 * @example A three-node group, driven by hand
 * ```ts
 * import { type Message, RaftNode, SeededRandom } from "@prkdb/prkdb/raft";
 * import { assert } from "@std/assert";
 *
 * const voters = [1, 2, 3];
 * const nodes = new Map(voters.map((id) => [id, new RaftNode({ id, voters, random: new SeededRandom(id) })]));
 * const inbox: Message[] = [];
 * const settle = () => {
 *   for (let busy = true; busy;) {
 *     busy = false;
 *     for (const node of nodes.values()) {
 *       if (!node.hasReady()) continue;
 *       busy = true;
 *       const rd = node.ready(); // persist rd.hardState + rd.entries here, then:
 *       inbox.push(...rd.messages);
 *       node.advance(rd);
 *     }
 *     for (const m of inbox.splice(0)) { nodes.get(m.to)!.step(m); busy = true; }
 *   }
 * };
 * nodes.get(1)!.campaign();
 * settle();
 * assert(nodes.get(1)!.isLeader);
 * ```
 *
 * @module
 */
export * from "./types.ts";
export * from "./entry.ts";
export * from "./message.ts";
export * from "./errors.ts";
export * from "./rng.ts";
export * from "./config.ts";
export * from "./events.ts";
export * from "./ready.ts";
export * from "./log.ts";
export * from "./inflights.ts";
export * from "./progress.ts";
export * from "./quorum.ts";
export * from "./membership.ts";
export * from "./node.ts";
