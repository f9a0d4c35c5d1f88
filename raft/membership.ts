/**
 * Who is in a group (thesis chapter 4): the voters, whose majorities elect leaders and commit
 * entries, and the learners, who receive the log but never vote or count.
 *
 * A group changes its membership one server at a time (thesis section 4.1). A change is a log
 * entry of type `"config"` carrying the complete new membership. Each node uses the latest
 * membership in its log, committed or not, and falls back to an earlier one if a conflicting
 * suffix cuts that entry away. Two memberships that differ by one voter always have
 * overlapping majorities, so no two leaders can be elected in one term across a change.
 *
 * @module
 */
import { MembershipChangeError, RaftError } from "./errors.ts";
import type { NodeId } from "./types.ts";

/**
 * The members of a group.
 *
 * @example Usage
 * ```ts
 * import type { Membership } from "@prkdb/prkdb/raft";
 * const m: Membership = { voters: [1, 2, 3], learners: [4] };
 * ```
 */
export interface Membership {
  /** The voting members, sorted. */
  readonly voters: readonly NodeId[];
  /** Members that replicate the log without voting, sorted. */
  readonly learners: readonly NodeId[];
}

/**
 * One single-server membership change:
 * - `addLearner`: a new node starts receiving the log without voting, so it can catch up;
 * - `promote`: a learner that has caught up becomes a voter;
 * - `remove`: a voter or learner leaves the group.
 *
 * @example Usage
 * ```ts
 * import type { MembershipChange } from "@prkdb/prkdb/raft";
 * const change: MembershipChange = { type: "addLearner", node: 4 };
 * ```
 */
export interface MembershipChange {
  /** What to do. */
  readonly type: "addLearner" | "promote" | "remove";
  /** The node it concerns. */
  readonly node: NodeId;
}

/**
 * Applies a change to a membership, checking that it is a single-server change that makes
 * sense.
 *
 * @param current The membership the change starts from.
 * @param change The change.
 * @returns The new membership.
 * @throws {MembershipChangeError} When the change is not possible from `current`.
 *
 * @example Usage
 * ```ts
 * import { changeMembership } from "@prkdb/prkdb/raft";
 * const m = changeMembership({ voters: [1, 2, 3], learners: [] }, { type: "addLearner", node: 4 });
 * console.log(m.learners); // [4]
 * ```
 */
export function changeMembership(current: Membership, change: MembershipChange): Membership {
  const { type, node } = change;
  if (!Number.isSafeInteger(node) || node <= 0) {
    throw new MembershipChangeError(`node ids are positive integers, got ${node}`);
  }
  const isVoter = current.voters.includes(node);
  const isLearner = current.learners.includes(node);
  switch (type) {
    case "addLearner":
      if (isVoter || isLearner) throw new MembershipChangeError(`node ${node} is already a member`);
      return membership(current.voters, [...current.learners, node]);
    case "promote":
      if (!isLearner) {
        throw new MembershipChangeError(
          isVoter ? `node ${node} is already a voter` : `node ${node} is not a learner`,
        );
      }
      return membership([...current.voters, node], current.learners.filter((n) => n !== node));
    case "remove":
      if (!isVoter && !isLearner) throw new MembershipChangeError(`node ${node} is not a member`);
      if (isVoter && current.voters.length === 1) {
        throw new MembershipChangeError(`node ${node} is the last voter`);
      }
      return membership(
        current.voters.filter((n) => n !== node),
        current.learners.filter((n) => n !== node),
      );
    default:
      throw new MembershipChangeError(`unknown change ${JSON.stringify(type)}`);
  }
}

/**
 * Builds a membership with sorted, de-duplicated lists.
 *
 * @param voters The voters.
 * @param learners The learners.
 * @returns The membership.
 *
 * @example Usage
 * ```ts
 * import { membership } from "@prkdb/prkdb/raft";
 * console.log(membership([3, 1, 2], []).voters); // [1, 2, 3]
 * ```
 */
export function membership(
  voters: readonly NodeId[],
  learners: readonly NodeId[] = [],
): Membership {
  const sort = (ids: readonly NodeId[]) => [...new Set(ids)].sort((a, b) => a - b);
  return { voters: sort(voters), learners: sort(learners) };
}

/**
 * Every member, voters first.
 *
 * @param m The membership.
 * @returns Voters and learners.
 *
 * @example Usage
 * ```ts
 * import { members } from "@prkdb/prkdb/raft";
 * console.log(members({ voters: [1, 2], learners: [3] })); // [1, 2, 3]
 * ```
 */
export function members(m: Membership): NodeId[] {
  return [...m.voters, ...m.learners];
}

/**
 * Encodes a membership as the data of a `"config"` log entry: readable JSON.
 *
 * @param m The membership.
 * @returns The entry data.
 *
 * @example Usage
 * ```ts
 * import { decodeMembership, encodeMembership } from "@prkdb/prkdb/raft";
 * const m = decodeMembership(encodeMembership({ voters: [1, 2], learners: [3] }));
 * console.log(m.learners); // [3]
 * ```
 */
export function encodeMembership(m: Membership): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ voters: m.voters, learners: m.learners }));
}

/**
 * Decodes the data of a `"config"` log entry.
 *
 * @param data The entry data.
 * @returns The membership.
 * @throws {RaftError} When the data is not a membership.
 *
 * @example Usage
 * ```ts
 * import { decodeMembership } from "@prkdb/prkdb/raft";
 * const m = decodeMembership(new TextEncoder().encode('{"voters":[1],"learners":[]}'));
 * console.log(m.voters); // [1]
 * ```
 */
export function decodeMembership(data: Uint8Array): Membership {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new RaftError("A config entry does not hold a membership: not JSON");
  }
  const ids = (v: unknown) =>
    Array.isArray(v) && v.every((n) => Number.isSafeInteger(n) && n > 0) ? v as NodeId[] : null;
  const record = value as { voters?: unknown; learners?: unknown } | null;
  const voters = ids(record?.voters);
  const learners = ids(record?.learners ?? []);
  if (!voters || voters.length === 0 || !learners) {
    throw new RaftError("A config entry does not hold a membership: bad voters or learners");
  }
  return membership(voters, learners);
}

/**
 * Whether two memberships have the same voters and learners.
 *
 * @param a One membership.
 * @param b The other.
 * @returns `true` when they are equal.
 *
 * @example Usage
 * ```ts
 * import { sameMembership } from "@prkdb/prkdb/raft";
 * console.log(sameMembership({ voters: [1], learners: [] }, { voters: [1], learners: [] })); // true
 * ```
 */
export function sameMembership(a: Membership, b: Membership): boolean {
  const same = (x: readonly NodeId[], y: readonly NodeId[]) =>
    x.length === y.length && x.every((v, i) => v === y[i]);
  return same(a.voters, b.voters) && same(a.learners, b.learners);
}
