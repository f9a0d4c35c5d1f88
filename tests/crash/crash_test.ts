/**
 * Crash tests with real processes: a child writes through the file backend (then the Deno KV
 * backend) and is killed with SIGKILL at random points, again and again. After each kill the
 * store is reopened and checked: every acknowledged write is there, only the one batch that
 * was in flight may be partly there, and every payload is exactly what was written.
 */
import { assert, assertEquals } from "@std/assert";
import { SeededRandom } from "../../raft/mod.ts";
import type { MutablePartitionState } from "../../storage/partition_state.ts";
import {
  type BatchJson,
  entryData,
  loadAll,
  openStore,
  PARTITIONS,
  snapshotData,
  toWrites,
} from "./workload.ts";

const KILLS = 20;
const writer = new URL("./writer.ts", import.meta.url).pathname;

/** Reads the child's stdout line by line. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
}

/** Nothing corrupt: every stored payload is the one its position implies. */
function assertIntact(p: number, s: MutablePartitionState): void {
  s.entries.forEach((e, i) => {
    assertEquals(e.index, s.firstIndex + i, `partition ${p}: the log has a gap`);
    assertEquals(
      e.data,
      entryData(p, e.index, e.term),
      `partition ${p}: entry ${e.index}@${e.term} is corrupt`,
    );
  });
  if (s.snapshot) {
    const { index, term } = s.snapshot.meta;
    assertEquals(
      s.snapshot.data,
      snapshotData(p, index, term),
      `partition ${p}: snapshot ${index} is corrupt`,
    );
  }
}

const describe = (s: MutablePartitionState) => ({
  hardState: s.hardState,
  snapshot: s.snapshot?.meta,
  entries: s.entries.map((e) => `${e.index}@${e.term}`),
});

/**
 * Every acknowledged write survives. A partition the in-flight batch did not touch must match
 * the model exactly; one it touched may show any prefix of that write, so: entries before the
 * write's first index, and the hard state's term, must still be at least what was acknowledged.
 */
function assertDurable(
  p: number,
  acked: MutablePartitionState,
  found: MutablePartitionState,
  inflight?: BatchJson,
): void {
  const write = inflight?.writes.find((w) => w.partition === p);
  if (!write) {
    assertEquals(
      describe(found),
      describe(acked),
      `partition ${p} lost or changed acknowledged writes`,
    );
    return;
  }
  const touchedFrom = write.entries?.from ?? Infinity;
  const covered = found.snapshot?.meta.index ?? 0;
  for (const e of acked.entries) {
    if (e.index >= touchedFrom || e.index <= covered) continue;
    const got = found.entries[e.index - found.firstIndex];
    assertEquals(
      got && `${got.index}@${got.term}`,
      `${e.index}@${e.term}`,
      `partition ${p}: acknowledged entry ${e.index} is gone`,
    );
  }
  assert(
    found.lastIndex >= Math.min(acked.lastIndex, touchedFrom - 1),
    `partition ${p}: acknowledged entries are missing at the end`,
  );
  assert(
    found.hardState.term >= acked.hardState.term,
    `partition ${p}: the acknowledged term went back`,
  );
  assert(
    (found.snapshot?.meta.index ?? 0) >= (acked.snapshot?.meta.index ?? 0),
    `partition ${p}: the snapshot went back`,
  );
}

for (const backend of ["file", "kv"]) {
  Deno.test(`crash: SIGKILL during writes loses nothing acknowledged (${backend} backend, ${KILLS} kills)`, async () => {
    const dir = await Deno.makeTempDir({ prefix: `prkdb-crash-${backend}-` });
    const random = new SeededRandom(backend === "kv" ? 7 : 3);
    let totalAcks = 0;
    try {
      const initial = await openStore(backend, dir);
      let model = await loadAll(initial);
      await initial.close();
      for (let kill = 1; kill <= KILLS; kill++) {
        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", writer, backend, dir, String(kill * 1000 + random.nextInt(1000))],
          stdout: "piped",
          stderr: "inherit",
        }).spawn();
        const target = 1 + random.nextInt(40);
        let acks = 0;
        let killed = false;
        let inflight: BatchJson | undefined;
        // Read to the end: lines the child printed before it died still count.
        for await (const line of lines(child.stdout)) {
          if (line.startsWith("begin ")) inflight = JSON.parse(line.slice(6));
          else if (line.startsWith("ack ")) {
            for (const w of toWrites(inflight!)) model[w.partition].apply(w);
            inflight = undefined;
            acks++;
          }
          if (!killed && acks >= target) {
            // Kill at once: the child is already writing its next batch.
            child.kill("SIGKILL");
            killed = true;
          }
        }
        const status = await child.status;
        assertEquals(status.signal, "SIGKILL", `writer exited on its own (code ${status.code})`);
        totalAcks += acks;
        const storage = await openStore(backend, dir);
        const found = await loadAll(storage);
        await storage.close();
        for (let p = 0; p < PARTITIONS; p++) {
          assertIntact(p, found[p]);
          assertDurable(p, model[p], found[p], inflight);
        }
        model = found; // the next run starts from what survived, now verified
      }
      assert(totalAcks >= KILLS, `only ${totalAcks} writes were acknowledged across ${KILLS} runs`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
