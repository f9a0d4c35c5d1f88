/**
 * Reading a log segment back: every record with its offset, and where a torn tail starts.
 *
 * A crash during a write can leave the last record of the last segment incomplete, failing its
 * checksum, or zero-filled: that is a torn tail, and it is safe to cut, because a write is
 * acknowledged only after its fsync. Anything wrong elsewhere is corruption and stops recovery.
 *
 * @module
 */
import { CorruptLogError, FormatVersionError } from "./errors.ts";
import { crc32 } from "./crc32.ts";
import {
  decodePayload,
  MAX_RECORD_BYTES,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
  SEGMENT_VERSION,
  type WalRecord,
} from "./wal_format.ts";

/** What a segment holds. */
export interface SegmentScan {
  readonly records: { readonly record: WalRecord; readonly offset: number }[];
  /** Where valid data ends. */
  readonly validEnd: number;
  /** When a torn tail was found: its offset and why. */
  readonly torn?: { readonly offset: number; readonly reason: string };
}

function allZero(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * Scans a segment's bytes.
 *
 * @param bytes The whole file.
 * @param path Its path, for errors.
 * @param isLast Whether it is the newest segment (the only one that may have a torn tail).
 * @throws {CorruptLogError} On a bad header or a bad record before the tail.
 * @throws {FormatVersionError} When a newer PrkDB wrote it.
 */
export function scanSegment(bytes: Uint8Array, path: string, isLast: boolean): SegmentScan {
  if (bytes.length < SEGMENT_HEADER_BYTES) {
    if (isLast) {
      return { records: [], validEnd: 0, torn: { offset: 0, reason: "incomplete segment header" } };
    }
    throw new CorruptLogError(path, 0, `segment is ${bytes.length} bytes, shorter than its header`);
  }
  if (!SEGMENT_MAGIC.every((b, i) => bytes[i] === b)) {
    throw new CorruptLogError(path, 0, "not a PrkDB log segment (bad magic)");
  }
  const version = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true);
  if (version > SEGMENT_VERSION) throw new FormatVersionError(path, version, SEGMENT_VERSION);

  const records: { record: WalRecord; offset: number }[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = SEGMENT_HEADER_BYTES;
  const tornOrCorrupt = (reason: string, tail: boolean): SegmentScan => {
    if (isLast && tail) return { records, validEnd: offset, torn: { offset, reason } };
    throw new CorruptLogError(path, offset, reason);
  };
  while (offset < bytes.length) {
    if (allZero(bytes, offset)) return tornOrCorrupt("zero-filled tail", true);
    if (bytes.length - offset < RECORD_HEADER_BYTES) {
      return tornOrCorrupt("incomplete record header", true);
    }
    const length = view.getUint32(offset, true);
    const checksum = view.getUint32(offset + 4, true);
    const end = offset + RECORD_HEADER_BYTES + length;
    if (length > MAX_RECORD_BYTES) {
      return tornOrCorrupt(`record length ${length} is implausible`, true);
    }
    if (end > bytes.length) {
      return tornOrCorrupt(`record of ${length} bytes runs past the end of the file`, true);
    }
    const payload = bytes.subarray(offset + RECORD_HEADER_BYTES, end);
    if (crc32(payload) !== checksum) {
      // A bad checksum on the very last record is a torn write; anywhere else, corruption.
      return tornOrCorrupt("checksum mismatch", end === bytes.length);
    }
    try {
      records.push({ record: decodePayload(payload), offset });
    } catch (error) {
      throw new CorruptLogError(path, offset, `malformed record: ${(error as Error).message}`);
    }
    offset = end;
  }
  return { records, validEnd: offset };
}
