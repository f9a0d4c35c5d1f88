/**
 * One round of the Ready contract for every partition of a node that has work:
 *
 * 1. **persist** every partition's hard state, snapshot and entries in **one** storage write
 *    (group commit: one fsync however many partitions wrote); a leader's replication messages
 *    (AppendEntries, heartbeats) go out first, so followers write while the leader does;
 * 2. **send** every other message, one batch per peer for all partitions;
 * 3. **apply** committed entries, settle writes, release reads (each {@linkcode Replica});
 * 4. **advance** each core, then compact logs that passed the compaction policy.
 *
 * While a round waits on its fsync, new proposals and messages accumulate and go out together
 * in the next round: batching and pipelining come from the loop's shape, not from timers.
 *
 * @module
 */
import type { Ready } from "../raft/ready.ts";
import type { NodeId } from "../raft/types.ts";
import type { CompactionPolicy } from "../partition/compaction.ts";
import type { PartitionMessage, RaftTransport } from "../partition/transport.ts";
import type { PartitionWrite, RaftStorage } from "../storage/raft_storage.ts";
import { OutcomeUnknownError, UnavailableError } from "../partition/errors.ts";
import type { HostObserver } from "./options.ts";
import type { Replica } from "./replica.ts";
import type { ReplicationLag } from "./replication_lag.ts";

/**
 * What a round works with.
 *
 * @example Usage
 * ```ts
 * import type { RoundContext } from "@prkdb/prkdb/runtime";
 * ```
 */
export interface RoundContext {
  /** Where every partition persists. */
  readonly storage: RaftStorage;
  /** Where messages go. */
  readonly transport: RaftTransport;
  /** The time, in milliseconds. */
  readonly now: () => number;
  /** When to compact. */
  readonly compaction?: CompactionPolicy;
  /** Append times, for lag in seconds. */
  readonly lag?: ReplicationLag;
  /** Telemetry. */
  readonly observer?: HostObserver;
}

/**
 * Runs one round over the replicas that have work.
 *
 * @param replicas The node's replicas.
 * @param ctx Storage, transport, clock and telemetry.
 * @returns Whether any replica had work (so another round may be due).
 * @throws When storage fails: nothing of this round was sent or acknowledged, and the caller
 *   must stop serving.
 *
 * @example Usage
 * ```ts
 * import { runRound } from "@prkdb/prkdb/runtime";
 * import { MemoryStorage } from "@prkdb/prkdb/storage";
 * const ctx = { storage: new MemoryStorage(), transport: { send() {}, close: async () => {} }, now: () => 0 };
 * console.log(await runRound([], ctx)); // false
 * ```
 */
export async function runRound(replicas: Iterable<Replica>, ctx: RoundContext): Promise<boolean> {
  const work: [Replica, Ready][] = [];
  for (const r of replicas) {
    if (r.fatal || !r.node.hasReady()) continue;
    // The Ready carries the pending read-index request (or starts the leader's read round):
    // reads arriving from now on need a request of their own.
    r.openReads = undefined;
    work.push([r, r.node.ready()]);
  }
  if (work.length === 0) return false;
  // 1. Persist everything, for every partition, in one durable write.
  const writes: PartitionWrite[] = [];
  for (const [r, rd] of work) {
    r.durability.handing(rd);
    let hardState = rd.hardState;
    const onlyCommit = hardState !== undefined && rd.snapshot === undefined &&
      rd.truncateFrom === undefined && rd.entries.length === 0 &&
      r.persistedHardState !== undefined && hardState.term === r.persistedHardState.term &&
      hardState.votedFor === r.persistedHardState.votedFor;
    // A hard state that only moved the commit index needs no write of its own: the commit index
    // is not a promise to anyone and a restarted node learns it again from the leader. It goes
    // to disk with the next write that has to happen anyway.
    if (onlyCommit) hardState = undefined;
    if (hardState) r.persistedHardState = hardState;
    if (hardState || rd.snapshot || rd.truncateFrom !== undefined || rd.entries.length > 0) {
      writes.push({
        partition: r.partition,
        hardState,
        snapshot: rd.snapshot,
        truncateFrom: rd.truncateFrom,
        entries: rd.entries,
      });
    }
  }
  // A leader's AppendEntries and heartbeats go out before its own write (Raft thesis 10.2.1),
  // so the followers' fsyncs overlap the leader's. They promise nothing about the leader's
  // disk. The leader may count its own unwritten entries when answers arrive during the write,
  // but nothing that depends on a commit (applying, answering a client, telling followers the
  // commit index, persisting it) happens before the next round, and rounds run one after the
  // other: by then this write is durable. Every other message (votes, answers to the leader,
  // read answers) promises something about this node's disk, so it waits for the write.
  const early = new Map<NodeId, PartitionMessage[]>();
  const late = new Map<NodeId, PartitionMessage[]>();
  for (const [r, rd] of work) {
    for (const message of rd.messages) {
      const box = message.type === "AppendEntries" || message.type === "Heartbeat" ? early : late;
      let batch = box.get(message.to);
      if (!batch) box.set(message.to, batch = []);
      batch.push({ partition: r.partition, message });
    }
  }
  for (const [peer, batch] of early) ctx.transport.send(peer, batch);
  if (writes.length > 0) {
    const started = ctx.now();
    await ctx.storage.write(writes);
    ctx.observer?.storageWrite?.((ctx.now() - started) / 1000);
  }
  const now = ctx.now();
  for (const [r, rd] of work) {
    ctx.lag?.record(r, rd.entries[0]?.index, now);
    // Durable now: notices to followers that passed writes on leave with the messages below,
    // and answers that waited for this node's copy of an entry go out.
    r.durability.written(rd);
  }
  // 2. Send the rest, one batch per peer.
  for (const [peer, batch] of late) ctx.transport.send(peer, batch);
  // 3. Apply and settle, then 4. advance and compact.
  for (const [r, rd] of work) {
    try {
      const applied = r.apply(rd);
      if (applied.writes > 0) {
        ctx.observer?.applied?.(r.partition, applied.writes, r.sm.appliedIndex);
      }
      for (let i = 0; i < applied.duplicates; i++) ctx.observer?.duplicate?.(r.partition);
    } catch (error) {
      // An entry that does not apply (a damaged or forged log) stops this partition only, and
      // loudly: health reports it, and nothing more is applied or acknowledged for it.
      r.fatal = error as Error;
      const stopped = `Partition ${r.partition} stopped on this node: ${(error as Error).message}`;
      // A waiting write's entry is in the log and may apply on other replicas: its fate is unknown.
      r.failAll(new OutcomeUnknownError(stopped), new UnavailableError(stopped));
      continue;
    }
    if (rd.events.length > 0) ctx.observer?.events?.(r.partition, rd.events);
    r.node.advance(rd);
    const snapshot = r.maybeCompact(ctx.compaction);
    if (snapshot) ctx.observer?.snapshotTaken?.(r.partition, snapshot.index, snapshot.data);
  }
  return true;
}
