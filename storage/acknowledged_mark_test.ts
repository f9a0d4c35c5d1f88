/**
 * The file log's acknowledged mark: each segment's header names the records durable before the
 * last write to it, so a log whose tail was lost is refused even when the high-water file trails
 * far behind, and the high-water file itself costs no fdatasync per write.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import {
  countFdatasyncs,
  entry,
  fill,
  fillBehindHighWater,
  framing,
  segments,
  withDir,
} from "../tests/support/wal_files.ts";
import { crc32 } from "./crc32.ts";
import { CorruptLogError, DataLossError } from "./errors.ts";
import { FileStorage } from "./file_storage.ts";
import { HighWater, readHighWater } from "./high_water.ts";
import { readSlots, SLOT_BYTES } from "./mark_slots.ts";
import { MARK_OFFSET, SEGMENT_HEADER_BYTES, SEGMENT_MAGIC } from "./wal_format.ts";

/** The numbers both slots of a segment's mark hold, and which slot is live. */
async function slots(path: string): Promise<{ values: number[]; live: number }> {
  const view = new DataView((await Deno.readFile(path)).buffer);
  const values = [0, 1].map((i) => {
    const at = MARK_OFFSET + i * SLOT_BYTES;
    return view.getUint32(at, true) + view.getUint32(at + 4, true) * 0x100000000;
  });
  return { values, live: readSlots(view, MARK_OFFSET)!.slot };
}

/** Where each record of a segment ends, in order. */
function recordEnds(bytes: Uint8Array): number[] {
  const { offsets, end } = framing(bytes);
  return [...offsets.slice(1), end];
}

Deno.test("acknowledged mark: a log cut at a record boundary is refused although the high-water file trails; a cut of the last write alone is not seen", async () => {
  await withDir(async (dir) => {
    await fill(dir, 1);
    // As after a power loss: the high-water file named only the first write.
    await fillBehindHighWater(dir, 10, 2);
    const [path] = await segments(dir);
    const bytes = await Deno.readFile(path);
    const ends = recordEnds(bytes);
    assertEquals(ends.length, 10);

    // Records 7 to 10 gone: the tenth write's mark names the ninth record.
    const cut = bytes.slice(0, ends[5]);
    await Deno.writeFile(path, cut);
    const error = await assertRejects(() => FileStorage.open(dir), DataLossError);
    assertEquals(error.file, path);
    assertStringIncludes(
      error.message,
      `the log ends at record 6, but records through 9 were acknowledged (the acknowledged mark of ${path})`,
    );
    assertEquals(await Deno.readFile(path), cut, "a refused start changes nothing");

    // Only the last write gone: the mark trails the log by one write, so this start succeeds.
    await Deno.writeFile(path, bytes.slice(0, ends[8]));
    const again = await FileStorage.open(dir);
    assertEquals((await again.load(0)).entries.map((e) => e.index), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await again.close();
  });
});

Deno.test("acknowledged mark: one damaged slot leaves the other; both damaged is corruption", async () => {
  await withDir(async (dir) => {
    await fill(dir, 4);
    const [path] = await segments(dir);
    const bytes = await Deno.readFile(path);
    for (const slot of [0, 1]) {
      // As a crash part-way through updating that slot would leave it.
      const torn = bytes.slice();
      torn[MARK_OFFSET + slot * 16 + 3] ^= 0x40;
      await Deno.writeFile(path, torn);
      const reopened = await FileStorage.open(dir);
      assertEquals((await reopened.load(0)).entries.length, 4);
      await reopened.close();
    }
    const both = bytes.slice();
    both[MARK_OFFSET + 3] ^= 0x40;
    both[MARK_OFFSET + 16 + 3] ^= 0x40;
    await Deno.writeFile(path, both);
    const error = await assertRejects(() => FileStorage.open(dir), CorruptLogError);
    assertEquals([error.file, error.offset], [path, MARK_OFFSET]);
    assertStringIncludes(error.message, "both slots of the acknowledged mark are damaged");
  });
});

Deno.test("acknowledged mark: a lost newest segment is refused, since the high-water file names every new segment's start", async () => {
  await withDir(async (dir) => {
    const s = await FileStorage.open(dir, { segmentBytes: 400 });
    let i = 0;
    while ((await segments(dir)).length < 2) {
      await s.write([{ partition: 0, entries: [entry(++i)] }]);
    }
    // As after a power loss soon after: the high-water file as the new segment left it.
    const highWater = await Deno.readFile(join(dir, "high-water"));
    for (let n = 0; n < 3; n++) await s.write([{ partition: 0, entries: [entry(++i)] }]);
    await s.close();
    await Deno.writeFile(join(dir, "high-water"), highWater);
    const all = await segments(dir);
    assertEquals(all.length, 2);
    await Deno.remove(all[1]);
    const error = await assertRejects(() => FileStorage.open(dir), DataLossError);
    assertStringIncludes(error.message, `were acknowledged (${join(dir, "high-water")})`);
  });
});

Deno.test("acknowledged mark: a version 2 segment is read, and the log goes on in a version 3 one", async () => {
  await withDir(async (dir) => {
    await fill(dir, 3);
    const [path] = await segments(dir);
    const bytes = await Deno.readFile(path);
    // The same records behind a version 2 header: magic, version, first record, checksum.
    const header = new Uint8Array(20);
    const view = new DataView(header.buffer);
    header.set(SEGMENT_MAGIC);
    view.setUint32(4, 2, true);
    header.set(bytes.subarray(8, 16), 8);
    view.setUint32(16, crc32(header.subarray(0, 16)), true);
    await Deno.writeFile(
      path,
      new Uint8Array([...header, ...bytes.subarray(SEGMENT_HEADER_BYTES)]),
    );

    const upgraded = await FileStorage.open(dir);
    assertEquals((await upgraded.load(0)).entries.map((e) => e.index), [1, 2, 3]);
    await upgraded.write([{ partition: 0, entries: [entry(4)] }]);
    await upgraded.close();
    const [old, next] = await segments(dir);
    assertEquals(old, path);
    assertEquals(new DataView((await Deno.readFile(next)).buffer).getUint32(4, true), 3);
    const reopened = await FileStorage.open(dir);
    assertEquals((await reopened.load(0)).entries.map((e) => e.index), [1, 2, 3, 4]);
    await reopened.close();
  });
});

Deno.test("acknowledged mark: a write costs one fdatasync; the high-water file adds at most one a second", async () => {
  await withDir(async (dir) => {
    const s = await FileStorage.open(dir);
    const started = performance.now();
    const syncs = await countFdatasyncs(async () => {
      for (let i = 1; i <= 100; i++) await s.write([{ partition: 0, entries: [entry(i)] }]);
    });
    const seconds = (performance.now() - started) / 1000;
    // 100 for the log; the high-water file once at once, then at most once per second.
    assert(syncs <= 100 + 2 + Math.ceil(seconds), `${syncs} fdatasyncs in ${seconds} s`);
    assert(syncs >= 100);
    await s.close();
  });
});

Deno.test("acknowledged mark: writes alternate between the slots, and after a restart the next write leaves the live one alone", async () => {
  await withDir(async (dir) => {
    const s = await FileStorage.open(dir);
    const [path] = await segments(dir);
    const seen: number[][] = [];
    for (let i = 1; i <= 4; i++) {
      await s.write([{ partition: 0, entries: [entry(i)] }]);
      seen.push((await slots(path)).values);
    }
    await s.close();
    // Write i names the i - 1 records before it, in slot (i - 1) % 2.
    assertEquals(seen, [[0, 0], [0, 1], [2, 1], [2, 3]]);
    const before = await slots(path);
    const again = await FileStorage.open(dir);
    await again.write([{ partition: 0, entries: [entry(5)] }]);
    await again.close();
    const after = await slots(path);
    assertEquals(after.values[before.live], before.values[before.live], "the live slot stays");
    assertEquals(after.values[before.live ^ 1], 4);
  });
});

Deno.test("acknowledged mark: the high-water file is not written per write", async () => {
  await withDir(async (dir) => {
    const s = await FileStorage.open(dir);
    const started = performance.now();
    for (let i = 1; i <= 50; i++) await s.write([{ partition: 0, entries: [entry(i)] }]);
    const seconds = (performance.now() - started) / 1000;
    const named = await readHighWater(join(dir, "high-water"));
    await s.close();
    // The first write's update goes at once; the next waits a second (unless the writes took
    // that long on a slow machine).
    if (seconds < 0.9) assert(named! <= 1, `the high-water file named ${named} after ${seconds} s`);
    assertEquals(await readHighWater(join(dir, "high-water")), 50, "a clean close catches up");
  });
});

Deno.test("acknowledged mark: a newest segment whose bytes never reached the disk (zeros) is removed; the log goes on", async () => {
  await withDir(async (dir) => {
    await fill(dir, 3);
    // A crash during a rotation, after the new file's length was made durable but not its bytes.
    const next = join(dir, "wal", "00000000000000000002.wal");
    await Deno.writeFile(next, new Uint8Array(64 * 1024));
    const warnings: string[] = [];
    const reopened = await FileStorage.open(dir, { onWarning: (m) => warnings.push(m) });
    assertEquals((await reopened.load(0)).entries.length, 3);
    assertEquals(warnings.length, 1);
    assertStringIncludes(warnings[0], "incomplete segment header");
    await reopened.write([{ partition: 0, entries: [entry(4)] }]);
    await reopened.close();
    const check = await FileStorage.open(dir);
    assertEquals((await check.load(0)).entries.length, 4);
    await check.close();
  });
});

Deno.test("acknowledged mark: a rotation's checkpoint cut short is not written on: the older segments keep what only they hold", async () => {
  await withDir(async (dir) => {
    const s = await FileStorage.open(dir, { segmentBytes: 600 });
    let i = 0;
    await s.write([{ partition: 0, entries: [entry(++i)] }]);
    await s.write([{ partition: 1, hardState: { term: 7, votedFor: 3, commitIndex: 0 } }]);
    const rotateTo = async (n: number) => {
      while ((await segments(dir)).length < n) {
        await s.write([{ partition: 0, entries: [entry(++i)] }]);
      }
    };
    // Two rotations: the second segment's checkpoint holds partition 1 whole, the third's is cut.
    await rotateTo(2);
    const highWater = await Deno.readFile(join(dir, "high-water"));
    await rotateTo(3);
    await s.close();
    const [, , third] = await segments(dir);
    const bytes = await Deno.readFile(third);
    const { offsets } = framing(bytes);
    // As if the rotation's fdatasync was cut: partition 0's checkpoint reached the disk,
    // partition 1's did not (zeros), and the high-water file is from before the rotation.
    bytes.fill(0, offsets[2]);
    await Deno.writeFile(third, bytes);
    await Deno.writeFile(join(dir, "high-water"), highWater);
    const r = await FileStorage.open(dir, { segmentBytes: 600 });
    assertEquals((await r.load(1)).hardState.term, 7);
    // Partition 0's snapshot covers all its entries: the segments before it may be collected.
    const snapshot = { meta: { index: i, term: 1 }, data: new Uint8Array(3) };
    await r.write([{ partition: 0, snapshot }]);
    await r.close();
    const again = await FileStorage.open(dir, { segmentBytes: 600 });
    assertEquals((await again.load(1)).hardState, { term: 7, votedFor: 3, commitIndex: 0 });
    await again.close();
  });
});

Deno.test("high-water record: after a reopen the first update goes to the slot not holding the value", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "high-water");
    const live = async () => readSlots(new DataView((await Deno.readFile(path)).buffer), 8)!;
    const hw = await HighWater.create(path, 0, 0);
    await hw.sync(5);
    await hw.close();
    const first = await live();
    assertEquals(first.seq, 5);
    const reopened = await HighWater.open(path, 5, 0);
    await reopened.sync(9);
    const after = await Deno.readFile(path);
    const view = new DataView(after.buffer);
    // The slot that held 5 still does; the update went to the other one.
    assertEquals(view.getUint32(8 + first.slot * SLOT_BYTES, true), 5);
    assertEquals(view.getUint32(8 + (first.slot ^ 1) * SLOT_BYTES, true), 9);
    await reopened.close();
  });
});
