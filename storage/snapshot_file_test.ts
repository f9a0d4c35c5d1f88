/**
 * Snapshot files: the membership round-trips, files written before snapshots recorded one still
 * load, and a damaged membership is refused by name instead of being guessed.
 */
import { assertEquals, assertRejects } from "@std/assert";
import { join } from "@std/path";
import { ByteWriter } from "./binary.ts";
import { crc32 } from "./crc32.ts";
import { CorruptLogError } from "./errors.ts";
import { readSnapshotFile, writeSnapshotFile } from "./snapshot_file.ts";

const data = new TextEncoder().encode("state");

Deno.test("snapshot file: the membership round-trips; a version 1 file loads without one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-snapfile-" });
  try {
    const membership = { voters: [1, 2, 3], learners: [7] };
    const path = await writeSnapshotFile(dir, 0, { meta: { index: 9, term: 2, membership }, data });
    assertEquals((await readSnapshotFile(path)).meta, { index: 9, term: 2, membership });

    const v1 = new ByteWriter().bytes(new TextEncoder().encode("PRKS")).u32(1).u64(5).u64(1)
      .u64(data.length).u32(crc32(data)).bytes(data).view();
    await Deno.writeFile(join(dir, "v1.snap"), v1);
    const old = await readSnapshotFile(join(dir, "v1.snap"));
    assertEquals([old.meta, new TextDecoder().decode(old.data)], [{ index: 5, term: 1 }, "state"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("snapshot file: a damaged membership is refused as corrupt", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-snapfile-" });
  try {
    const membership = { voters: [1, 2, 3], learners: [] };
    const path = await writeSnapshotFile(dir, 0, { meta: { index: 9, term: 2, membership }, data });
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 8] ^= 0x01; // inside the membership JSON
    await Deno.writeFile(path, bytes);
    await assertRejects(() => readSnapshotFile(path), CorruptLogError, "membership checksum");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
