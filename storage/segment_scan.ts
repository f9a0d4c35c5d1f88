/**
 * Reading a log segment back: every record with its sequence number and offset, and, for the
 * newest segment, where a torn tail starts.
 *
 * A crash during a write can leave only the end of the newest segment damaged: the records of
 * the write in flight, never acknowledged (acknowledgement waits for the fsync). So a damaged
 * record is a **torn tail** only when it is in the newest segment and no valid record follows it
 * anywhere in the file. A damaged record followed by a valid one (found by scanning every byte
 * offset after it for a record whose header and payload checksums hold) is **corruption**, and
 * so is any damage in an older segment. Whether a torn tail also cut acknowledged records is
 * decided by the caller, against the segments' acknowledged marks and the high-water record.
 *
 * A segment is made longer than its records ahead of time (file_storage.ts preallocates it, so
 * that writes land inside the file and an fdatasync need not record a new file size): zeros
 * after the last record are space not written yet, in any segment, and end the scan cleanly.
 *
 * @module
 */
import { CorruptLogError, FormatVersionError } from "./errors.ts";
import { crc32 } from "./crc32.ts";
import { readSlots } from "./mark_slots.ts";
import {
  decodePayload,
  MARK_OFFSET,
  MAX_RECORD_BYTES,
  OLDEST_SEGMENT_VERSION,
  readRecordHeader,
  RECORD_HEADER_BYTES,
  SEGMENT_MAGIC,
  SEGMENT_VERSION,
  segmentHeaderBytes,
  type WalRecord,
} from "./wal_format.ts";

/** A record as found in a segment. */
export interface ScannedRecord {
  readonly record: WalRecord;
  readonly seq: number;
  readonly offset: number;
}

/** What a segment holds. */
export interface SegmentScan {
  /** The sequence number the header says the first record has (0 if the header is torn). */
  readonly firstSeq: number;
  /** The format version it was written in. */
  readonly version: number;
  /**
   * Its header's acknowledged mark: the last record known durable when the segment was last
   * written, and which slot holds it (absent in a version 2 segment or a torn header).
   */
  readonly mark?: { readonly seq: number; readonly slot: number };
  readonly records: ScannedRecord[];
  /** Where valid data ends. */
  readonly validEnd: number;
  /** The file's length: `validEnd`, and any zeros after it (space not written yet). */
  readonly length: number;
  /** When a torn tail was found: its offset and why. */
  readonly torn?: { readonly offset: number; readonly reason: string };
}

/** Whether every byte from `from` on is zero. */
function zeroFrom(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Finds a valid record with a sequence number above `afterSeq` at or after `from`. */
function findValidRecord(
  bytes: Uint8Array,
  view: DataView,
  from: number,
  afterSeq: number,
): { offset: number; seq: number } | undefined {
  for (let at = from; at + RECORD_HEADER_BYTES <= bytes.length; at++) {
    // Cheap filters first: a plausible sequence number, then the header checksum.
    const seqLow = view.getUint32(at + 4, true), seqHigh = view.getUint32(at + 8, true);
    const seq = seqLow + seqHigh * 0x100000000;
    if (seq <= afterSeq || seq > afterSeq + 0x10000000) continue;
    const header = readRecordHeader(view, bytes, at);
    if (!header.valid) continue;
    const end = at + RECORD_HEADER_BYTES + header.length;
    if (end > bytes.length) continue;
    if (crc32(bytes.subarray(at + RECORD_HEADER_BYTES, end)) === header.payloadChecksum) {
      return { offset: at, seq };
    }
  }
  return undefined;
}

/**
 * Scans a segment's bytes.
 *
 * @param bytes The whole file.
 * @param path Its path, for errors.
 * @param isNewest Whether it is the newest segment (the only one that may have a torn tail).
 * @throws {CorruptLogError} On a bad header, a sequence gap, or a damaged record that is not a torn tail.
 * @throws {FormatVersionError} When another PrkDB version wrote it.
 */
export function scanSegment(bytes: Uint8Array, path: string, isNewest: boolean): SegmentScan {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = SEGMENT_MAGIC.every((b, i) => bytes[i] === b);
  let version = SEGMENT_VERSION;
  if (bytes.length >= 8 && magic) {
    version = view.getUint32(4, true);
    if (version > SEGMENT_VERSION || version < OLDEST_SEGMENT_VERSION) {
      throw new FormatVersionError(path, version, SEGMENT_VERSION, OLDEST_SEGMENT_VERSION);
    }
  }
  const headerBytes = segmentHeaderBytes(version);
  // A crash while the newest segment was created can leave it short, or (its length made durable
  // before its bytes, as a preallocated file's can be) all zeros.
  const unwritten = isNewest && !magic && zeroFrom(bytes, 0);
  if (!magic && bytes.length >= MARK_OFFSET && !unwritten) {
    throw new CorruptLogError(path, 0, "not a PrkDB log segment (bad magic)");
  }
  if (bytes.length < headerBytes || unwritten) {
    // Such a segment holds nothing but copies (a checkpoint).
    if (isNewest) {
      return {
        firstSeq: 0,
        version,
        records: [],
        validEnd: 0,
        length: bytes.length,
        torn: { offset: 0, reason: "incomplete segment header" },
      };
    }
    throw new CorruptLogError(path, 0, `segment is ${bytes.length} bytes, shorter than its header`);
  }
  if (crc32(bytes.subarray(0, 16)) !== view.getUint32(16, true)) {
    throw new CorruptLogError(path, 0, "segment header checksum mismatch");
  }
  const firstSeq = view.getUint32(8, true) + view.getUint32(12, true) * 0x100000000;
  // One slot torn by a crash leaves the other; both damaged is not what a crash does.
  const mark = version >= 3 ? readSlots(view, MARK_OFFSET) : undefined;
  if (version >= 3 && mark === undefined) {
    throw new CorruptLogError(path, MARK_OFFSET, "both slots of the acknowledged mark are damaged");
  }
  const records: ScannedRecord[] = [];
  let offset = headerBytes;
  let expected = firstSeq;
  const damaged = (reason: string): SegmentScan => {
    // Nothing but zeros after the last record: space preallocated and not written yet.
    if (zeroFrom(bytes, offset)) {
      return { firstSeq, version, mark, records, validEnd: offset, length: bytes.length };
    }
    const next = findValidRecord(bytes, view, offset + 1, expected - 1);
    if (next) {
      throw new CorruptLogError(
        path,
        offset,
        `${reason}, and a valid record (number ${next.seq}) follows at offset ${next.offset}, so this is not a torn write`,
      );
    }
    if (!isNewest) throw new CorruptLogError(path, offset, `${reason} in a sealed segment`);
    return {
      firstSeq,
      version,
      mark,
      records,
      validEnd: offset,
      length: bytes.length,
      torn: { offset, reason },
    };
  };
  while (offset < bytes.length) {
    if (bytes.length - offset < RECORD_HEADER_BYTES) return damaged("incomplete record header");
    const header = readRecordHeader(view, bytes, offset);
    if (!header.valid) return damaged("record header checksum mismatch");
    if (header.seq !== expected) {
      throw new CorruptLogError(
        path,
        offset,
        `record number ${header.seq} where ${expected} was expected (a record is missing or out of place)`,
      );
    }
    if (header.length > MAX_RECORD_BYTES) {
      return damaged(`record length ${header.length} is implausible`);
    }
    const end = offset + RECORD_HEADER_BYTES + header.length;
    if (end > bytes.length) {
      return damaged(`record of ${header.length} bytes runs past the end of the file`);
    }
    const payload = bytes.subarray(offset + RECORD_HEADER_BYTES, end);
    if (crc32(payload) !== header.payloadChecksum) return damaged("checksum mismatch");
    try {
      records.push({ record: decodePayload(payload), seq: header.seq, offset });
    } catch (error) {
      throw new CorruptLogError(path, offset, `malformed record: ${(error as Error).message}`);
    }
    expected++;
    offset = end;
  }
  return { firstSeq, version, mark, records, validEnd: offset, length: bytes.length };
}
