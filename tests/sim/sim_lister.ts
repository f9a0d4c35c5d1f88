/**
 * A simulated lister: it pages through partition 0's keys at one node, one key per page and one
 * page per step, while clients keep writing and deleting. Each step it also notes which keys the
 * node holds, so the check knows the keys present during the whole listing: each must be listed
 * exactly once, and the listing must be in key order.
 *
 * @module
 */
import type { SimNode } from "./sim_node.ts";

const td = new TextDecoder();

interface Listing {
  readonly node: number;
  readonly listed: string[];
  /** Keys present at every page read so far (`undefined` before the first page). */
  throughout: Set<string> | undefined;
  cursor: Uint8Array | undefined;
}

/** Pages through keys across steps and checks each finished listing. */
export class SimLister {
  #current: Listing | undefined;
  listings = 0;
  abandoned = 0;
  failure: string | undefined;

  /** One step: read one page of the listing under way, or start one. */
  async step(
    nodes: readonly number[],
    node: (id: number) => SimNode | undefined,
    now: number,
  ): Promise<void> {
    if (this.failure) return;
    let listing = this.#current;
    // A node removed from the group serves no reads: like a stopped one.
    const serving = (id: number) => node(id)?.running(now) && node(id)!.host.isReplica(0);
    if (listing && !serving(listing.node)) {
      this.abandoned++; // its node crashed, paused or left: a real client would start over
      listing = this.#current = undefined;
    }
    if (!listing) {
      const id = nodes.find(serving);
      if (id === undefined) return;
      listing = this.#current = { node: id, listed: [], throughout: undefined, cursor: undefined };
    }
    const host = node(listing.node)!.host;
    const all = await host.list(0, { start: new Uint8Array() }, { limit: 1000, mode: "stale" });
    const present = new Set(all.entries.map((e) => td.decode(e.key)));
    listing.throughout = listing.throughout
      ? new Set([...listing.throughout].filter((k) => present.has(k)))
      : present;
    const start = listing.cursor ? new Uint8Array([...listing.cursor, 0]) : new Uint8Array();
    const page = await host.list(0, { start }, { limit: 1, mode: "stale" });
    const entry = page.entries[0];
    if (entry) {
      listing.listed.push(td.decode(entry.key));
      listing.cursor = entry.key;
      return;
    }
    this.#finish(listing);
    this.#current = undefined;
  }

  #finish(listing: Listing): void {
    this.listings++;
    const listed = listing.listed;
    if (new Set(listed).size !== listed.length) {
      this.failure = `a listing repeated a key: ${listed.join(", ")}`;
    } else if (listed.some((k, i) => i > 0 && listed[i - 1] >= k)) {
      this.failure = `a listing was out of order: ${listed.join(", ")}`;
    } else {
      const missed = [...(listing.throughout ?? [])].filter((k) => !listed.includes(k));
      if (missed.length > 0) {
        this.failure = `a listing skipped ${missed.join(", ")}, present throughout: got ${
          listed.join(", ")
        }`;
      }
    }
  }
}
