/**
 * Replication lag in time. A leader remembers when each batch of entries was appended; a
 * follower's lag is the age of the oldest entry it has not acknowledged yet (0 when caught
 * up). Counting entries alone says little: 1,000 entries behind is nothing at 50k writes per
 * second and a lot at 10.
 *
 * @module
 */
import type { NodeId } from "../raft/types.ts";
import type { Replica } from "./replica.ts";

/**
 * How one follower of a partition this node leads is doing.
 *
 * @example Usage
 * ```ts
 * import type { FollowerReplication } from "@prkdb/prkdb/runtime";
 * ```
 */
export interface FollowerReplication {
  /** The follower. */
  readonly follower: NodeId;
  /** Entries it has not acknowledged. */
  readonly pending: number;
  /** Age of the oldest entry it lacks, 0 when caught up. */
  readonly lagSeconds: number;
  /** Whether it answered within the current CheckQuorum period. */
  readonly active: boolean;
}

/**
 * Append times per led partition, trimmed to what some follower still lacks.
 *
 * @example Usage
 * ```ts
 * import { ReplicationLag } from "@prkdb/prkdb/runtime";
 * const lag = new ReplicationLag();
 * console.log(lag.report([], 0)); // []
 * ```
 */
export class ReplicationLag {
  readonly #appendTimes = new Map<number, [index: number, ms: number][]>();

  /**
   * Records that a replica appended entries from `firstIndex` at `now`, and forgets what every
   * follower has. Call it once per round for each replica that had work.
   *
   * @param r The replica.
   * @param firstIndex The first index appended this round, or `undefined` for none.
   * @param now The time, in milliseconds.
   */
  record(r: Replica, firstIndex: number | undefined, now: number): void {
    if (!r.node.isLeader) {
      this.#appendTimes.delete(r.partition);
      return;
    }
    let times = this.#appendTimes.get(r.partition);
    if (!times) this.#appendTimes.set(r.partition, times = []);
    if (firstIndex !== undefined) times.push([firstIndex, now]);
    // Keep only what some follower still lacks (the first kept record may start earlier).
    const acked = r.node.lowestMatchIndex();
    while (times.length > 1 && times[1][0] <= acked + 1) times.shift();
  }

  /**
   * Every follower's progress for every partition this node leads.
   *
   * @param replicas This node's replicas.
   * @param now The time, in milliseconds.
   * @returns One entry per led partition.
   */
  report(
    replicas: Iterable<Replica>,
    now: number,
  ): { partition: number; followers: FollowerReplication[] }[] {
    const out: { partition: number; followers: FollowerReplication[] }[] = [];
    for (const r of replicas) {
      if (!r.node.isLeader) continue;
      const status = r.node.status();
      const times = this.#appendTimes.get(r.partition) ?? [];
      out.push({
        partition: r.partition,
        followers: status.followers.map((f) => {
          const pending = Math.max(0, status.lastLogIndex - f.matchIndex);
          // The oldest entry it lacks is matchIndex + 1: find the batch that appended it.
          let oldest: [number, number] | undefined;
          if (pending > 0) {
            for (const record of times) {
              if (record[0] > f.matchIndex + 1) break;
              oldest = record;
            }
            oldest ??= times[0];
          }
          return {
            follower: f.id,
            pending,
            lagSeconds: oldest ? (now - oldest[1]) / 1000 : 0,
            active: f.recentActive,
          };
        }),
      });
    }
    return out;
  }
}
