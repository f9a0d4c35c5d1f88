/**
 * A partition's change feed: the entries a replica has applied, in log order, for readers
 * that follow the partition asynchronously (read replicas, caches, indexes). A reader applies
 * the same entries to its own state machine and so reaches the same state, sessions and
 * versions included; a reader behind the compaction point starts from a snapshot instead.
 *
 * @module
 */
import type { Entry } from "../raft/entry.ts";
import type { Replica } from "./replica.ts";

/**
 * One page of a change feed.
 *
 * @example Usage
 * ```ts
 * import type { ChangeFeedPage } from "@prkdb/prkdb/runtime";
 * const empty: ChangeFeedPage = { kind: "entries", entries: [], appliedIndex: 0 };
 * ```
 */
export type ChangeFeedPage =
  | { kind: "entries"; entries: readonly Entry[]; appliedIndex: number }
  | { kind: "snapshot"; index: number; data: Uint8Array; appliedIndex: number };

/**
 * Reads a page of a replica's change feed.
 *
 * @param r The replica.
 * @param afterIndex The reader's last applied index.
 * @param limit The most entries to return.
 * @returns Applied entries after `afterIndex`, or the state machine's snapshot when the reader
 *   is behind the compaction point.
 *
 * @example Usage
 * ```ts
 * import { RaftNode, SeededRandom } from "@prkdb/prkdb/raft";
 * import { changeFeed, Replica } from "@prkdb/prkdb/runtime";
 * const r = new Replica(0, new RaftNode({ id: 1, voters: [1], random: new SeededRandom(1) }));
 * console.log(changeFeed(r, 0, 10).kind); // "entries"
 * ```
 */
export function changeFeed(r: Replica, afterIndex: number, limit: number): ChangeFeedPage {
  const entries = r.node.appliedEntries(afterIndex, limit);
  if (entries === "compacted") {
    // The state machine is at its applied index; hand it over whole.
    return {
      kind: "snapshot",
      index: r.sm.appliedIndex,
      data: r.sm.snapshot(),
      appliedIndex: r.sm.appliedIndex,
    };
  }
  return { kind: "entries", entries, appliedIndex: r.sm.appliedIndex };
}
