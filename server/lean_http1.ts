/**
 * The lean HTTP/1.1 lane: the node serves its hottest calls straight from a connection's bytes.
 *
 * A kept-alive client sends each small unary call (a Put, a Get) as one request head and a
 * `content-length` body, in one write or two. Parsing that by hand and writing the answer
 * as one buffer costs a third of what `node:http` spends building `IncomingMessage` and
 * `ServerResponse` objects and running their streams (about 14 against 34 µs of CPU per request
 * here, and 22 against 62 µs over TLS).
 *
 * The lane only ever takes the plain case: a POST with a `content-length` body, or a GET, whose
 * head arrives whole. The moment a connection sends anything else (a head in pieces, a chunked
 * body, `Expect`, `Upgrade`, `Connection: close`, HTTP/1.0, a HEAD, a repeated header, no `Host`,
 * a head or body too large, bytes outside printable ASCII, a call its server cannot answer in one
 * piece), it hands the whole connection, with every byte not yet answered, to the general server,
 * which then serves it for the rest of its life with all of its checks. So the lane refuses
 * nothing itself but a body that does not arrive in time (its server's body time limit), and never
 * reads a byte the general server would read differently; a test sends thousands of damaged
 * requests to a server with the lane and one without, and each ends the same way on both.
 *
 * One exception, when the server asks for it ({@linkcode LeanLaneHooks.stream}): a peer's
 * long-lived stream of messages, a POST with a chunked body, is read piece by piece as it arrives
 * ({@linkcode StreamSink}), without `node:http`'s request objects and the web streams built over
 * them. That body's chunked coding is read here ([chunked_body.ts](../rpc/chunked_body.ts)), strictly:
 * a malformed one is answered `invalid_argument` and the connection closed.
 *
 * @module
 */
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { UnaryAnswer } from "./unary_fast_path.ts";
import { ChunkedBody } from "../rpc/chunked_body.ts";

/**
 * A request head the lane can serve: a POST in HTTP/1.1 with a `content-length` or chunked body,
 * or a GET with none.
 *
 * @example Usage
 * ```ts
 * import { parseRequestHead } from "@prkdb/prkdb/server";
 * const bytes = new TextEncoder().encode("POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\nhi");
 * const head = parseRequestHead(bytes, 0, bytes.length);
 * if (typeof head === "object") console.log(head.path, head.bodyStart, head.contentLength); // "/a" 48 2
 * ```
 */
export interface RequestHead {
  /** `POST` or `GET`. */
  readonly method: "POST" | "GET";
  /** The request target, with its query. */
  readonly target: string;
  /** The request target's path, without its query. */
  readonly path: string;
  /** Header values by lower-case name (a head with a repeated header is not served). */
  readonly headers: ReadonlyMap<string, string>;
  /** Where the body starts, as an offset into the bytes parsed. */
  readonly bodyStart: number;
  /** The body's length (0 for a chunked one). */
  readonly contentLength: number;
  /** Whether the body is chunked (`transfer-encoding: chunked`), its length unknown. */
  readonly chunked: boolean;
}

/** The longest request head the lane reads; longer ones go to the general server. */
export const LEAN_HEAD_LIMIT = 8 * 1024;

/** The largest body the lane reads; larger ones go to the general server. */
export const LEAN_BODY_LIMIT = 64 * 1024;

const CR = 13;
const LF = 10;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^(POST|GET) (\/[\x21-\x7e]*) HTTP\/1\.1$/;
const DIGITS = /^[0-9]{1,9}$/;
/** Headers whose presence means the request is not a plain one. */
const NOT_PLAIN = new Set(["expect", "upgrade", "te", "trailer"]);
const ASCII = new TextDecoder("utf-8", { fatal: true });
const EMPTY = new Uint8Array(0);
/**
 * Heads already parsed, by their text. A client sends the same head over and over (only the
 * length changes, and bodies of one kind have few lengths), so most heads are read once. Bounded:
 * emptied when full, so varied heads cost a parse each, never memory.
 */
const KNOWN_HEADS = new Map<string, Omit<RequestHead, "bodyStart">>();
const KNOWN_HEADS_LIMIT = 256;

/**
 * Reads a request head from `bytes[from, to)`.
 *
 * @param bytes The connection's unanswered bytes.
 * @param from Where the request starts.
 * @param to Where the bytes received so far end.
 * @returns The head; `"incomplete"` while its end has not arrived; `"other"` for anything the
 * lane leaves to the general server (see the module's description).
 *
 * @example Usage
 * ```ts
 * import { parseRequestHead } from "@prkdb/prkdb/server";
 * const head = new TextEncoder().encode("HEAD / HTTP/1.1\r\nhost: x\r\n\r\n");
 * console.log(parseRequestHead(head, 0, head.length)); // "other"
 * const part = new TextEncoder().encode("POST / HTTP/1.1\r\n");
 * console.log(parseRequestHead(part, 0, part.length)); // "incomplete"
 * ```
 */
export function parseRequestHead(
  bytes: Uint8Array,
  from: number,
  to: number,
): RequestHead | "incomplete" | "other" {
  let end = -1;
  const limit = Math.min(to, from + LEAN_HEAD_LIMIT);
  for (let i = from; i < limit; i++) {
    const b = bytes[i];
    if (b === LF) {
      // Bare line feeds are left to the general server, which decides what they mean.
      if (i === from || bytes[i - 1] !== CR) return "other";
      if (i - from >= 3 && bytes[i - 2] === LF) {
        end = i + 1;
        break;
      }
    } else if (b === CR) {
      // So are bare carriage returns, which some readers take for line ends.
      if (i + 1 < to && bytes[i + 1] !== LF) return "other";
    } else if ((b < 0x20 && b !== 9) || b > 0x7e) {
      return "other";
    }
  }
  if (end < 0) return limit - from >= LEAN_HEAD_LIMIT ? "other" : "incomplete";
  const text = ASCII.decode(bytes.subarray(from, end - 4));
  const known = KNOWN_HEADS.get(text);
  if (known) return { ...known, bodyStart: end };
  const lines = text.split("\r\n");
  const request = REQUEST_LINE.exec(lines[0]);
  if (!request) return "other";
  const headers = new Map<string, string>();
  let length: string | undefined;
  let chunked = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    if (colon <= 0) return "other";
    const name = line.slice(0, colon).toLowerCase();
    if (!TOKEN.test(name)) return "other";
    if (name === "transfer-encoding") {
      // Only the plain chunked coding: a list of codings is the general server's to read.
      if (line.slice(colon + 1).trim().toLowerCase() !== "chunked" || chunked) return "other";
      chunked = true;
    } else if (NOT_PLAIN.has(name)) return "other";
    // A repeated header is left to the general server: for some (authorization, content-type)
    // it keeps the first and drops the rest, and the lane must never read a request otherwise.
    if (headers.has(name)) return "other";
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") {
      if (!DIGITS.test(value)) return "other";
      length = value;
    } else if (name === "connection" && value.toLowerCase() !== "keep-alive") {
      return "other";
    }
    headers.set(name, value);
  }
  // HTTP/1.1 requires it, and the general server refuses a request without it.
  if (!headers.has("host")) return "other";
  const method = request[1] as "POST" | "GET";
  // A POST says how long its body is, or that it is chunked (never both); a GET has none.
  if (method === "POST" ? (length === undefined) === !chunked : length !== undefined || chunked) {
    return "other";
  }
  const target = request[2];
  const query = target.indexOf("?");
  const head = {
    method,
    target,
    path: query < 0 ? target : target.slice(0, query),
    headers,
    contentLength: Number(length ?? 0),
    chunked,
  };
  if (KNOWN_HEADS.size >= KNOWN_HEADS_LIMIT) KNOWN_HEADS.clear();
  KNOWN_HEADS.set(text, head);
  return { ...head, bodyStart: end };
}

/**
 * What the lane needs from the server it runs in front of.
 *
 * @example Usage
 * ```ts ignore
 * import { type LeanLaneHooks, serveLeanLane } from "@prkdb/prkdb/server";
 * const hooks: LeanLaneHooks<true> = {
 *   admit: () => true,
 *   take: (head, body) => undefined, // leave every request to the general server
 *   awaitingBody() {},
 *   begin() {},
 *   answered() {},
 *   handOver(socket) { generalServer.emit("connection", socket); },
 * };
 * serveLeanLane(socket, hooks);
 * ```
 */
export interface LeanLaneHooks<A> {
  /**
   * Decides, from its head alone, whether the lane may take a request: what the general server
   * would check before reading a body (the caller, the connection cap, the size limit). Returns
   * what `take` needs of that decision, or `undefined` to leave the request (and the connection)
   * to the general server.
   */
  admit(head: RequestHead): A | undefined;
  /**
   * Serves an admitted request, or returns `undefined` to leave it (and the connection) to the
   * general server. Called only with the whole body at hand; `signal` aborts when the connection
   * closes.
   */
  take(
    head: RequestHead,
    body: Uint8Array,
    signal: AbortSignal,
    admitted: A,
  ): Promise<UnaryAnswer> | undefined;
  /**
   * A request's head has arrived and its body has not: the body's time limit starts. When it
   * passes, `stop` ends the lane on this connection, so that nothing more is read or served.
   */
  awaitingBody(stop: () => void): void;
  /** A request was taken: its answer is being prepared. */
  begin(): void;
  /** An answer is about to be written. */
  answered(): void;
  /**
   * Takes an admitted request with a chunked body as a stream served from the connection's
   * bytes, or returns `undefined` to leave it (and the connection) to the general server. Absent,
   * every chunked request is left to it.
   */
  stream?(head: RequestHead): StreamSink | undefined;
  /**
   * Gives the connection to the general server: it must start reading the socket (attach its
   * `data` listener) before returning. The lane then hands it the bytes it read and did not
   * answer, as the socket's next data, ahead of any that arrive later.
   */
  handOver(socket: Socket): void;
}

/**
 * Serves a stream's body as it arrives (see {@linkcode LeanLaneHooks.stream}): each piece of the
 * body in order, then its end. An answer from `push` ends the stream early, as a refusal: the
 * lane sends it and closes the connection, since the rest of the body cannot be skipped safely.
 *
 * @example Usage
 * ```ts
 * import type { StreamSink } from "@prkdb/prkdb/server";
 * let bytes = 0;
 * const sink: StreamSink = {
 *   push(piece) { bytes += piece.length; return undefined; },
 *   end: () => ({ status: 200, headers: {}, body: new TextEncoder().encode(String(bytes)) }),
 * };
 * ```
 */
export interface StreamSink {
  /** Takes the next piece of the body; returns an answer to end the stream with it now. */
  push(piece: Uint8Array): UnaryAnswer | undefined;
  /** The body ended: the answer. */
  end(): UnaryAnswer;
}

/** How many unanswered bytes the lane holds while a call is served before it stops reading. */
const HELD_LIMIT = 64 * 1024;

/**
 * Serves a new connection's plain unary calls on the lean lane, until it sends something else.
 *
 * @param socket A connection no one has read from yet.
 * @param hooks What to serve with, and where to hand the connection over.
 * @returns Nothing: the lane runs on the socket's events.
 *
 * @example Usage
 * ```ts ignore
 * import net from "node:net";
 * import { serveLeanLane } from "@prkdb/prkdb/server";
 * net.createServer((socket) => serveLeanLane(socket, hooks)).listen(0);
 * ```
 */
export function serveLeanLane<A>(socket: Socket, hooks: LeanLaneHooks<A>): void {
  const held = new Unanswered();
  let serving = false;
  let gone = false;
  let abort: AbortController | undefined;
  /** A head read and admitted whose body has not fully arrived yet. */
  let awaited: { head: RequestHead; end: number; admitted: A } | undefined;
  /** The stream whose chunked body is being read. */
  let stream: { body: ChunkedBody; sink: StreamSink } | undefined;
  const onClose = () => {
    gone = true;
    abort?.abort();
  };
  // The client has sent all it will (HTTP servers keep their half open for the answer, and the
  // general one would end it): a call in service is abandoned, as the general server does.
  const onEnd = () => {
    onClose();
    socket.end();
  };
  const onData = (chunk: Uint8Array) => {
    if (stream) return feed(chunk);
    held.append(chunk);
    if (!serving) next();
    else if (held.length > HELD_LIMIT) socket.pause();
  };
  const detach = () => {
    socket.off("data", onData);
    socket.off("end", onEnd);
    socket.off("close", onClose);
  };
  const handOver = () => {
    detach();
    const unanswered = held.bytes().slice();
    held.consume(held.length);
    hooks.handOver(socket);
    // Passed on at once, before the socket reads again. Put back with `unshift` instead, they
    // could reach the general server after bytes the socket reads meanwhile (measured: a chunked
    // body in many quick writes was refused as malformed every time).
    if (unanswered.length > 0) socket.emit("data", unanswered);
  };
  // Serves the requests held, one at a time and in order, until one is incomplete.
  const next = (): void => {
    while (!gone && held.length > 0) {
      const bytes = held.bytes();
      let head: RequestHead;
      let end: number;
      let admitted: A;
      if (awaited) {
        ({ head, end, admitted } = awaited);
        if (end > bytes.length) return;
        awaited = undefined;
      } else {
        // A head that did not come whole is left to the general server, which reads it as it
        // comes and answers a malformed one at once (clients send a head in one write).
        const parsed = parseRequestHead(bytes, 0, bytes.length);
        if (typeof parsed === "string" || parsed.contentLength > LEAN_BODY_LIMIT) return handOver();
        if (parsed.chunked) {
          const sink = hooks.stream?.(parsed);
          if (!sink) return handOver();
          stream = { body: new ChunkedBody(), sink };
          serving = true;
          const rest = bytes.subarray(parsed.bodyStart);
          held.consume(held.length);
          return feed(rest);
        }
        // Checked as soon as the head is read: a caller the general server would refuse is
        // left to it at once, before the lane holds a byte of its body.
        const admission = hooks.admit(parsed);
        if (admission === undefined) return handOver();
        head = parsed;
        admitted = admission;
        end = head.bodyStart + head.contentLength;
        if (end > bytes.length) {
          // A client may send the head and the body in separate writes.
          awaited = { head, end, admitted };
          hooks.awaitingBody(() => {
            gone = true;
            detach();
          });
          return;
        }
      }
      // A request's own signal: handlers may tie other signals to it for the call's lifetime.
      abort = new AbortController();
      // A copy, so that a value kept from the body does not keep the whole read buffer alive.
      let answer: Promise<UnaryAnswer> | undefined;
      try {
        answer = hooks.take(head, bytes.slice(head.bodyStart, end), abort.signal, admitted);
      } catch {
        return void socket.destroy();
      }
      if (!answer) return handOver();
      held.consume(end);
      serving = true;
      hooks.begin();
      answer.then(write).catch(() => socket.destroy());
      return;
    }
  };
  // Reads a stream's body from the connection's next bytes, and answers once it ends.
  const feed = (bytes: Uint8Array): void => {
    const { body, sink } = stream!;
    let refusal: UnaryAnswer | undefined;
    let used = bytes.length;
    try {
      used = body.push(bytes, (piece) => void (refusal ??= sink.push(piece)));
    } catch (error) {
      refusal ??= {
        status: 400,
        headers: { "content-type": "application/json" },
        body: new TextEncoder().encode(
          JSON.stringify({ code: "invalid_argument", message: (error as Error).message }),
        ),
      };
    }
    if (refusal) {
      // The rest of the body cannot be told from the next request: the connection ends here.
      stream = undefined;
      gone = true;
      detach();
      hooks.answered();
      const out = encodeAnswer({
        ...refusal,
        headers: { ...refusal.headers, connection: "close" },
      });
      return void socket.end(out, () => socket.destroy());
    }
    if (!body.done) return;
    stream = undefined;
    // What follows the body is the connection's next request.
    if (used < bytes.length) held.append(bytes.subarray(used));
    write(sink.end());
  };
  const write = (answer: UnaryAnswer) => {
    abort = undefined;
    if (gone) return;
    hooks.answered();
    // A client that does not read its answers gets no more served (and is not read from, once
    // it has sent more than the lane holds) until the socket drains.
    if (socket.write(encodeAnswer(answer))) done();
    else socket.once("drain", done);
  };
  const done = () => {
    serving = false;
    if (socket.isPaused()) socket.resume();
    next();
  };
  socket.on("data", onData);
  socket.on("end", onEnd);
  socket.on("close", onClose);
}

/**
 * The bytes a connection sent that are not answered yet. Appending copies only the new chunk (into
 * room grown by doubling), so a client sending a byte at a time costs linear time, not quadratic.
 */
class Unanswered {
  #buffer: Uint8Array = EMPTY;
  #start = 0;
  #end = 0;
  /** Whether the buffer is this queue's own, so that it may write into its spare room. */
  #owned = false;

  get length(): number {
    return this.#end - this.#start;
  }

  /** The bytes, as a view valid until the next change. */
  bytes(): Uint8Array {
    return this.#buffer.subarray(this.#start, this.#end);
  }

  append(chunk: Uint8Array): void {
    if (this.length === 0) {
      // Most often a whole request in one chunk: kept as it is, never written into.
      this.#buffer = chunk;
      this.#start = 0;
      this.#end = chunk.length;
      this.#owned = false;
      return;
    }
    if (this.#owned && this.#end + chunk.length <= this.#buffer.length) {
      this.#buffer.set(chunk, this.#end);
      this.#end += chunk.length;
      return;
    }
    const live = this.length;
    const grown = new Uint8Array(Math.max(4096, 2 * (live + chunk.length)));
    grown.set(this.bytes());
    grown.set(chunk, live);
    this.#buffer = grown;
    this.#start = 0;
    this.#end = live + chunk.length;
    this.#owned = true;
  }

  consume(n: number): void {
    this.#start += n;
    if (this.#start < this.#end) return;
    this.#buffer = EMPTY;
    this.#start = this.#end = 0;
    this.#owned = false;
  }
}

const encoder = new TextEncoder();
const SAFE_VALUE = /^[\t\x20-\x7e]*$/;

/**
 * An answer as HTTP/1.1 bytes: status line, headers, `content-length`, body, in one buffer.
 *
 * @param answer The answer.
 * @returns Its bytes.
 * @throws {TypeError} When a header name or value could split the response.
 *
 * @example Usage
 * ```ts
 * import { encodeAnswer } from "@prkdb/prkdb/server";
 * const bytes = encodeAnswer({ status: 200, headers: { "content-type": "application/json" }, body: new Uint8Array(2) });
 * console.log(new TextDecoder().decode(bytes).split("\r\n")[0]); // "HTTP/1.1 200 OK"
 * ```
 */
export function encodeAnswer(answer: UnaryAnswer): Uint8Array {
  let head = `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? "Status"}\r\n`;
  for (const name in answer.headers) {
    const value = answer.headers[name];
    if (!TOKEN.test(name) || !SAFE_VALUE.test(value)) {
      throw new TypeError(`Header ${JSON.stringify(name)} cannot be sent as it is`);
    }
    head += `${name}: ${value}\r\n`;
  }
  // These statuses have no body, and say nothing of its length.
  const body = answer.status === 204 || answer.status === 304 ? EMPTY : answer.body;
  if (body !== EMPTY) head += `content-length: ${body.length}\r\n`;
  head += "\r\n";
  const out = new Uint8Array(head.length + body.length);
  encoder.encodeInto(head, out);
  out.set(body, head.length);
  return out;
}
