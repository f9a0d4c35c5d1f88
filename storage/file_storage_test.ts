import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
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
import { CorruptLogError, FormatVersionError, StorageError } from "./errors.ts";
import { FileStorage } from "./file_storage.ts";
import { SEGMENT_HEADER_BYTES } from "./wal_format.ts";

const te = new TextEncoder();

/** Where a segment's records end. */
const recordsEnd = (bytes: Uint8Array) => framing(bytes).end;

Deno.test("FileStorage: a torn tail is truncated with a warning; what came before survives", async () => {
  await withDir(async (dir) => {
    await fill(dir, 4);
    // A crash after record 5 reached the log but before the high-water record caught up: keep
    // the high-water file from before the fifth write.
    const highWater = await Deno.readFile(join(dir, "high-water"));
    await fillBehindHighWater(dir, 5, 5);
    const [path] = await segments(dir);
    const bytes = await Deno.readFile(path);
    const end = recordsEnd(bytes);
    for (const cut of [3, 9, 20, 30]) {
      // Each cut models a crash part-way through writing the last record: its first bytes
      // reached the disk, the rest of the preallocated space is still zeros; or (a file that
      // was not preallocated) the file ends there.
      for (const tail of ["zeros", "end of file"]) {
        const torn = bytes.slice(0, tail === "zeros" ? bytes.length : end - cut);
        torn.fill(0, end - cut);
        await Deno.writeFile(path, torn);
        const warnings: string[] = [];
        const s = await FileStorage.open(dir, { onWarning: (m) => warnings.push(m) });
        assertEquals((await s.load(0)).entries.map((e) => e.index), [1, 2, 3, 4]);
        assertEquals(warnings.length, 1);
        assertStringIncludes(warnings[0], `Truncating torn tail of ${path}`);
        await s.write([{ partition: 0, entries: [entry(5)] }]); // the log works after repair
        await s.close();
        assertEquals(recordsEnd(await Deno.readFile(path)), end);
        await Deno.writeFile(join(dir, "high-water"), highWater);
      }
    }
  });
});

Deno.test("FileStorage: a damaged last record that was acknowledged is refused, not truncated", async () => {
  await withDir(async (dir) => {
    await fill(dir, 5); // a clean close: the high-water record names the fifth write
    const [path] = await segments(dir);
    const bytes = await Deno.readFile(path);
    bytes[recordsEnd(bytes) - 1] ^= 1;
    await Deno.writeFile(path, bytes);
    const error = await assertRejects(() => FileStorage.open(dir), CorruptLogError);
    assertEquals(error.file, path);
    assertStringIncludes(error.message, "records through 5 were acknowledged");
    assertEquals(await Deno.readFile(path), bytes, "a refused start changes nothing");
  });
});

Deno.test("FileStorage: zeros after the records (preallocated space, or a write that never reached the disk) are space not written yet: no warning, no repair", async () => {
  await withDir(async (dir) => {
    await fill(dir, 3);
    const [path] = await segments(dir);
    await fillBehindHighWater(dir, 4, 4); // a crash before the high-water record caught up
    const written = await Deno.readFile(path);
    assert(written.length > recordsEnd(written), "the segment is preallocated past its records");
    // The fourth write's record never made it: its space is zeros.
    const bytes = await Deno.readFile(path);
    const view = new DataView(bytes.buffer);
    let fourth = SEGMENT_HEADER_BYTES;
    for (let i = 0; i < 3; i++) fourth += 20 + view.getUint32(fourth, true);
    bytes.fill(0, fourth);
    await Deno.writeFile(path, bytes);
    const warnings: string[] = [];
    const s = await FileStorage.open(dir, { onWarning: (m) => warnings.push(m) });
    assertEquals((await s.load(0)).entries.length, 3);
    assertEquals(warnings, []);
    assertEquals(await Deno.readFile(path), bytes, "nothing to repair");
    await s.write([{ partition: 0, entries: [entry(4)] }]);
    await s.close();
    assertEquals(recordsEnd(await Deno.readFile(path)), recordsEnd(written));
  });
});

Deno.test("FileStorage: a corrupted record mid-segment names the file and offset", async () => {
  await withDir(async (dir) => {
    await fill(dir, 5);
    const [path] = await segments(dir);
    const bytes = await Deno.readFile(path);
    // Find the second record (after the header and the first record) and flip a byte in it.
    const firstLength = new DataView(bytes.buffer).getUint32(SEGMENT_HEADER_BYTES, true);
    const second = SEGMENT_HEADER_BYTES + 20 + firstLength;
    bytes[second + 24] ^= 0xff;
    await Deno.writeFile(path, bytes);
    const error = await assertRejects(() => FileStorage.open(dir), CorruptLogError);
    assertEquals([error.file, error.offset], [path, second]);
    assertStringIncludes(
      error.message,
      `Corrupt record in ${path} at offset ${second}: checksum mismatch`,
    );
  });
});

Deno.test("FileStorage: a segment from a newer format version is refused clearly", async () => {
  await withDir(async (dir) => {
    await fill(dir, 1);
    const [path] = await segments(dir);
    const bytes = await Deno.readFile(path);
    new DataView(bytes.buffer).setUint32(4, 9, true);
    await Deno.writeFile(path, bytes);
    const error = await assertRejects(() => FileStorage.open(dir), FormatVersionError);
    assertStringIncludes(error.message, "version 9 was written by a newer PrkDB");
  });
});

Deno.test("FileStorage: a file that is not a segment is refused", async () => {
  await withDir(async (dir) => {
    await fill(dir, 1);
    const [path] = await segments(dir);
    await Deno.writeTextFile(path, "hello, this is not a log");
    await assertRejects(() => FileStorage.open(dir), CorruptLogError, "bad magic");
  });
});

Deno.test("FileStorage: segments rotate, and those covered by snapshots are deleted", async () => {
  await withDir(async (dir) => {
    const s = await FileStorage.open(dir, { segmentBytes: 1024 });
    for (let i = 1; i <= 200; i++) {
      await s.write([{ partition: 0, entries: [entry(i)] }, { partition: 1, entries: [entry(i)] }]);
    }
    const before = (await segments(dir)).length;
    assert(before > 5, `expected rotation, found ${before} segment(s)`);
    const oldest = (await segments(dir))[0];
    await s.write([{
      partition: 0,
      snapshot: { meta: { index: 190, term: 1 }, data: te.encode("p0") },
    }]);
    assertEquals((await segments(dir))[0], oldest, "partition 1 still needs every segment");
    await s.write([{
      partition: 1,
      snapshot: { meta: { index: 190, term: 1 }, data: te.encode("p1") },
    }]);
    const after = (await segments(dir)).length;
    assert(after <= 3, `expected old segments to be deleted, ${after} of ${before} remain`);
    await s.close();
    const reopened = await FileStorage.open(dir);
    for (const p of [0, 1]) {
      const st = await reopened.load(p);
      assertEquals([st.snapshot?.meta.index, st.entries.map((e) => e.index)], [
        190,
        Array.from({ length: 10 }, (_, i) => 191 + i),
      ]);
    }
    await reopened.close();
    const snaps = [...Deno.readDirSync(join(dir, "snapshots"))].map((e) => e.name);
    assertEquals(snaps.length, 2, `one snapshot file per partition, found ${snaps}`);
  });
});

Deno.test("FileStorage: a full disk is a clear error, and the store stops accepting writes", async () => {
  await withDir(async (dir) => {
    const s = await FileStorage.open(dir, { segmentBytes: 256 });
    await s.write([{ partition: 0, entries: [entry(1)] }]);
    // The next segment the store creates will be /dev/full: every write to it fails with ENOSPC.
    const names = await segments(dir);
    const next = String(names.length + 1).padStart(20, "0");
    await Deno.symlink("/dev/full", join(dir, "wal", `${next}.wal`));
    const error = await assertRejects(
      () =>
        s.write([{
          partition: 0,
          entries: [entry(2), { ...entry(3), data: new Uint8Array(400) }],
        }]),
      StorageError,
    );
    assertStringIncludes(error.message, "Disk full: cannot append to");
    await assertRejects(
      () => s.write([{ partition: 0, entries: [entry(4)] }]),
      StorageError,
      "Disk full",
    );
    await s.close();
  });
});

Deno.test("FileStorage: an unusable data directory is a clear error", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "not-a-dir");
    await Deno.writeTextFile(file, "x");
    const error = await assertRejects(() => FileStorage.open(file), StorageError);
    assertStringIncludes(error.message, `Cannot use ${file} as a data directory`);
  });
});

Deno.test("FileStorage: group commit shares one fsync among concurrent batches", async () => {
  await withDir(async (dir) => {
    const s = await FileStorage.open(dir);
    const syncs = await countFdatasyncs(async () => {
      await Promise.all(
        Array.from(
          { length: 100 },
          (_, i) => s.write([{ partition: i % 4, entries: [entry(Math.floor(i / 4) + 1)] }]),
        ),
      );
    });
    // At most two log rounds, each followed by a (coalesced) high-water update.
    assert(syncs <= 4, `100 concurrent batches took ${syncs} fsyncs`);
    assertEquals((await s.load(3)).entries.length, 25);
    await s.close();
  });
});

Deno.test("FileStorage: a damaged snapshot file is refused at start", async () => {
  await withDir(async (dir) => {
    const s = await FileStorage.open(dir);
    await s.write([{ partition: 0, entries: [entry(1)] }]);
    await s.write([{
      partition: 0,
      snapshot: { meta: { index: 1, term: 1 }, data: te.encode("state") },
    }]);
    await s.close();
    const [name] = [...Deno.readDirSync(join(dir, "snapshots"))].map((e) => e.name);
    const path = join(dir, "snapshots", name);
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 1] ^= 1;
    await Deno.writeFile(path, bytes);
    const error = await assertRejects(() => FileStorage.open(dir), CorruptLogError);
    assertInstanceOf(error, StorageError);
    assertStringIncludes(error.message, path);
    assertEquals(await Deno.readFile(path), bytes, "a refused start changes nothing");
  });
});

Deno.test("FileStorage: a log in format 1 (before record numbers) is refused with what to do", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(join(dir, "wal"));
    const path = join(dir, "wal", "00000000000000000001.wal");
    // A format 1 header ("PRKW", version 1) and one record (length, checksum, payload).
    const segment = new Uint8Array([0x50, 0x52, 0x4b, 0x57, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9]);
    await Deno.writeFile(path, segment);
    const error = await assertRejects(() => FileStorage.open(dir), FormatVersionError);
    assertStringIncludes(error.message, "version 1 was written by an older PrkDB");
    assertStringIncludes(error.message, "--allow-blank-start");
    assertEquals(await Deno.readFile(path), segment, "a refused start changes nothing");
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["wal"]);
  });
});

Deno.test("FileStorage: a flipped bit in a length mid-segment is corruption even when the high-water record trails", async () => {
  await withDir(async (dir) => {
    await fill(dir, 1);
    // As after a power loss: the high-water record names only the first write.
    await fillBehindHighWater(dir, 6, 2);
    const [path] = await segments(dir);
    const bytes = await Deno.readFile(path);
    const view = new DataView(bytes.buffer);
    const third = [0, 1].reduce((at) => at + 20 + view.getUint32(at, true), SEGMENT_HEADER_BYTES);
    bytes[third + 2] ^= 0x10; // the length's third byte: a record "megabytes long"
    await Deno.writeFile(path, bytes);
    const error = await assertRejects(() => FileStorage.open(dir), CorruptLogError);
    assertEquals([error.file, error.offset], [path, third]);
    assertStringIncludes(error.message, "record header checksum mismatch, and a valid record");
    assertStringIncludes(error.message, "so this is not a torn write");
    assertEquals(await Deno.readFile(path), bytes, "nothing was truncated");
  });
});
