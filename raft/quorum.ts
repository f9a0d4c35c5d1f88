/**
 * Majorities: the one place the core counts a quorum (Raft section 5.2 and 5.3). Elections,
 * the commit index, ReadIndex rounds and CheckQuorum all ask the same question, "what do a
 * majority of the voters agree on?", so they all ask it here.
 *
 * @module
 */
import type { NodeId } from "./types.ts";

/**
 * How many voters make a majority of `voters`.
 *
 * @param voters The number of voters.
 * @returns `floor(voters / 2) + 1`.
 *
 * @example Usage
 * ```ts
 * import { majority } from "@prkdb/prkdb/raft";
 * console.log(majority(3), majority(4), majority(5)); // 2 3 3
 * ```
 */
export function majority(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * The highest value that a majority of the voters have reached: sort every voter's value and
 * take the one a majority is at or above. Applied to match indexes it is the commit index a
 * leader may use; applied to acknowledged read rounds it is the confirmed round.
 *
 * @param voters The voters whose values count.
 * @param valueOf Each voter's value (a voter nobody heard from is at `0`).
 * @returns The largest `v` such that a majority of voters have a value `>= v`.
 *
 * @example The commit index of a five-voter group
 * ```ts
 * import { quorumValue } from "@prkdb/prkdb/raft";
 * const match = new Map([[1, 9], [2, 7], [3, 7], [4, 2], [5, 0]]);
 * console.log(quorumValue([1, 2, 3, 4, 5], (id) => match.get(id) ?? 0)); // 7
 * ```
 */
export function quorumValue(voters: readonly NodeId[], valueOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const values = voters.map(valueOf).sort((a, b) => b - a);
  return values[majority(voters.length) - 1];
}

/**
 * The outcome of a vote so far: `"won"` with a majority of yes, `"lost"` with a majority of no,
 * otherwise `"pending"`. Answers from nodes that are not voters do not count.
 *
 * @param voters The voters of the group.
 * @param answers Each answer received, by node: granted or refused.
 * @returns The outcome.
 *
 * @example Usage
 * ```ts
 * import { voteResult } from "@prkdb/prkdb/raft";
 * const answers = new Map([[1, true], [2, false], [9, true]]);
 * console.log(voteResult([1, 2, 3], answers)); // "pending": node 9 is not a voter
 * ```
 */
export function voteResult(
  voters: readonly NodeId[],
  answers: ReadonlyMap<NodeId, boolean>,
): "won" | "lost" | "pending" {
  let yes = 0;
  let no = 0;
  for (const id of voters) {
    const answer = answers.get(id);
    if (answer === true) yes++;
    else if (answer === false) no++;
  }
  const needed = majority(voters.length);
  if (yes >= needed) return "won";
  if (no >= needed) return "lost";
  return "pending";
}

/**
 * Whether the nodes in `heard` include a majority of the voters (CheckQuorum).
 *
 * @param voters The voters of the group.
 * @param heard Whether the leader heard from each node.
 * @returns `true` when a majority of voters were heard.
 *
 * @example Usage
 * ```ts
 * import { hasQuorum } from "@prkdb/prkdb/raft";
 * console.log(hasQuorum([1, 2, 3], (id) => id !== 3)); // true
 * ```
 */
export function hasQuorum(voters: readonly NodeId[], heard: (id: NodeId) => boolean): boolean {
  let count = 0;
  for (const id of voters) if (heard(id)) count++;
  return count >= majority(voters.length);
}
