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

/** What a node has persisted, as the storage layer's write semantics leave it. */
export interface Disk {
  readonly hardState: HardState;
  readonly snapshot:
    | { readonly meta: { readonly index: number; readonly term: number } }
    | undefined;
  readonly entries: readonly Entry[];
}

/** Prefix hashes of one log: `hashes[i]` covers entries 1..i; index 0 is the empty log. */
class Chain {
  readonly hashes: number[] = [0];
  readonly terms: number[] = [0];

  /**
   * Recomputes from `from` (the first index that may have changed). A node's own compaction
   * keeps the hashes it computed (they stay checked against the ledger). A snapshot installed
   * from the leader replaces the whole prefix it covers with the committed ledger's, which must
   * already reach that far: a snapshot may only hold committed entries.
   */
  update(disk: Disk, from: number, committed: readonly Committed[], installed: boolean): void {
    const snapshotIndex = disk.snapshot?.meta.index ?? 0;
    if (installed) {
      if (snapshotIndex >= committed.length) {
        throw new Error(
          `an installed snapshot through ${snapshotIndex} covers entries not committed (ledger ends at ${
            committed.length - 1
          })`,
        );
      }
      this.hashes.length = 1;
      this.terms.length = 1;
      for (let i = 1; i <= snapshotIndex; i++) {
        this.hashes.push(committed[i].hash);
        this.terms.push(committed[i].entryTerm);
      }
    } else if (this.hashes.length <= snapshotIndex) {
      throw new Error(
        `node compacted through ${snapshotIndex} but only held ${this.hashes.length - 1} entries`,
      );
    }
    const keep = Math.max(Math.min(this.hashes.length, from), snapshotIndex + 1);
    this.hashes.length = keep;
    this.terms.length = keep;
    for (const e of disk.entries) {
      if (e.index < keep) continue;
      if (e.index !== this.hashes.length) throw new Error(`log has a gap before entry ${e.index}`);
      let h = Math.imul(this.hashes[e.index - 1] ^ e.term, 0x01000193) ^ fnv1a32(e.data);
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
  /** The entry's own term. */
  entryTerm: number;
  /** An upper bound on the term of the leader that committed it. */
  term: number;
}

/** Accumulates observations and throws on the first safety violation. */
export class SafetyChecker {
  readonly #leaders = new Map<number, number>(); // term -> leader id
  readonly #chains = new Map<number, Chain>();
  readonly #committed: Committed[] = [{ hash: 0, entryTerm: 0, term: 0 }];
  readonly #snapshots = new Map<number, number>(); // index -> hash of the snapshot's bytes

  /** Records that node `id`'s disk changed from index `from` on. */
  diskChanged(id: number, disk: Disk, from: number, installed = false): void {
    let chain = this.#chains.get(id);
    if (!chain) this.#chains.set(id, chain = new Chain());
    chain.update(disk, from, this.#committed, installed);
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
      this.#committed.push({ hash: chain.hashes[i], entryTerm: chain.terms[i], term: status.term });
    }
    if (status.role === "Leader") this.#checkLeaderCompleteness(status, chain);
  }

  /**
   * Checks that every snapshot taken or installed at one index holds the same bytes: replicas
   * that applied the same commands must have the same state (State Machine Safety).
   */
  snapshotSeen(id: number, index: number, data: Uint8Array): void {
    const hash = fnv1a32(data) ^ data.length;
    const known = this.#snapshots.get(index);
    if (known === undefined) this.#snapshots.set(index, hash);
    else if (known !== hash) {
      throw new Error(
        `State Machine Safety violated: node ${id}'s snapshot at ${index} differs from another's`,
      );
    }
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
