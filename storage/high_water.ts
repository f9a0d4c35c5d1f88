/**
 * The high-water record: a small file, fsynced on its own, holding the sequence number of the
 * last write a store acknowledged. At start the store compares it with what it recovered: a log
 * that ends before it, or a database rolled back behind it, has lost acknowledged writes, and
 * the store refuses to start instead of silently serving less.
 *
 * ```text
 * "PRKH" (4) | version (u32 LE) | slot 0 | slot 1
 * slot:      sequence (u64 LE) | CRC-32 of the sequence and the slot number (u32) | reserved (u32)
 * ```
 *
 * Updates alternate between the two slots (mark_slots.ts), so a torn update leaves the other slot
 * (the previous value) intact; the reader takes the highest valid slot. The record is a lower
 * bound: it is written after the write it names is durable, in the background, at most one update
 * in flight and at most one per interval (10 ms unless the store asks for another), so after a
 * crash it may trail the log by that long; {@linkcode HighWater.sync} writes one at once. A clean
 * close brings it up to date. The file log keeps a tighter mark in each segment's header and asks
 * for an update here at every new segment, so that a lost segment is caught too.
 *
 * @module
 */
import { ifExists } from "./if_exists.ts";
import { dirname } from "@std/path";
import { ByteWriter } from "./binary.ts";
import { CorruptLogError, FormatVersionError, StorageError } from "./errors.ts";
import { encodeSlot, readSlots, SLOT_BYTES } from "./mark_slots.ts";
import { syncDirectory } from "./snapshot_file.ts";

const MAGIC = new Uint8Array([0x50, 0x52, 0x4b, 0x48]); // "PRKH"
const VERSION = 1;
const HEADER_BYTES = 8;
const FILE_BYTES = HEADER_BYTES + 2 * SLOT_BYTES;

/**
 * Reads a high-water file.
 *
 * @param path The file.
 * @returns The last acknowledged sequence number, or undefined when the file does not exist.
 * @throws {CorruptLogError} When neither slot is valid.
 */
export async function readHighWater(path: string): Promise<number | undefined> {
  const bytes = await ifExists(path, Deno.readFile);
  if (bytes === undefined) return undefined;
  if (bytes.length < FILE_BYTES || !MAGIC.every((b, i) => bytes[i] === b)) {
    throw new CorruptLogError(path, 0, "not a PrkDB high-water file");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== VERSION) throw new FormatVersionError(path, version, VERSION);
  const best = readSlots(view, HEADER_BYTES);
  if (best === undefined) {
    throw new CorruptLogError(path, HEADER_BYTES, "both high-water slots are damaged");
  }
  return best.seq;
}

/**
 * A store's high-water record, kept up to date after each durable write.
 *
 * @example Create, advance, reread
 * ```ts
 * import { HighWater, readHighWater } from "@prkdb/prkdb/storage";
 * const dir = await Deno.makeTempDir();
 * const hw = await HighWater.create(`${dir}/high-water`, 0);
 * hw.advance(5);
 * await hw.close();
 * console.log(await readHighWater(`${dir}/high-water`)); // 5
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class HighWater {
  readonly #path: string;
  readonly #file: Deno.FsFile;
  #written: number;
  #wanted: number;
  #updates = 0;
  #inFlight: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastWriteMs = -Infinity;
  #closing = false;
  #failed: Error | undefined;
  readonly #intervalMs: number;

  private constructor(path: string, file: Deno.FsFile, seq: number, intervalMs: number) {
    this.#path = path;
    this.#file = file;
    this.#written = this.#wanted = seq;
    this.#intervalMs = intervalMs;
  }

  /**
   * Creates the file holding `seq` (atomically, with fsyncs of it and its directory).
   *
   * @param path The file.
   * @param seq The starting value.
   * @param intervalMs The least time between two updates.
   * @returns The open record.
   */
  static async create(path: string, seq: number, intervalMs?: number): Promise<HighWater> {
    const tmp = `${path}.tmp`;
    try {
      const bytes = new ByteWriter().bytes(MAGIC).u32(VERSION).bytes(encodeSlot(seq, 0))
        .bytes(encodeSlot(seq, 1)).view();
      await Deno.writeFile(tmp, bytes);
      const f = await Deno.open(tmp, { write: true });
      try {
        await f.sync();
      } finally {
        f.close();
      }
      await Deno.rename(tmp, path);
      await syncDirectory(dirname(path));
    } catch (error) {
      throw new StorageError(`Cannot create ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return await HighWater.open(path, seq, intervalMs);
  }

  /**
   * Opens an existing file for updates.
   *
   * @param path The file.
   * @param seq Its current value (from {@linkcode readHighWater}).
   * @param intervalMs The least time between two updates (default 10 ms): each update is an
   *   fdatasync beside the log's, so they are spaced out, at the price of trailing further.
   * @returns The open record.
   */
  static async open(path: string, seq: number, intervalMs = 10): Promise<HighWater> {
    try {
      const file = await Deno.open(path, { read: true, write: true });
      const hw = new HighWater(path, file, seq, intervalMs);
      // The first update goes to the slot not holding the current value, so that a crash
      // tearing it leaves that value.
      const bytes = await Deno.readFile(path);
      const live = bytes.length >= FILE_BYTES
        ? readSlots(new DataView(bytes.buffer, bytes.byteOffset), HEADER_BYTES)
        : undefined;
      hw.#updates = (live?.slot ?? 1) + 1;
      return hw;
    } catch (error) {
      throw new StorageError(`Cannot open ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** The error of a failed update, if one failed: the store must stop acknowledging. */
  get failed(): Error | undefined {
    return this.#failed;
  }

  /**
   * Records that writes through `seq` are durable. Returns at once; the update is written in the
   * background, at most one in flight and at most one per `intervalMs`, coalescing the rest.
   *
   * @param seq The last durable sequence number.
   */
  advance(seq: number): void {
    if (seq <= this.#wanted) return;
    this.#wanted = seq;
    this.#schedule();
  }

  /**
   * Records that writes through `seq` are durable and writes that now, whatever the interval,
   * resolving once it is durable.
   *
   * @param seq The last durable sequence number.
   * @throws {StorageError} When the update failed.
   */
  async sync(seq: number): Promise<void> {
    if (seq > this.#wanted) this.#wanted = seq;
    while (this.#written < seq && !this.#failed) {
      if (this.#inFlight) {
        await this.#inFlight;
        continue;
      }
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#start();
    }
    if (this.#failed) throw this.#failed;
  }

  /** Writes the latest value and waits for it, then closes the file. */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#closing = true;
    await this.#inFlight;
    if (this.#wanted > this.#written && !this.#failed) await this.#drain();
    this.#file.close();
    if (this.#failed) throw this.#failed;
  }

  #schedule(): void {
    if (this.#inFlight || this.#timer !== undefined || this.#failed || this.#closing) return;
    const wait = this.#lastWriteMs + this.#intervalMs - performance.now();
    if (wait > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#schedule();
      }, wait);
      return;
    }
    this.#start();
  }

  #start(): void {
    this.#inFlight = this.#drain().then(() => {
      this.#inFlight = undefined;
      if (this.#wanted > this.#written) this.#schedule();
    });
  }

  async #drain(): Promise<void> {
    try {
      if (this.#wanted > this.#written && !this.#failed) {
        this.#lastWriteMs = performance.now();
        const seq = this.#wanted;
        const index = this.#updates++ % 2;
        // Seeking and writing 16 bytes touch only the page cache: done in place, as the log does.
        this.#file.seekSync(HEADER_BYTES + index * SLOT_BYTES, Deno.SeekMode.Start);
        const bytes = encodeSlot(seq, index);
        let done = 0;
        while (done < bytes.length) done += this.#file.writeSync(bytes.subarray(done));
        await this.#file.syncData();
        this.#written = seq;
      }
    } catch (error) {
      const code = (error as { code?: string }).code;
      this.#failed = new StorageError(
        code === "ENOSPC"
          ? `Disk full: cannot update ${this.#path}; free some space, then restart the node`
          : `Cannot update ${this.#path}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}
