/**
 * Raft's safety properties (Raft section 5.2 and figure 3), checked after every simulation step
 * over what each node persisted and reports:
 *
 * - Election Safety: at most one leader per term.
 * - Log Matching: if two logs hold an entry with the same index and term, they are identical up
 *   to that index.
 * - Leader Completeness: a leader of term T holds every entry committed in terms before T.
 * - State Machine Safety: no two nodes commit (and so apply) different entries at one index.
 *
 * Logs are compared through hash chains (each index's hash covers the whole prefix), so each
 * check is O(1) per pair instead of O(log length).
 *
 * @module
 */
import type { Entry, HardState, RaftStatus } from "../../raft/mod.ts";
import { fnv1a32 } from "../../partition/hash.ts";

/** A node's persisted state, as the simulation's disk holds it. */
export interface Disk {
  hardState: HardState;
  entries: Entry[];
}

/** Prefix hashes of one log: `chain[i]` covers entries 1..i; `chain[0]` is the empty log. */
class Chain {
  readonly hashes: number[] = [0];
  readonly terms: number[] = [0];

  /** Recomputes from `from` (the first index that may have changed). */
  update(entries: readonly Entry[], from: number): void {
    this.hashes.length = Math.min(this.hashes.length, from);
    this.terms.length = this.hashes.length;
    for (let i = this.hashes.length; i <= entries.length; i++) {
      const e = entries[i - 1];
      let h = Math.imul(this.hashes[i - 1] ^ e.term, 0x01000193) ^ fnv1a32(e.data);
      h = Math.imul(h ^ (e.type === "noop" ? 0x55 : 0xaa), 0x85ebca6b) >>> 0;
      this.hashes.push(h);
      this.terms.push(e.term);
    }
  }

  get last(): number {
    return this.hashes.length - 1;
  }
}

/** A committed entry as first observed. */
interface Committed {
  hash: number;
  /** An upper bound on the term of the leader that committed it. */
  term: number;
}

/** Accumulates observations and throws on the first safety violation. */
export class SafetyChecker {
  readonly #leaders = new Map<number, number>(); // term -> leader id
  readonly #chains = new Map<number, Chain>();
  readonly #committed: Committed[] = [{ hash: 0, term: 0 }];

  /** Records that node `id`'s disk changed from index `from` on. */
  diskChanged(id: number, disk: Disk, from: number): void {
    let chain = this.#chains.get(id);
    if (!chain) this.#chains.set(id, chain = new Chain());
    chain.update(disk.entries, from);
    for (const [other, otherChain] of this.#chains) {
      if (other !== id) this.#checkLogMatching(id, chain, other, otherChain);
    }
  }

  /** Checks one live node's reported status against everything seen so far. */
  observe(status: RaftStatus): void {
    const chain = this.#chains.get(status.id) ?? new Chain();
    if (status.role === "Leader") {
      const known = this.#leaders.get(status.term);
      if (known !== undefined && known !== status.id) {
        throw new Error(
          `Election Safety violated: nodes ${known} and ${status.id} both lead term ${status.term}`,
        );
      }
      this.#leaders.set(status.term, status.id);
    }
    // State Machine Safety: this node's committed prefix agrees with every other's.
    const commit = status.commitIndex;
    if (commit > chain.last) {
      throw new Error(
        `Node ${status.id} reports commit ${commit} beyond its persisted log ${chain.last}`,
      );
    }
    const shared = Math.min(commit, this.#committed.length - 1);
    if (chain.hashes[shared] !== this.#committed[shared].hash) {
      throw new Error(
        `State Machine Safety violated: node ${status.id} committed a different entry at or before index ${shared}`,
      );
    }
    // The observer's term is at least the committing leader's (exact when the observer is that
    // leader, which commits first), so Leader Completeness is never checked too strictly.
    for (let i = this.#committed.length; i <= commit; i++) {
      this.#committed.push({ hash: chain.hashes[i], term: status.term });
    }
    if (status.role === "Leader") this.#checkLeaderCompleteness(status, chain);
  }

  /** The highest index known committed anywhere. */
  get committedIndex(): number {
    return this.#committed.length - 1;
  }

  #checkLeaderCompleteness(status: RaftStatus, chain: Chain): void {
    // The last entry committed in a term before this leader's must be in its log (and so,
    // by Log Matching, everything before it).
    let i = this.#committed.length - 1;
    while (i > 0 && this.#committed[i].term >= status.term) i--;
    if (i > chain.last || chain.hashes[i] !== this.#committed[i].hash) {
      throw new Error(
        `Leader Completeness violated: leader ${status.id} of term ${status.term} lacks committed entry ${i}`,
      );
    }
  }

  #checkLogMatching(a: number, ca: Chain, b: number, cb: Chain): void {
    for (let i = Math.min(ca.last, cb.last); i > 0; i--) {
      if (ca.terms[i] !== cb.terms[i]) continue;
      if (ca.hashes[i] !== cb.hashes[i]) {
        throw new Error(
          `Log Matching violated: nodes ${a} and ${b} hold entry ${i}@${
            ca.terms[i]
          } with different prefixes`,
        );
      }
      return; // the highest index with equal terms matches, so every lower one does too
    }
  }
}
