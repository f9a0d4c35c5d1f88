/**
 * Response headers for the lean request paths: the few `Headers` methods a handler uses, over a
 * plain record. A web `Headers` object checks and normalizes every call through the Web IDL
 * layer, and one was made for each request the lean path served (two or three for each batch
 * of writes passed on); a handler only ever sets a header or two on it.
 *
 * @module
 */

/**
 * Headers in a plain record, names in lower case.
 *
 * @example Usage
 * ```ts
 * import { HeaderMap } from "./header_map.ts";
 * const h = new HeaderMap({ "content-type": "application/json" });
 * h.set("Prkdb-Leader", "2");
 * console.log(h.get("prkdb-leader"), h.record()); // 2 { "content-type": "application/json", "prkdb-leader": "2" }
 * ```
 */
export class HeaderMap {
  readonly #h: Record<string, string>;

  /** @param init The first headers, names in lower case. */
  constructor(init: Record<string, string> = {}) {
    // No prototype: a header named like an Object method (`constructor`) is just a header.
    this.#h = Object.assign(Object.create(null), init);
  }

  /** The header's value, or null. */
  get(name: string): string | null {
    return this.#h[name.toLowerCase()] ?? null;
  }

  /** Whether the header is there. */
  has(name: string): boolean {
    return name.toLowerCase() in this.#h;
  }

  /** Sets the header, replacing any value. */
  set(name: string, value: string): void {
    this.#h[name.toLowerCase()] = String(value);
  }

  /** Adds a value to the header, as `Headers` does: comma-separated. */
  append(name: string, value: string): void {
    const key = name.toLowerCase();
    this.#h[key] = key in this.#h ? `${this.#h[key]}, ${value}` : String(value);
  }

  /** Removes the header. */
  delete(name: string): void {
    delete this.#h[name.toLowerCase()];
  }

  /** Calls `fn` with each header's value and name. */
  forEach(fn: (value: string, name: string) => void): void {
    for (const name in this.#h) fn(this.#h[name], name);
  }

  /** The headers as a record (the map's own: not a copy). */
  record(): Record<string, string> {
    return this.#h;
  }

  /**
   * This map where a handler's context wants `Headers`: the handlers of the lean paths use only
   * the methods above.
   */
  asHeaders(): Headers {
    return this as unknown as Headers;
  }
}

/**
 * Headers that keep nothing: what a handler sets on them is dropped. A unary answer in the
 * Connect protocol carries no trailers, so every lean call and every batch of writes passed on
 * shares this one object as its trailers instead of making its own.
 *
 * @example Usage
 * ```ts
 * import { DISCARDED_HEADERS } from "./header_map.ts";
 * DISCARDED_HEADERS.set("x-example", "1");
 * console.log(DISCARDED_HEADERS.get("x-example")); // null
 * ```
 */
export const DISCARDED_HEADERS: Headers = new (class extends HeaderMap {
  override set(): void {}
  override append(): void {}
})().asHeaders();
