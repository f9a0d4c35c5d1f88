/**
 * The messages Raft nodes exchange. Every message is one-way: a response is just another
 * message, so a transport only has to deliver batches to a peer, and losing, duplicating or
 * reordering a message is always safe (Raft section 5.1).
 *
 * The names follow the RPCs of PrkDB's Multi-Raft design: Vote (with PreVote), AppendEntries,
 * Heartbeat, InstallSnapshot and ReadIndex, plus TimeoutNow for leadership transfer.
 *
 * @module
 */
import type { Entry } from "./entry.ts";
import type { Membership } from "./membership.ts";
import type { NodeId } from "./types.ts";

/**
 * The fields every message carries.
 *
 * @example Usage
 * ```ts
 * import type { MessageEnvelope } from "@prkdb/prkdb/raft";
 * const e: MessageEnvelope = { from: 1, to: 2, term: 3 };
 * ```
 */
export interface MessageEnvelope {
  /** The sender. */
  readonly from: NodeId;
  /** The recipient. */
  readonly to: NodeId;
  /** The sender's term (for a granted PreVote, the term the candidate would use). */
  readonly term: number;
}

/**
 * RequestVote (Raft section 5.2), also used for PreVote (thesis section 9.6). A PreVote carries
 * the term the candidate *would* use, and changes nobody's state.
 *
 * @example Usage
 * ```ts
 * import type { VoteRequest } from "@prkdb/prkdb/raft";
 * const m: VoteRequest = { type: "Vote", from: 1, to: 2, term: 2, preVote: true,
 *   lastLogIndex: 5, lastLogTerm: 1, leadershipTransfer: false };
 * ```
 */
export interface VoteRequest extends MessageEnvelope {
  /** Discriminant: `"Vote"`. */
  readonly type: "Vote";
  /** Whether this is a PreVote round. */
  readonly preVote: boolean;
  /** Index of the candidate's last log entry (section 5.4.1). */
  readonly lastLogIndex: number;
  /** Term of the candidate's last log entry (section 5.4.1). */
  readonly lastLogTerm: number;
  /** Set when the old leader asked for this election (TimeoutNow); voters then ignore their lease. */
  readonly leadershipTransfer: boolean;
}

/**
 * The answer to a {@linkcode VoteRequest}.
 *
 * @example Usage
 * ```ts
 * import type { VoteResponse } from "@prkdb/prkdb/raft";
 * const m: VoteResponse = { type: "VoteResponse", from: 2, to: 1, term: 2, preVote: false, granted: true };
 * ```
 */
export interface VoteResponse extends MessageEnvelope {
  /** Discriminant: `"VoteResponse"`. */
  readonly type: "VoteResponse";
  /** Whether this answers a PreVote. */
  readonly preVote: boolean;
  /** Whether the vote was granted. */
  readonly granted: boolean;
}

/**
 * AppendEntries (Raft section 5.3): new entries after `prevLogIndex`, which the follower
 * accepts only if its entry there has `prevLogTerm` (the consistency check).
 *
 * @example Usage
 * ```ts
 * import type { AppendEntries } from "@prkdb/prkdb/raft";
 * const m: AppendEntries = { type: "AppendEntries", from: 1, to: 2, term: 1, prevLogIndex: 0,
 *   prevLogTerm: 0, entries: [], leaderCommit: 0 };
 * ```
 */
export interface AppendEntries extends MessageEnvelope {
  /** Discriminant: `"AppendEntries"`. */
  readonly type: "AppendEntries";
  /** Index of the entry just before `entries`. */
  readonly prevLogIndex: number;
  /** Term of the entry at `prevLogIndex`. */
  readonly prevLogTerm: number;
  /** The entries to append, possibly none. */
  readonly entries: readonly Entry[];
  /** The leader's commit index, capped at what this follower is known to hold. */
  readonly leaderCommit: number;
}

/**
 * The answer to {@linkcode AppendEntries}. On success `matchIndex` is the last index the follower
 * now holds in agreement with the leader. On rejection the hint lets the leader skip a whole
 * conflicting term at once instead of one entry per round trip (section 5.3, last paragraphs).
 *
 * @example Usage
 * ```ts
 * import type { AppendEntriesResponse } from "@prkdb/prkdb/raft";
 * const m: AppendEntriesResponse = { type: "AppendEntriesResponse", from: 2, to: 1, term: 1,
 *   success: true, matchIndex: 3, rejectedIndex: 0, hintIndex: 0, hintTerm: 0 };
 * ```
 */
export interface AppendEntriesResponse extends MessageEnvelope {
  /** Discriminant: `"AppendEntriesResponse"`. */
  readonly type: "AppendEntriesResponse";
  /** Whether the consistency check passed. */
  readonly success: boolean;
  /** On success, the highest index known to match the leader's log. */
  readonly matchIndex: number;
  /** On rejection, the `prevLogIndex` that was rejected. */
  readonly rejectedIndex: number;
  /** On rejection, the largest index the follower has whose term is at most `prevLogTerm`. */
  readonly hintIndex: number;
  /** On rejection, the term of the follower's entry at `hintIndex`. */
  readonly hintTerm: number;
}

/**
 * The leader's heartbeat. It carries no entries, a commit index the follower is known to hold,
 * and the ReadIndex round it confirms (thesis section 6.4).
 *
 * @example Usage
 * ```ts
 * import type { Heartbeat } from "@prkdb/prkdb/raft";
 * const m: Heartbeat = { type: "Heartbeat", from: 1, to: 2, term: 1, leaderCommit: 4, readRound: 0 };
 * ```
 */
export interface Heartbeat extends MessageEnvelope {
  /** Discriminant: `"Heartbeat"`. */
  readonly type: "Heartbeat";
  /** `min(follower's matchIndex, leader's commitIndex)`. */
  readonly leaderCommit: number;
  /** The latest ReadIndex round the leader has started. */
  readonly readRound: number;
  /**
   * The group is idle and this follower holds everything: it may stop its election timer until
   * something wakes it (see `RaftConfig.quiesce`).
   */
  readonly quiesce?: boolean;
  /**
   * Sent only to move the commit index of a follower that holds everything and owes no read
   * round: the follower does not answer it, since the answer would tell the leader nothing new.
   * Periodic heartbeats are always answered.
   */
  readonly commitOnly?: boolean;
}

/**
 * The answer to a {@linkcode Heartbeat}, echoing its read round.
 *
 * @example Usage
 * ```ts
 * import type { HeartbeatResponse } from "@prkdb/prkdb/raft";
 * const m: HeartbeatResponse = { type: "HeartbeatResponse", from: 2, to: 1, term: 1, readRound: 0 };
 * ```
 */
export interface HeartbeatResponse extends MessageEnvelope {
  /** Discriminant: `"HeartbeatResponse"`. */
  readonly type: "HeartbeatResponse";
  /** The read round of the heartbeat being answered. */
  readonly readRound: number;
}

/**
 * A follower forwards a linearizable read to its leader, which answers with the index the
 * follower must apply before serving it (follower reads, thesis section 6.4).
 *
 * @example Usage
 * ```ts
 * import type { ReadIndexRequest } from "@prkdb/prkdb/raft";
 * const m: ReadIndexRequest = { type: "ReadIndex", from: 2, to: 1, term: 1, context: 9 };
 * ```
 */
export interface ReadIndexRequest extends MessageEnvelope {
  /** Discriminant: `"ReadIndex"`. */
  readonly type: "ReadIndex";
  /** The follower's identifier for the read. */
  readonly context: number;
}

/**
 * The leader's answer to a {@linkcode ReadIndexRequest}. `index` is `0` when the leader could
 * not serve it (it lost leadership); the follower then fails the read.
 *
 * @example Usage
 * ```ts
 * import type { ReadIndexResponse } from "@prkdb/prkdb/raft";
 * const m: ReadIndexResponse = { type: "ReadIndexResponse", from: 1, to: 2, term: 1, context: 9, index: 4 };
 * ```
 */
export interface ReadIndexResponse extends MessageEnvelope {
  /** Discriminant: `"ReadIndexResponse"`. */
  readonly type: "ReadIndexResponse";
  /** The follower's identifier for the read. */
  readonly context: number;
  /** The read index, or `0` when refused. */
  readonly index: number;
}

/**
 * Sent by a leader transferring leadership to a follower whose log is up to date: the follower
 * starts an election at once, skipping PreVote (thesis section 3.10).
 *
 * @example Usage
 * ```ts
 * import type { TimeoutNow } from "@prkdb/prkdb/raft";
 * const m: TimeoutNow = { type: "TimeoutNow", from: 1, to: 2, term: 1 };
 * ```
 */
export interface TimeoutNow extends MessageEnvelope {
  /** Discriminant: `"TimeoutNow"`. */
  readonly type: "TimeoutNow";
}

/**
 * InstallSnapshot (Raft section 7): the leader sends a follower that is behind its compaction
 * point a snapshot, in chunks of at most `snapshotChunkBytes`, one chunk at a time.
 *
 * @example Usage
 * ```ts
 * import type { InstallSnapshot } from "@prkdb/prkdb/raft";
 * const m: InstallSnapshot = { type: "InstallSnapshot", from: 1, to: 3, term: 2, snapshotIndex: 500,
 *   snapshotTerm: 2, offset: 0, data: new Uint8Array(), done: true };
 * ```
 */
export interface InstallSnapshot extends MessageEnvelope {
  /** Discriminant: `"InstallSnapshot"`. */
  readonly type: "InstallSnapshot";
  /** The last index the snapshot covers. */
  readonly snapshotIndex: number;
  /** The term of that entry. */
  readonly snapshotTerm: number;
  /** Where this chunk starts in the snapshot's bytes. */
  readonly offset: number;
  /** The chunk. */
  readonly data: Uint8Array;
  /** Whether this is the last chunk. */
  readonly done: boolean;
  /** The membership as of `snapshotIndex`, when the snapshot records one. */
  readonly membership?: Membership;
}

/**
 * The answer to an {@linkcode InstallSnapshot} chunk: either the snapshot is installed (or was
 * not needed), or the follower holds `nextOffset` bytes of it and wants the rest.
 *
 * @example Usage
 * ```ts
 * import type { InstallSnapshotResponse } from "@prkdb/prkdb/raft";
 * const m: InstallSnapshotResponse = { type: "InstallSnapshotResponse", from: 3, to: 1, term: 2,
 *   snapshotIndex: 500, nextOffset: 65536, installed: false };
 * ```
 */
export interface InstallSnapshotResponse extends MessageEnvelope {
  /** Discriminant: `"InstallSnapshotResponse"`. */
  readonly type: "InstallSnapshotResponse";
  /** The snapshot being answered. */
  readonly snapshotIndex: number;
  /** How many bytes of it the follower holds. */
  readonly nextOffset: number;
  /** Whether the follower now holds everything through `snapshotIndex`. */
  readonly installed: boolean;
}

/**
 * Any Raft message.
 *
 * @example Usage
 * ```ts
 * import type { Message } from "@prkdb/prkdb/raft";
 * function describe(m: Message): string { return `${m.type} ${m.from}->${m.to} term ${m.term}`; }
 * ```
 */
export type Message =
  | VoteRequest
  | VoteResponse
  | AppendEntries
  | AppendEntriesResponse
  | Heartbeat
  | HeartbeatResponse
  | ReadIndexRequest
  | ReadIndexResponse
  | InstallSnapshot
  | InstallSnapshotResponse
  | TimeoutNow;

/**
 * Every message type name, for validation and exhaustive switches.
 *
 * @example Usage
 * ```ts
 * import { MESSAGE_TYPES } from "@prkdb/prkdb/raft";
 * console.log(MESSAGE_TYPES.includes("Vote")); // true
 * ```
 */
export const MESSAGE_TYPES: readonly Message["type"][] = [
  "Vote",
  "VoteResponse",
  "AppendEntries",
  "AppendEntriesResponse",
  "Heartbeat",
  "HeartbeatResponse",
  "ReadIndex",
  "ReadIndexResponse",
  "InstallSnapshot",
  "InstallSnapshotResponse",
  "TimeoutNow",
];
