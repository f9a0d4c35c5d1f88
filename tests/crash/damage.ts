/**
 * The corruption suite's fixture and its one assertion. A fixture is a data directory written
 * through a real backend by a small deterministic workload and closed cleanly, so every write in
 * it was acknowledged. A case damages a copy of it, then starts a node's storage on it (lock,
 * identity, backend, every partition loaded) and checks: either the start succeeds with every
 * acknowledged write intact, or it fails with a typed error naming a file in the directory, and
 * the failed start deleted or changed nothing.
 *
 * @module
 */
import { assert, assertEquals, assertInstanceOf } from "@std/assert";
import { relative } from "node:path";
import { join } from "@std/path";
import { openDataDir } from "../../storage/data_dir.ts";
import { StorageError } from "../../storage/errors.ts";
import { FileStorage } from "../../storage/file_storage.ts";
import { KvStorage } from "../../storage/kv_storage.ts";
import type { NodeIdentity } from "../../storage/node_identity.ts";
import { MutablePartitionState } from "../../storage/partition_state.ts";
import type { PartitionState, PartitionWrite, RaftStorage } from "../../storage/raft_storage.ts";

export type Backend = "file" | "kv";
export const PARTITIONS = 3;
const te = new TextEncoder();

/** Who the fixture's node is. */
export function identityOf(backend: Backend): NodeIdentity {
  return {
    cluster: "corruption",
    node: 1,
    partitions: PARTITIONS,
    members: [1, 2, 3],
    storage: backend,
    storageFormat: backend === "file" ? FileStorage.formatVersion : KvStorage.formatVersion,
  };
}

/** Opens the backend in a data directory (small segments, so the file log has several). */
export function openBackend(backend: Backend, dir: string): Promise<RaftStorage> {
  return backend === "file"
    ? FileStorage.open(dir, { segmentBytes: 700, onWarning: () => {} })
    : KvStorage.open(join(dir, "prkdb.sqlite"));
}

/** Starts a node's storage as a node does: lock, identity, backend, then load every partition. */
export async function start(
  backend: Backend,
  dir: string,
  identity: NodeIdentity = identityOf(backend),
): Promise<{ storage: RaftStorage; states: PartitionState[] }> {
  const storage = await openDataDir(dir, { identity, open: (d) => openBackend(backend, d) });
  try {
    const states: PartitionState[] = [];
    for (let p = 0; p < PARTITIONS; p++) states.push(await storage.load(p));
    return { storage, states };
  } catch (error) {
    await storage.close();
    throw error;
  }
}

/** The workload: appends, a snapshot, an overwrite with a higher term; small payloads. */
function* workload(model: MutablePartitionState[]): Generator<PartitionWrite[]> {
  for (let b = 0; b < 14; b++) {
    const batch: PartitionWrite[] = [];
    for (let p = 0; p < PARTITIONS; p++) {
      if ((b + p) % 3 === 2) continue;
      const s = model[p];
      const term = 1 + Math.floor(b / 5);
      if (b === 6 && p === 0) {
        const index = s.lastIndex - 1;
        const data = te.encode(`snapshot of p0 through ${index}`);
        batch.push({
          partition: p,
          snapshot: { meta: { index, term: s.entries.at(-2)!.term }, data },
        });
        continue;
      }
      const from = b === 9 && p === 1 ? s.lastIndex - 1 : s.lastIndex + 1; // 9: overwrite
      const entries = Array.from({ length: 1 + ((b + p) % 3) }, (_, i) => ({
        index: from + i,
        term: b === 9 && p === 1 ? term + 1 : term,
        type: "normal" as const,
        data: te.encode(`p${p} i${from + i} b${b}`),
      }));
      batch.push({
        partition: p,
        hardState: { term: entries[0].term, votedFor: 1 + p, commitIndex: Math.max(0, from - 2) },
        entries,
      });
    }
    yield batch;
  }
}

/** A fixture: a cleanly closed data directory and what it acknowledged. */
export interface Fixture {
  readonly backend: Backend;
  readonly dir: string;
  readonly acknowledged: PartitionState[];
}

/** Writes the workload into a new data directory under `parent` and closes it. */
export async function buildFixture(backend: Backend, parent: string): Promise<Fixture> {
  const dir = join(parent, `${backend}-fixture`);
  const model = Array.from({ length: PARTITIONS }, () => new MutablePartitionState());
  const storage = await openDataDir(dir, {
    identity: identityOf(backend),
    open: (d) => openBackend(backend, d),
  });
  for (const batch of workload(model)) {
    await storage.write(batch);
    for (const w of batch) model[w.partition].apply(w);
  }
  await storage.close();
  return { backend, dir, acknowledged: model.map((m) => m.freeze()) };
}

/** Every file under `dir` (relative path to contents); directories map to null. */
export async function tree(dir: string): Promise<Map<string, Uint8Array | null>> {
  const out = new Map<string, Uint8Array | null>();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const path = join(d, e.name);
      if (e.isDirectory) {
        out.set(relative(dir, path), null);
        await walk(path);
      } else if (e.isFile) out.set(relative(dir, path), await Deno.readFile(path));
    }
  };
  await walk(dir);
  return out;
}

/** Copies a directory tree. */
export async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyTree(join(from, e.name), join(to, e.name));
    else if (e.isFile) await Deno.copyFile(join(from, e.name), join(to, e.name));
  }
}

const show = (s: PartitionState) => ({
  hardState: s.hardState,
  snapshot: s.snapshot && { meta: s.snapshot.meta, data: [...s.snapshot.data].join() },
  entries: s.entries.map((e) => `${e.index}@${e.term}:${new TextDecoder().decode(e.data)}`),
});

/** What happened when a damaged directory was started. */
export type Outcome = "started intact" | "refused";

/**
 * The suite's one assertion. Either the start succeeds and every acknowledged write is there,
 * or it fails with a {@linkcode StorageError} naming a file in `dir`, leaving every file as it
 * was. SQLite may fold its own -wal file into the database when the refused start closes it:
 * then the -wal file as found must be kept beside it.
 */
export async function assertStartsIntactOrRefuses(
  fixture: Fixture,
  dir: string,
  what: string,
): Promise<Outcome> {
  const before = await tree(dir);
  let started: Awaited<ReturnType<typeof start>>;
  try {
    started = await start(fixture.backend, dir);
  } catch (error) {
    assertInstanceOf(error, StorageError, `${what}: an untyped error: ${error}`);
    assert(error.message.includes(dir), `${what}: the error names no file: ${error.message}`);
    assertNothingLost(before, await tree(dir), what);
    return "refused";
  }
  try {
    assertEquals(
      started.states.map(show),
      fixture.acknowledged.map(show),
      `${what}: started with something other than what was acknowledged`,
    );
  } finally {
    await started.storage.close();
  }
  return "started intact";
}

const SQLITE = /\.sqlite(-wal|-shm)?$/;

function assertNothingLost(
  before: Map<string, Uint8Array | null>,
  after: Map<string, Uint8Array | null>,
  what: string,
): void {
  const walBefore = [...before.keys()].find((k) => k.endsWith(".sqlite-wal"));
  for (const [path, bytes] of before) {
    if (SQLITE.test(path) && walBefore) continue; // SQLite's own recovery, checked below
    if (path.endsWith(".sqlite-shm")) continue; // SQLite's shared-memory index, rebuilt at will
    assert(after.has(path), `${what}: a failed start deleted ${path}`);
    assertEquals(after.get(path), bytes, `${what}: a failed start changed ${path}`);
  }
  if (walBefore) {
    assertEquals(
      after.get(`${walBefore}.kept`),
      before.get(walBefore),
      `${what}: the SQLite WAL file as found was not kept`,
    );
  }
  for (const path of after.keys()) {
    assert(
      before.has(path) || path === "LOCK" || SQLITE.test(path) || path.endsWith(".kept"),
      `${what}: a failed start created ${path}`,
    );
  }
}
