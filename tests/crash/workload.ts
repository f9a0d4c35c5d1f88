/**
 * The crash test's workload, shared by the writer (child) and the checker (parent): batches
 * over three partitions that append, overwrite a suffix with a higher term, and snapshot. Every
 * payload is a function of (partition, index, term), so a reader can tell a correct entry from
 * a corrupt one without remembering it.
 *
 * @module
 */
import type { Entry } from "../../raft/mod.ts";
import { MutablePartitionState } from "../../storage/partition_state.ts";
import type { PartitionState, PartitionWrite } from "../../storage/raft_storage.ts";
import { FileStorage } from "../../storage/file_storage.ts";
import { KvStorage } from "../../storage/kv_storage.ts";
import type { RaftStorage } from "../../storage/raft_storage.ts";
import type { SeededRandom } from "../../raft/mod.ts";

export const PARTITIONS = 3;
const te = new TextEncoder();

/** The payload of entry `index` at `term` in `partition`: up to about 3 KiB, deterministic. */
export function entryData(partition: number, index: number, term: number): Uint8Array {
  const unit = `p${partition}/i${index}/t${term};`;
  const length = 10 + ((index * 7919 + partition * 104729) % 3000);
  return te.encode(unit.repeat(Math.ceil(length / unit.length)).slice(0, length));
}

/** The payload of a snapshot through `index` at `term`. */
export function snapshotData(partition: number, index: number, term: number): Uint8Array {
  return te.encode(`snapshot of p${partition} through ${index}@${term}`);
}

/** A batch as JSON: entry payloads are implied by the formula. */
export interface BatchJson {
  writes: {
    partition: number;
    hardState: { term: number; votedFor: number; commitIndex: number };
    snapshot?: { index: number; term: number };
    entries?: { from: number; to: number; term: number };
  }[];
}

/** Expands a JSON batch into storage writes. */
export function toWrites(batch: BatchJson): PartitionWrite[] {
  return batch.writes.map((w) => ({
    partition: w.partition,
    hardState: w.hardState,
    snapshot: w.snapshot &&
      { meta: w.snapshot, data: snapshotData(w.partition, w.snapshot.index, w.snapshot.term) },
    entries: w.entries &&
      Array.from({ length: w.entries.to - w.entries.from + 1 }, (_, i): Entry => {
        const index = w.entries!.from + i;
        return {
          index,
          term: w.entries!.term,
          type: "normal",
          data: entryData(w.partition, index, w.entries!.term),
        };
      }),
  }));
}

/** Makes the next batch from the current state of each partition. */
export function nextBatch(states: MutablePartitionState[], random: SeededRandom): BatchJson {
  const writes: BatchJson["writes"] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    if (!random.chance(0.6)) continue;
    const s = states[p];
    let term = Math.max(s.hardState.term, 1);
    const roll = random.next();
    const w: BatchJson["writes"][number] = {
      partition: p,
      hardState: { term, votedFor: 1, commitIndex: 0 },
    };
    if (roll < 0.05 && s.lastIndex > s.firstIndex) {
      // A new leader overwrites a suffix with entries of a higher term.
      term += 1;
      const from = Math.max(s.firstIndex, s.lastIndex - random.nextInt(5));
      w.entries = { from, to: from + random.nextInt(8), term };
    } else if (roll < 0.1 && s.lastIndex >= s.firstIndex) {
      const index = s.firstIndex + random.nextInt(s.lastIndex - s.firstIndex + 1);
      w.snapshot = { index, term: s.entries[index - s.firstIndex].term };
    } else {
      const from = s.lastIndex + 1;
      w.entries = { from, to: from + random.nextInt(20), term };
    }
    w.hardState = { term, votedFor: 1, commitIndex: s.snapshot?.meta.index ?? 0 };
    writes.push(w);
  }
  return { writes };
}

/** Opens the backend under test. */
export function openStore(backend: string, dir: string): Promise<RaftStorage> {
  return backend === "kv"
    ? KvStorage.open(`${dir}/store.sqlite`)
    : FileStorage.open(dir, { segmentBytes: 256 * 1024, onWarning: () => {} });
}

/** Loads every partition into mutable states. */
export async function loadAll(storage: RaftStorage): Promise<MutablePartitionState[]> {
  const out: MutablePartitionState[] = [];
  for (let p = 0; p < PARTITIONS; p++) out.push(toMutable(await storage.load(p)));
  return out;
}

export function toMutable(state: PartitionState): MutablePartitionState {
  const m = new MutablePartitionState();
  m.hardState = state.hardState;
  m.snapshot = state.snapshot;
  m.entries = [...state.entries];
  return m;
}
