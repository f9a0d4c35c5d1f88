/**
 * Configuration of one Raft node, with defaults and validation.
 *
 * @module
 */
import { ConfigError } from "./errors.ts";
import type { RandomSource } from "./rng.ts";
import type { NodeId } from "./types.ts";

/**
 * What a node needs to know to run. Times are in logical ticks: the runtime decides how long a
 * tick is (PrkDB's cluster uses 100 ms by default).
 *
 * @example Usage
 * ```ts
 * import { SeededRandom, type RaftConfig } from "@prkdb/prkdb/raft";
 * const config: RaftConfig = { id: 1, voters: [1, 2, 3], random: new SeededRandom(1) };
 * ```
 */
export interface RaftConfig {
  /** This node's id, a positive integer. */
  id: NodeId;
  /**
   * The voting members the group starts with. Once the log or a snapshot holds a membership
   * change, that membership applies instead (thesis section 4.1).
   */
  voters: readonly NodeId[];
  /**
   * Members the group starts with that receive the log without voting. A node joining a running
   * group starts as a learner. Default none.
   */
  learners?: readonly NodeId[];
  /** The randomness used for election timeouts. */
  random: RandomSource;
  /**
   * Ticks without hearing from a leader before a follower starts an election. Each election
   * waits a random time in `[electionTick, 2 * electionTick)` (Raft section 5.2). Default 10.
   */
  electionTick?: number;
  /** Ticks between the leader's heartbeats. Default 1. */
  heartbeatTick?: number;
  /** Run a PreVote round before each election (thesis section 9.6). Default `true`. */
  preVote?: boolean;
  /**
   * A leader that has not heard from a quorum for an election timeout steps down, and followers
   * that recently heard from a leader ignore vote requests (thesis section 6.2). Default `true`.
   */
  checkQuorum?: boolean;
  /**
   * Let an idle group go quiet: once every member holds the whole log, committed, and nothing
   * is pending, the leader sends one last heartbeat marked `quiesce` and stops ticking, and
   * each follower that holds everything stops its election timer. A proposal, a read, a
   * membership change, a transfer or a vote request wakes the leader; any message from the
   * leader wakes a follower. The runtime must wake followers whose leader's node stops
   * answering (`RaftNode.wake`), since a quiet follower never times out. Default `false`.
   */
  quiesce?: boolean;
  /** At most this many entries per AppendEntries message. Default 256. */
  maxEntriesPerMessage?: number;
  /** At most about this many bytes of entries per AppendEntries message. Default 1 MiB. */
  maxBytesPerMessage?: number;
  /** At most this many AppendEntries in flight to one follower (the pipeline window). Default 64. */
  maxInflightMessages?: number;
  /** The leader refuses proposals while this many entry bytes are uncommitted. Default 64 MiB. */
  maxUncommittedBytes?: number;
  /** InstallSnapshot sends snapshots in chunks of at most this many bytes. Default 1 MiB. */
  snapshotChunkBytes?: number;
  /**
   * Checks a received snapshot once its last chunk arrives, before it replaces anything: returns
   * why the bytes are not a snapshot the state machine can restore, or `undefined` to install it.
   * A refused snapshot is dropped and the log stays as it was. Default: every snapshot is accepted.
   */
  validateSnapshot?: (data: Uint8Array) => string | undefined;
}

/** A {@linkcode RaftConfig} with every default filled in and validated. */
export type ResolvedConfig = Required<RaftConfig>;

/**
 * Fills in defaults and validates a configuration.
 *
 * @param config The configuration to check.
 * @returns The configuration with every field set.
 * @throws {ConfigError} When a value is out of range.
 *
 * @example Usage
 * ```ts
 * import { resolveConfig, SeededRandom } from "@prkdb/prkdb/raft";
 * const c = resolveConfig({ id: 1, voters: [1], random: new SeededRandom(1) });
 * console.log(c.electionTick); // 10
 * ```
 */
export function resolveConfig(config: RaftConfig): ResolvedConfig {
  const resolved: ResolvedConfig = {
    electionTick: 10,
    heartbeatTick: 1,
    preVote: true,
    checkQuorum: true,
    quiesce: false,
    maxEntriesPerMessage: 256,
    maxBytesPerMessage: 1 << 20,
    maxInflightMessages: 64,
    maxUncommittedBytes: 64 << 20,
    snapshotChunkBytes: 1 << 20,
    validateSnapshot: () => undefined,
    ...config,
    voters: [...new Set(config.voters)].sort((a, b) => a - b),
    learners: [...new Set(config.learners ?? [])].sort((a, b) => a - b),
  };
  const positive: (keyof ResolvedConfig)[] = [
    "id",
    "electionTick",
    "heartbeatTick",
    "maxEntriesPerMessage",
    "maxBytesPerMessage",
    "maxInflightMessages",
    "maxUncommittedBytes",
    "snapshotChunkBytes",
  ];
  for (const key of positive) {
    const value = resolved[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      throw new ConfigError(`${key} must be a positive integer, got ${String(value)}`);
    }
  }
  if (resolved.electionTick <= resolved.heartbeatTick) {
    throw new ConfigError(
      `electionTick (${resolved.electionTick}) must be greater than heartbeatTick (${resolved.heartbeatTick})`,
    );
  }
  for (const member of [...resolved.voters, ...resolved.learners]) {
    if (!Number.isSafeInteger(member) || member <= 0) {
      throw new ConfigError(`member ids must be positive integers, got ${member}`);
    }
  }
  const both = resolved.learners.filter((id) => resolved.voters.includes(id));
  if (both.length > 0) {
    throw new ConfigError(`nodes [${both.join(", ")}] cannot be both voters and learners`);
  }
  if (!resolved.voters.includes(resolved.id) && !resolved.learners.includes(resolved.id)) {
    throw new ConfigError(
      `voters [${resolved.voters.join(", ")}] or learners [${
        resolved.learners.join(", ")
      }] must include this node (${resolved.id})`,
    );
  }
  return resolved;
}
