/**
 * The crash test's child process: writes batches through a real backend as fast as it can,
 * printing each batch before it writes it ("begin") and after the write resolved ("ack"), until
 * the parent kills it with SIGKILL.
 *
 * Usage: deno run -A tests/crash/writer.ts <file|kv> <dir> <seed>
 *
 * @module
 */
import { SeededRandom } from "../../raft/mod.ts";
import { loadAll, nextBatch, openStore, toWrites } from "./workload.ts";

const [backend, dir, seed] = Deno.args;
const storage = await openStore(backend, dir);
const states = await loadAll(storage);
const random = new SeededRandom(Number(seed));
const out = Deno.stdout;
const te = new TextEncoder();
await out.write(te.encode("ready\n"));
// Bounded: the parent kills us long before this ends.
for (let n = 0; n < 200_000; n++) {
  const batch = nextBatch(states, random);
  const writes = toWrites(batch);
  await out.write(te.encode(`begin ${JSON.stringify(batch)}\n`));
  await storage.write(writes);
  for (const w of writes) states[w.partition].apply(w);
  await out.write(te.encode(`ack ${n}\n`));
}
await storage.close();
