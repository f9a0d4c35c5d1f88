/**
 * Typed storage errors. Each names the file (or store) and what to do.
 *
 * @module
 */

/**
 * Base class of storage errors: I/O failures, a full disk, a missing or unusable directory.
 *
 * @example Usage
 * ```ts
 * import { StorageError } from "@prkdb/prkdb/storage";
 * new StorageError("Cannot open /data: permission denied");
 * ```
 */
export class StorageError extends Error {
  /**
   * Creates the error.
   *
   * @param message What failed, in sentence case.
   * @param options The underlying cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A record failed its checksum or framing somewhere other than the torn tail of the log. The
 * store refuses to open rather than serve corrupt data.
 *
 * @example Usage
 * ```ts
 * import { CorruptLogError } from "@prkdb/prkdb/storage";
 * const e = new CorruptLogError("/data/wal/00000001.wal", 4096, "checksum mismatch");
 * console.log(e.offset); // 4096
 * ```
 */
export class CorruptLogError extends StorageError {
  /** The file holding the bad record. */
  readonly file: string;
  /** The byte offset of the bad record. */
  readonly offset: number;

  /**
   * Creates the error.
   *
   * @param file The file.
   * @param offset The record's byte offset.
   * @param detail What is wrong with it.
   */
  constructor(file: string, offset: number, detail: string) {
    super(`Corrupt record in ${file} at offset ${offset}: ${detail}`);
    this.file = file;
    this.offset = offset;
  }
}

/**
 * The data was written by a newer PrkDB whose format this build cannot read.
 *
 * @example Usage
 * ```ts
 * import { FormatVersionError } from "@prkdb/prkdb/storage";
 * new FormatVersionError("/data/wal/00000001.wal", 2, 1);
 * ```
 */
export class FormatVersionError extends StorageError {
  /**
   * Creates the error.
   *
   * @param file The file (or store).
   * @param found The format version found.
   * @param supported The newest version this build reads.
   */
  constructor(file: string, found: number, supported: number) {
    super(
      `Unsupported format in ${file}: version ${found} was written by a newer PrkDB; this build reads version ${supported} and older`,
    );
  }
}
