/**
 * The sending half of one long-lived Connect client-streaming call: items queue up, and each
 * time the connection can take more, everything queued so far goes out as one message. A slow
 * connection therefore gets fewer, larger messages, never a growing backlog of small ones, and
 * items pushed in one turn of the event loop (a round's messages and the answers it releases)
 * share a message even when the connection is idle.
 *
 * It speaks the Connect streaming protocol over `fetch` (which can stream a request body; the
 * Connect web transport cannot): `application/connect+proto`, each message framed as one flags
 * byte and a 4-byte big-endian length. The server answers once, when the call ends.
 *
 * The stream is opened on the first item and again after it breaks. Items that were written
 * into a connection that then broke are lost, as are items queued while the peer is
 * unreachable: callers whose protocol retries (Raft does) want exactly that.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { codeFromString } from "@connectrpc/connect/protocol-connect";
import { afterChains } from "./after_chains.ts";
import { END_STREAM, frame, readFrames } from "./connect_envelope.ts";
import { httpError } from "./http_error.ts";
import type { StreamFetch } from "./http1_stream.ts";

/**
 * Why items were dropped when the stream was closed on purpose (the peer left, the node stops):
 * nothing went wrong with the connection.
 *
 * @example Usage
 * ```ts
 * import { StreamClosedError } from "./client_stream.ts";
 * const onDropped = (_items: unknown[], error: unknown) => {
 *   if (error instanceof StreamClosedError) return; // not the peer's failure
 * };
 * onDropped([], new StreamClosedError());
 * ```
 */
export class StreamClosedError extends Error {
  constructor() {
    super("the stream was closed");
    this.name = "StreamClosedError";
  }
}

/** Options for {@linkcode ClientStream}. */
export interface ClientStreamOptions<T> {
  /** The full URL of the streaming method (`http://host:port/package.Service/Method`). */
  url: string;
  /** Encodes a batch of items as one protobuf message. */
  encode: (items: readonly T[]) => Uint8Array;
  /** About how many bytes an item adds to a message. */
  bytes: (item: T) => number;
  /** A message carries at most about this many bytes (at least one item). */
  maxMessageBytes: number;
  /** Items queued this long without the connection taking any mean the peer stalled. */
  stallMs: number;
  /**
   * A stream that sent nothing for this long is replaced by a new one when the next item comes
   * (a quiet connection may have been closed by the server or lost without a word).
   */
  idleMs: number;
  /**
   * Opens the stream: the global `fetch` by default, one with mutual TLS, or `http1Stream` (each
   * batch written straight to the socket).
   */
  fetch?: StreamFetch;
  /** Sees each message handed to the connection, with how long its first item waited. */
  onWritten?: (items: readonly T[], waitedSeconds: number) => void;
  /** Sees items dropped because the stream broke or could not be opened. */
  onDropped?: (items: readonly T[], error: unknown) => void;
  /** The clock, in milliseconds (tests drive it). Default `performance.now`. */
  now?: () => number;
}

/**
 * Why a stream ended, from the server's answer: undefined when it ended cleanly, else a
 * `ConnectError` with the code the server gave (so a refusal is not taken for a lost connection;
 * a server without the method gives `unimplemented`).
 *
 * @param response The server's answer to the streaming call.
 * @returns The error the stream ended with, or undefined.
 *
 * @example Usage
 * ```ts ignore
 * const error = await streamError(await fetch(url, { method: "POST", body }));
 * ```
 */
export async function streamError(response: Response): Promise<Error | undefined> {
  const body = new Uint8Array(await response.arrayBuffer());
  if (response.status !== 200) return httpError(response.status, body);
  for await (const { flags, message } of readFrames([body], body.length)) {
    if ((flags & END_STREAM) === 0) continue;
    const end = JSON.parse(new TextDecoder().decode(message)) as {
      error?: { code?: string; message?: string };
    };
    if (!end.error) return undefined;
    return new ConnectError(
      end.error.message ?? "",
      codeFromString(end.error.code ?? "") ?? Code.Unknown,
    );
  }
  return new ConnectError("the stream ended without an end-of-stream message", Code.Unknown);
}

/** One open call. */
interface OpenStream<T> {
  readonly abort: AbortController;
  controller?: ReadableStreamDefaultController<Uint8Array>;
  /** The connection asked for data and none was queued. */
  waiting: boolean;
  /** When a message was last written or the stream opened (ms). */
  lastWriteMs: number;
  /** When it was opened (ms). */
  readonly openedMs: number;
  /** The items of the last message written: the one a refusing server stopped at. */
  lastItems: readonly T[];
}

/**
 * One outgoing client stream, reopened on demand.
 *
 * @example Usage
 * ```ts ignore
 * const stream = new ClientStream<Uint8Array>({
 *   url: "http://127.0.0.1:8081/prkdb.v1.RaftService/Stream",
 *   encode: (items) => encodeBatch(items),
 *   bytes: (item) => item.length,
 *   maxMessageBytes: 8 << 20,
 *   stallMs: 2000,
 *   idleMs: 30_000,
 * });
 * stream.push([message]);
 * await stream.close();
 * ```
 */
export class ClientStream<T> {
  readonly #o: ClientStreamOptions<T>;
  #queue: T[] = [];
  /** Each queued item's size, computed once when it is queued. */
  #sizes: number[] = [];
  #queuedBytes = 0;
  /** When the oldest queued item was queued (ms). */
  #queuedSinceMs = 0;
  #open?: OpenStream<T>;
  /** No new stream before this time (ms): the last one could not be opened or broke. */
  #retryAtMs = 0;
  #failures = 0;
  #lastError: unknown;
  #closed = false;
  #flushing = false;

  readonly #now: () => number;

  constructor(options: ClientStreamOptions<T>) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The streaming method's URL. */
  get url(): string {
    return this.#o.url;
  }

  /** Whether a stream is open now. */
  get open(): boolean {
    return this.#open !== undefined;
  }

  /** Items waiting for the connection to take them. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Queues items; they go out as soon as the connection can take them.
   *
   * @param items What to send.
   */
  push(items: readonly T[]): void {
    if (items.length === 0) return;
    if (this.#closed) return this.#o.onDropped?.(items, new StreamClosedError());
    const now = this.#now();
    if (now < this.#retryAtMs) return this.#o.onDropped?.(items, this.#lastError);
    if (this.#queue.length === 0) this.#queuedSinceMs = now;
    for (const item of items) {
      const size = this.#o.bytes(item);
      this.#queue.push(item);
      this.#sizes.push(size);
      this.#queuedBytes += size;
    }
    const open = this.#open;
    if (open && now - this.#queuedSinceMs > this.#o.stallMs) {
      return this.#fail(open, new Error(`the peer took nothing for ${this.#o.stallMs} ms`));
    }
    if (open && this.#queuedBytes > 4 * this.#o.maxMessageBytes) {
      return this.#fail(
        open,
        new Error(`the peer is not keeping up: ${this.#queuedBytes} bytes queued`),
      );
    }
    if (open && now - open.lastWriteMs > this.#o.idleMs) {
      // Quiet for long: the server may have dropped the connection. Start afresh.
      this.#retire(open);
    }
    if (!this.#open) this.#start();
    else if (this.#open.waiting && !this.#flushing) {
      // Items pushed in the same turn of the event loop go out together, in one message, and
      // so do the answers that the turn's promise chains are about to push (see afterChains).
      this.#flushing = true;
      afterChains(() => {
        this.#flushing = false;
        const open = this.#open;
        if (open?.waiting && this.#queue.length > 0) this.#write(open);
      });
    }
  }

  /** Ends the backoff after a failure, for a peer that is known to answer again. */
  retryNow(): void {
    this.#retryAtMs = 0;
    this.#failures = 0;
  }

  /**
   * Breaks the stream (the peer looks stalled or gone); queued items are dropped.
   *
   * @param error Why.
   */
  reset(error: unknown): void {
    if (this.#open) this.#fail(this.#open, error);
  }

  /** Ends the stream for good; queued items (never sent) are dropped, and reported so. */
  close(): Promise<void> {
    this.#closed = true;
    if (this.#open) this.#open.abort.abort();
    this.#open = undefined;
    const queued = this.#takeQueue();
    if (queued.length > 0) this.#o.onDropped?.(queued, new StreamClosedError());
    return Promise.resolve();
  }

  /** Empties the queue, returning what it held. */
  #takeQueue(): T[] {
    const items = this.#queue;
    this.#queue = [];
    this.#sizes = [];
    this.#queuedBytes = 0;
    return items;
  }

  #start(): void {
    const now = this.#now();
    const open: OpenStream<T> = {
      abort: new AbortController(),
      waiting: false,
      lastWriteMs: now,
      openedMs: now,
      lastItems: [],
    };
    this.#open = open;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => void (open.controller = controller),
      pull: () => {
        if (this.#open !== open) return;
        if (this.#queue.length > 0) this.#write(open);
        else open.waiting = true;
      },
    }, { highWaterMark: 0 });
    const call = (this.#o.fetch ?? fetch)(this.#o.url, {
      method: "POST",
      headers: { "content-type": "application/connect+proto", "connect-protocol-version": "1" },
      body,
      signal: open.abort.signal,
      duplex: "half",
    } as RequestInit);
    call.then(streamError).then(
      // The server answered: a refusal names the message it refused (the last one written).
      (error) => this.#ended(open, error, true),
      (error) => this.#ended(open, error, false),
    );
  }

  /** Hands everything queued (up to the message limit) to the connection. */
  #write(open: OpenStream<T>): void {
    let take = 0, bytes = 0;
    while (take < this.#queue.length && (take === 0 || bytes < this.#o.maxMessageBytes)) {
      bytes += this.#sizes[take++];
    }
    if (take > 1 && bytes > this.#o.maxMessageBytes) bytes -= this.#sizes[--take];
    const items = this.#queue.splice(0, take);
    this.#sizes.splice(0, take);
    this.#queuedBytes -= bytes;
    const now = this.#now();
    const waited = (now - this.#queuedSinceMs) / 1000;
    this.#queuedSinceMs = now;
    open.waiting = false;
    open.lastWriteMs = now;
    open.lastItems = items;
    try {
      open.controller!.enqueue(frame(this.#o.encode(items)));
    } catch (error) {
      this.#o.onDropped?.(items, error);
      return this.#fail(open, error);
    }
    this.#o.onWritten?.(items, waited);
  }

  /** Drops a stream that sat quiet (its connection may be gone without a word) for a new one. */
  #retire(open: OpenStream<T>): void {
    if (this.#open === open) this.#open = undefined;
    open.abort.abort();
  }

  #fail(open: OpenStream<T>, error: unknown): void {
    open.abort.abort(error);
    this.#ended(open, error instanceof Error ? error : new Error(String(error)), false);
  }

  #ended(open: OpenStream<T>, error: Error | undefined, answered: boolean): void {
    // Whatever ended it (an answer, an error), the request is over: release its connection.
    open.abort.abort();
    if (this.#open !== open) return; // already replaced
    this.#open = undefined;
    if (error === undefined && this.#queue.length === 0) return;
    this.#lastError = error ?? new Error("the stream ended");
    // What was queued is lost, and so is the message the server refused.
    const queued = this.#takeQueue();
    const dropped = error && answered ? [...open.lastItems, ...queued] : queued;
    if (dropped.length > 0) this.#o.onDropped?.(dropped, this.#lastError);
    // A stream that lived a while was working: its successor may open at once.
    if (this.#now() - open.openedMs > 1000) this.#failures = 0;
    this.#retryAtMs = this.#now() + Math.min(1000, 25 * 2 ** this.#failures++);
  }
}
