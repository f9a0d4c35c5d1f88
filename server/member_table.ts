/**
 * The cluster's address book: which nodes are members and where they listen. Partition groups
 * decide who votes in their own Raft logs (membership changes); this table only says how to
 * reach a node and which nodes may talk to this one, so it does not need consensus. Every node
 * keeps a copy in its data directory (`members.json`, written atomically and fsynced), and
 * copies converge by merging: each entry carries a version, and the higher version of an entry
 * wins (a removal is an entry too, so it is never undone by an older copy).
 *
 * The **placement** (the ids the cluster was first started with) never changes: it decides where
 * partition groups start, and every node must agree on it. Nodes added later join groups only
 * through membership changes.
 *
 * @module
 */
import { join } from "@std/path";
import { syncDirectory } from "../storage/snapshot_file.ts";
import type { NodeId } from "../raft/types.ts";

/** The file the table is kept in, inside a node's data directory. */
export const MEMBERS_FILE = "members.json";

/**
 * One node in the table.
 *
 * @example Usage
 * ```ts
 * import type { MemberEntry } from "@prkdb/prkdb/server";
 * const e: MemberEntry = { address: "127.0.0.1:8084", version: 1, removed: false };
 * ```
 */
export interface MemberEntry {
  /** Where it listens, `host:port`. */
  readonly address: string;
  /** Raised by every change of this entry; the higher one wins a merge. */
  readonly version: number;
  /** Whether the node was removed from the cluster (kept so the removal wins every merge). */
  readonly removed: boolean;
}

/**
 * The table as stored and exchanged.
 *
 * @example Usage
 * ```ts
 * import type { MemberTableJson } from "@prkdb/prkdb/server";
 * const t: MemberTableJson = {
 *   cluster: "prkdb", partitions: 8, replicationFactor: 3, placement: [1, 2, 3],
 *   members: { 1: { address: "127.0.0.1:8081", version: 1, removed: false } },
 * };
 * ```
 */
export interface MemberTableJson {
  /** The cluster's name. */
  readonly cluster: string;
  /** How many partitions the cluster has. */
  readonly partitions: number;
  /** How many replicas each partition group starts with. */
  readonly replicationFactor: number;
  /** The ids the cluster was first started with: where partition groups start. */
  readonly placement: readonly NodeId[];
  /** Every node ever added, by id. */
  readonly members: Readonly<Record<string, MemberEntry>>;
}

/**
 * Whether `a` replaces `b` in a merge: the higher version; at equal versions a removal, then the
 * greater address, so every copy settles on the same entry whatever order merges come in.
 */
function wins(a: MemberEntry, b: MemberEntry): boolean {
  if (a.version !== b.version) return a.version > b.version;
  if (a.removed !== b.removed) return a.removed;
  return a.address > b.address;
}

/**
 * Whether `address` is a `host:port` the table accepts.
 *
 * @example
 * ```ts
 * import { isMemberAddress } from "./member_table.ts";
 * isMemberAddress("127.0.0.1:8081"); // true
 * isMemberAddress("http://x"); // false
 * ```
 */
export function isMemberAddress(address: unknown): address is string {
  return typeof address === "string" && /^[\w.-]+:\d{1,5}$/.test(address);
}

/** An entry as the table holds them: a positive id, `host:port`, a positive version. */
function validEntry(id: string, e: MemberEntry): boolean {
  return Number.isSafeInteger(Number(id)) && Number(id) > 0 && typeof e === "object" &&
    e !== null && isMemberAddress(e.address) &&
    Number.isSafeInteger(e.version) && e.version > 0 && typeof e.removed === "boolean";
}

/**
 * A node's copy of the address book.
 *
 * @example Usage
 * ```ts ignore
 * const table = MemberTable.create({ cluster: "prkdb", partitions: 8, replicationFactor: 3,
 *   placement: [1, 2, 3], members: {} }, undefined);
 * table.add(4, "127.0.0.1:8084");
 * ```
 */
export class MemberTable {
  #json: MemberTableJson;
  readonly #dir: string | undefined;
  readonly #listeners: ((table: MemberTable) => void)[] = [];
  #writing: Promise<void> = Promise.resolve();

  private constructor(json: MemberTableJson, dir: string | undefined) {
    this.#json = json;
    this.#dir = dir;
  }

  /**
   * A table from its JSON form, kept in `dir` when given.
   *
   * @param json The table.
   * @param dir The data directory, or `undefined` to keep it in memory.
   * @returns The table.
   */
  static create(json: MemberTableJson, dir: string | undefined): MemberTable {
    return new MemberTable(json, dir);
  }

  /**
   * Reads the table a data directory holds.
   *
   * @param dir The data directory.
   * @returns The table, or `undefined` when the directory has none.
   */
  static async read(dir: string): Promise<MemberTable | undefined> {
    try {
      const json = JSON.parse(await Deno.readTextFile(join(dir, MEMBERS_FILE)));
      return new MemberTable(json, dir);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw new Error(`Cannot read ${join(dir, MEMBERS_FILE)}: ${(error as Error).message}`);
    }
  }

  /** The table as stored and exchanged. */
  get json(): MemberTableJson {
    return this.#json;
  }

  /** The live members' addresses, by id. */
  addresses(): Map<NodeId, string> {
    const out = new Map<NodeId, string>();
    for (const [id, e] of Object.entries(this.#json.members)) {
      if (!e.removed) out.set(Number(id), e.address);
    }
    return out;
  }

  /**
   * Adds a node, or changes its address.
   *
   * @param id The node.
   * @param address Where it listens.
   * @returns Whether the table changed.
   */
  add(id: NodeId, address: string): Promise<boolean> {
    const old = this.#json.members[id];
    if (old && !old.removed && old.address === address) return Promise.resolve(false);
    return this.#set(id, { address, version: (old?.version ?? 0) + 1, removed: false });
  }

  /**
   * Removes a node: it may no longer talk to this one.
   *
   * @param id The node.
   * @returns Whether the table changed.
   */
  remove(id: NodeId): Promise<boolean> {
    const old = this.#json.members[id];
    if (!old || old.removed) return Promise.resolve(false);
    return this.#set(id, { ...old, version: old.version + 1, removed: true });
  }

  /**
   * Merges another copy: for each node, the entry with the higher version wins. Copies of
   * another cluster, or with another placement, are refused.
   *
   * @param other The other copy.
   * @returns Whether this table changed.
   * @throws {Error} When the other copy belongs to another cluster or placement.
   */
  async merge(other: MemberTableJson): Promise<boolean> {
    const mine = this.#json;
    if (
      other.cluster !== mine.cluster || other.partitions !== mine.partitions ||
      other.placement.join() !== mine.placement.join()
    ) {
      throw new Error(
        `a member table of cluster ${other.cluster} (${other.partitions} partitions, placement ` +
          `${other.placement}) does not match this one (${mine.cluster}, ${mine.partitions}, ` +
          `${mine.placement})`,
      );
    }
    const members: Record<string, MemberEntry> = { ...mine.members };
    let changed = false;
    for (const [id, e] of Object.entries(other.members ?? {})) {
      if (!validEntry(id, e)) throw new Error(`a member table entry for ${id} is not valid`);
      const old = members[id];
      if (!old || wins(e, old)) {
        members[id] = { address: e.address, version: e.version, removed: e.removed };
        changed = true;
      }
    }
    if (!changed) return false;
    this.#json = { ...mine, members };
    await this.#persist();
    return true;
  }

  /**
   * Calls `listener` after every change.
   *
   * @param listener Told the table.
   */
  onChange(listener: (table: MemberTable) => void): void {
    this.#listeners.push(listener);
  }

  /** Writes the table now (at a first start). */
  save(): Promise<void> {
    return this.#persist(false);
  }

  async #set(id: NodeId, entry: MemberEntry): Promise<boolean> {
    this.#json = { ...this.#json, members: { ...this.#json.members, [id]: entry } };
    await this.#persist();
    return true;
  }

  /** Writes the table atomically (temporary file, fsync, rename, directory fsync), in order. */
  #persist(notify = true): Promise<void> {
    const json = this.#json;
    const write = this.#writing.then(async () => {
      if (this.#dir) {
        const path = join(this.#dir, MEMBERS_FILE);
        const file = await Deno.open(`${path}.tmp`, { write: true, create: true, truncate: true });
        try {
          const bytes = new TextEncoder().encode(JSON.stringify(json, null, 2) + "\n");
          for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
          await file.sync();
        } finally {
          file.close();
        }
        await Deno.rename(`${path}.tmp`, path);
        await syncDirectory(this.#dir);
      }
    });
    this.#writing = write.catch(() => {}); // the next write still runs after a failed one
    return write.then(() => {
      if (notify) { for (const listener of this.#listeners) listener(this); }
    });
  }
}
