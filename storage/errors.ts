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
   * @param oldest The oldest version this build reads (default: `supported`).
   */
  constructor(file: string, found: number, supported: number, oldest: number = supported) {
    const reads = oldest === supported
      ? `version ${supported}`
      : `versions ${oldest} to ${supported}`;
    super(
      found > supported
        ? `Unsupported format in ${file}: version ${found} was written by a newer PrkDB; this build reads version ${supported} and older`
        : `Unsupported format in ${file}: version ${found} was written by an older PrkDB; this build reads ${reads}. Start this node on a new, empty data directory with --allow-blank-start and let it catch up from its peers`,
    );
  }
}

/**
 * Acknowledged state is missing: the log ends before the last write the store acknowledged, a
 * file the store needs is gone, or a database was rolled back. The store refuses to open, because
 * starting would break promises this node already made (a vote, an acknowledged append).
 *
 * @example Usage
 * ```ts
 * import { DataLossError } from "@prkdb/prkdb/storage";
 * const e = new DataLossError("/data/wal", "no log segment, but records through 12 were acknowledged");
 * console.log(e.file); // "/data/wal"
 * ```
 */
export class DataLossError extends StorageError {
  /** The file or directory where the missing data belongs. */
  readonly file: string;

  /**
   * Creates the error.
   *
   * @param file The file or directory.
   * @param detail What is missing, and how it is known.
   */
  constructor(file: string, detail: string) {
    super(
      `Acknowledged data is missing in ${file}: ${detail}. Refusing to start: restore the data directory from a backup, or replace this node with a new one on an empty directory`,
    );
    this.file = file;
  }
}

/**
 * Another process holds the data directory's lock: two nodes on one directory would corrupt it.
 *
 * @example Usage
 * ```ts
 * import { DataDirLockedError } from "@prkdb/prkdb/storage";
 * console.log(new DataDirLockedError("/data/LOCK", 4242).pid); // 4242
 * ```
 */
export class DataDirLockedError extends StorageError {
  /** The lock file. */
  readonly file: string;
  /** The process that holds it, when it wrote its id. */
  readonly pid: number | undefined;

  /**
   * Creates the error.
   *
   * @param file The lock file.
   * @param pid The holder's process id, if known.
   */
  constructor(file: string, pid: number | undefined) {
    super(
      `Data directory is in use: ${file} is locked by ${
        pid === undefined ? "another process" : `process ${pid}`
      }; stop that process or use another --data-dir`,
    );
    this.file = file;
    this.pid = pid;
  }
}

/**
 * The data directory does not belong to the node being started: another node id, cluster,
 * partition count, membership or storage backend, or a directory that lost its identity.
 *
 * @example Usage
 * ```ts
 * import { NodeIdentityError } from "@prkdb/prkdb/storage";
 * new NodeIdentityError("/data/identity.json", "this data dir belongs to node 2 of cluster a, started as node 3");
 * ```
 */
export class NodeIdentityError extends StorageError {
  /** The identity file. */
  readonly file: string;

  /**
   * Creates the error.
   *
   * @param file The identity file.
   * @param detail What does not match, and what to do.
   */
  constructor(file: string, detail: string) {
    super(`Refusing to start with ${file}: ${detail}`);
    this.file = file;
  }
}
