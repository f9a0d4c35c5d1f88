/**
 * The write-ahead log's on-disk format (version 3; version 2 segments are still read).
 *
 * A segment file is a header followed by records. Every record carries a sequence number that
 * runs on without a gap across segments, and a checksum of its own header, so recovery can tell
 * a torn final write from a damaged record with valid records after it, and a missing or swapped
 * segment from a complete log.
 *
 * The header ends with the segment's **acknowledged mark**: a pair of slots (mark_slots.ts)
 * naming the last record known durable. Every write to the segment first updates one slot in
 * place, naming the records of the writes before it, and the same fdatasync makes the slot and
 * the new records durable; so the mark trails the log by one write and costs no fsync of its own.
 * It survives whatever happens to the segment's tail, and recovery refuses a log that ends before
 * it (version 2 headers have no mark).
 *
 * ```text
 * header:  "PRKW" (4) | format version (u32 LE) | first record's sequence (u64) | CRC-32 of the 16 bytes before (u32)
 *          | acknowledged mark: slot 0 (16) | slot 1 (16)          (version 3)
 * record:  payload length (u32 LE) | sequence (u64) | CRC-32 of length and sequence (u32) | CRC-32 of payload (u32) | payload
 * payload: type (u8) | partition (u32) | body
 *   1 hard state  term (u64) | votedFor (u32) | commitIndex (u64)
 *   2 entries     count (u32) | count x [index (u64) | term (u64) | type (u8) | length (u32) | data]
 *   3 truncate    fromIndex (u64)
 *   4 snapshot    index (u64) | term (u64)   (the data is in its own file, see snapshot_file.ts)
 *   5 bounds      lastIndex (u64)             (a checkpoint: the partition's log ended there)
 * ```
 *
 * @module
 */
import type { Entry } from "../raft/entry.ts";
import type { HardState } from "../raft/types.ts";
import { ByteReader, ByteWriter } from "./binary.ts";
import { crc32 } from "./crc32.ts";
import { encodeSlot, SLOT_BYTES } from "./mark_slots.ts";
import type { SnapshotMeta } from "../raft/types.ts";

export const SEGMENT_MAGIC = new Uint8Array([0x50, 0x52, 0x4b, 0x57]); // "PRKW"
/** The format version this build writes. */
export const SEGMENT_VERSION = 3;
/** The oldest format version this build reads. */
export const OLDEST_SEGMENT_VERSION = 2;
/** Where a version 3 header's acknowledged mark starts. */
export const MARK_OFFSET = 20;
/** The size of the header this build writes. */
export const SEGMENT_HEADER_BYTES = MARK_OFFSET + 2 * SLOT_BYTES;
export const RECORD_HEADER_BYTES = 20;
/** A record larger than this is treated as corrupt framing rather than allocated. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

/** The header size of a segment in format `version`. */
export function segmentHeaderBytes(version: number): number {
  return version >= 3 ? SEGMENT_HEADER_BYTES : MARK_OFFSET;
}

/** A decoded record. */
export type WalRecord =
  | { readonly type: "hardState"; readonly partition: number; readonly hardState: HardState }
  | { readonly type: "entries"; readonly partition: number; readonly entries: Entry[] }
  | { readonly type: "truncate"; readonly partition: number; readonly fromIndex: number }
  | { readonly type: "snapshot"; readonly partition: number; readonly meta: SnapshotMeta }
  | { readonly type: "bounds"; readonly partition: number; readonly lastIndex: number };

const TYPE_CODES = { hardState: 1, entries: 2, truncate: 3, snapshot: 4, bounds: 5 } as const;
const ENTRY_TYPES = ["normal", "noop", "config"] as const;

/**
 * Encodes a segment header for a segment whose first record has sequence `firstSeq`, with both
 * slots of its acknowledged mark naming `acknowledged`.
 */
export function segmentHeader(firstSeq: number, acknowledged: number): Uint8Array {
  const w = new ByteWriter().bytes(SEGMENT_MAGIC).u32(SEGMENT_VERSION).u64(firstSeq);
  w.u32(crc32(w.view()));
  w.bytes(encodeSlot(acknowledged, 0)).bytes(encodeSlot(acknowledged, 1));
  return w.view().slice();
}

/** A record header's fields, read without trusting them yet. */
export interface RecordHeader {
  readonly length: number;
  readonly seq: number;
  /** Whether the header's own checksum holds. */
  readonly valid: boolean;
  readonly payloadChecksum: number;
}

/** Reads the record header at `offset` (the caller checks there are enough bytes). */
export function readRecordHeader(view: DataView, bytes: Uint8Array, offset: number): RecordHeader {
  const length = view.getUint32(offset, true);
  const seq = view.getUint32(offset + 4, true) + view.getUint32(offset + 8, true) * 0x100000000;
  const valid = crc32(bytes.subarray(offset, offset + 12)) === view.getUint32(offset + 12, true);
  return { length, seq, valid, payloadChecksum: view.getUint32(offset + 16, true) };
}

/** Appends one framed record with sequence number `seq` to `w`. */
export function encodeRecord(w: ByteWriter, record: WalRecord, seq: number): void {
  const start = w.length;
  w.u32(0).u64(seq).u32(0).u32(0); // length and checksums, patched below
  w.u8(TYPE_CODES[record.type]).u32(record.partition);
  switch (record.type) {
    case "hardState":
      w.u64(record.hardState.term).u32(record.hardState.votedFor).u64(record.hardState.commitIndex);
      break;
    case "entries":
      w.u32(record.entries.length);
      for (const e of record.entries) {
        w.u64(e.index).u64(e.term).u8(ENTRY_TYPES.indexOf(e.type)).u32(e.data.length).bytes(e.data);
      }
      break;
    case "truncate":
      w.u64(record.fromIndex);
      break;
    case "snapshot":
      w.u64(record.meta.index).u64(record.meta.term);
      break;
    case "bounds":
      w.u64(record.lastIndex);
      break;
  }
  const payloadStart = start + RECORD_HEADER_BYTES;
  w.patchU32(start, w.length - payloadStart);
  w.patchU32(start + 12, crc32(w.view(start, start + 12)));
  w.patchU32(start + 16, crc32(w.view(payloadStart)));
}

/** Decodes a record's payload (already checksummed). Throws on malformed content. */
export function decodePayload(payload: Uint8Array): WalRecord {
  const r = new ByteReader(payload);
  const code = r.u8();
  const partition = r.u32();
  let record: WalRecord;
  switch (code) {
    case 1:
      record = {
        type: "hardState",
        partition,
        hardState: { term: r.u64(), votedFor: r.u32(), commitIndex: r.u64() },
      };
      break;
    case 2: {
      const count = r.u32();
      const entries: Entry[] = [];
      for (let i = 0; i < count; i++) {
        const index = r.u64(), term = r.u64(), type = ENTRY_TYPES[r.u8()];
        if (!type) throw new Error(`unknown entry type at entry ${index}`);
        // Copy: the read buffer is reused, the log keeps the entry.
        entries.push({ index, term, type, data: r.bytes(r.u32()).slice() });
      }
      record = { type: "entries", partition, entries };
      break;
    }
    case 3:
      record = { type: "truncate", partition, fromIndex: r.u64() };
      break;
    case 4:
      record = { type: "snapshot", partition, meta: { index: r.u64(), term: r.u64() } };
      break;
    case 5:
      record = { type: "bounds", partition, lastIndex: r.u64() };
      break;
    default:
      throw new Error(`unknown record type ${code}`);
  }
  if (r.remaining !== 0) throw new Error(`${r.remaining} unexpected bytes after the record body`);
  return record;
}
