/**
 * The first half of file-backend recovery: read every segment, check that together they form
 * one unbroken log, and check that the log reaches the last record acknowledged: the highest of
 * the segments' acknowledged marks (wal_format.ts; one write behind the log) and the high-water
 * record (high_water.ts; brought up to date at every new segment). Nothing is changed on disk
 * here; the caller repairs a torn tail only after the whole state has loaded and verified.
 *
 * Refusals, each naming the file:
 *
 * - a damaged record that is not a torn tail ({@linkcode CorruptLogError}, see segment_scan.ts);
 * - a segment whose first record does not follow on from the previous segment's last (one is
 *   missing, out of order or cut short), or a gap in the segment file numbers;
 * - a log that ends before the last acknowledged record ({@linkcode DataLossError}): a deleted
 *   or emptied newest segment (caught by the high-water record), a cut at a record boundary, or a
 *   "torn tail" that held acknowledged records (caught by the segment's own mark).
 *
 * @module
 */
import { join } from "@std/path";
import { CorruptLogError, DataLossError } from "./errors.ts";
import { scanSegment, type SegmentScan } from "./segment_scan.ts";

/** A segment file and what it holds. */
export interface ScannedSegment {
  /** The segment's number (from its file name). */
  readonly seq: number;
  readonly path: string;
  readonly scan: SegmentScan;
}

/** The verified log. */
export interface ScannedLog {
  readonly segments: ScannedSegment[];
  /** The sequence number of the last valid record (0 for none). */
  readonly lastSeq: number;
}

/** The name of segment number `seq`. */
export const segmentName = (seq: number): string => `${String(seq).padStart(20, "0")}.wal`;

/** Lists the segment files in `walDir`, oldest first. */
export async function listSegments(walDir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(walDir)) {
    if (entry.isFile && /^\d{20}\.wal$/.test(entry.name)) names.push(entry.name);
  }
  return names.sort();
}

/**
 * Reads and checks the whole log.
 *
 * @param walDir The log directory.
 * @param names Its segment files, oldest first (at least one).
 * @param highWater The high-water record: a last sequence number acknowledged.
 * @param highWaterPath The high-water file, for messages.
 * @returns Every segment's records and the last sequence number.
 */
export async function scanLog(
  walDir: string,
  names: readonly string[],
  highWater: number,
  highWaterPath: string,
): Promise<ScannedLog> {
  const segments: ScannedSegment[] = [];
  let lastSeq = 0;
  // The highest acknowledged record anything names, and what names it.
  let acknowledged = highWater;
  let namedBy = highWaterPath;
  for (let i = 0; i < names.length; i++) {
    const path = join(walDir, names[i]);
    const seq = Number(names[i].slice(0, 20));
    const scan = scanSegment(await Deno.readFile(path), path, i === names.length - 1);
    const previous = segments.at(-1);
    if (previous && seq !== previous.seq + 1) {
      throw new CorruptLogError(
        path,
        0,
        `segment ${previous.seq + 1} is missing between ${previous.path} and this one`,
      );
    }
    const headerTorn = scan.torn?.offset === 0;
    if (previous && !headerTorn && scan.firstSeq !== lastSeq + 1) {
      throw new CorruptLogError(
        path,
        0,
        `segment starts at record ${scan.firstSeq}, but ${previous.path} ends at record ${lastSeq}: a segment is missing, out of order or cut short`,
      );
    }
    if (!headerTorn) lastSeq = scan.firstSeq + scan.records.length - 1;
    if (scan.mark && scan.mark.seq > acknowledged) {
      acknowledged = scan.mark.seq;
      namedBy = `the acknowledged mark of ${path}`;
    }
    segments.push({ seq, path, scan });
  }
  if (lastSeq < acknowledged) {
    const newest = segments.at(-1)!;
    const torn = newest.scan.torn;
    const detail =
      `the log ends at record ${lastSeq}, but records through ${acknowledged} were acknowledged (${namedBy})`;
    if (torn) {
      throw new CorruptLogError(newest.path, torn.offset, `${torn.reason}; ${detail}`);
    }
    throw new DataLossError(newest.path, detail);
  }
  return { segments, lastSeq };
}
