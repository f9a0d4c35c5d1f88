/**
 * The node's HTTP server: HTTPS with optional client certificates (mutual TLS), or plain HTTP
 * when run insecure. The hottest calls are served straight from their bytes (`direct`): a
 * connection starts on the lean HTTP/1.1 lane ([lean_http1.ts](./lean_http1.ts)), which parses
 * plain unary requests by hand, and moves to `node:http` for good at its first request of any
 * other kind. There, too, `direct` serves the hottest calls from their bytes, and every other
 * request becomes a fetch `Request` for the Connect handlers. On both, what must happen before any
 * byte of a body is decoded comes first:
 *
 * 1. refuse a connection whose certificate does not chain to the cluster CA (at once, before it
 *    can send a request) and connections beyond {@linkcode HttpLimits.maxConnections};
 * 2. authenticate the caller (certificate or bearer token) and check its role for the path;
 * 3. read the body up to the path's size limit, refusing it as soon as it is larger, within a
 *    time limit.
 *
 * Header, body and idle limits cut off slow senders, silent connections, stalled TLS handshakes,
 * clients that do not read their answers and peer streams gone quiet. One sweep checks them all
 * ([swept_deadlines.ts](./swept_deadlines.ts)): a timer per request cost more than the request's
 * other bookkeeping. Built on `node:https` because Deno's own server cannot ask for client
 * certificates.
 *
 * @module
 */
import http from "node:http";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import {
  accessFor,
  authorize,
  type Caller,
  callerFromCertificate,
  type TokenStore,
} from "./auth.ts";
import type { TlsMaterial } from "../rpc/tls.ts";
import { type BodyError, readBody } from "./bounded_body.ts";
import { SweptDeadlines } from "./swept_deadlines.ts";
import { encodeAnswer, type RequestHead, serveLeanLane, type StreamSink } from "./lean_http1.ts";
import type { UnaryAnswer, UnaryCall } from "./unary_fast_path.ts";

/**
 * Limits on connections and requests.
 *
 * @example Usage
 * ```ts
 * import type { HttpLimits } from "@prkdb/prkdb/server";
 * const limits: Partial<HttpLimits> = { maxBodyBytes: 64 * 1024, headersTimeoutMs: 2000 };
 * ```
 */
export interface HttpLimits {
  /** Largest request body for client APIs. Default 1 MiB (a 256 KiB value in base64 JSON fits). */
  maxBodyBytes: number;
  /** Largest RaftService request body. Default 16 MiB (the peer transport sends at most 8 MiB). */
  maxPeerBodyBytes: number;
  /** Time from connecting to a first request's complete headers. Default 10 s. */
  headersTimeoutMs: number;
  /** Time to receive a request's whole body. Default 30 s. */
  bodyTimeoutMs: number;
  /** A connection with no traffic for this long is closed. Default 60 s. */
  idleTimeoutMs: number;
  /** Open connections at most; more are answered `resource_exhausted` and closed. Default 1024. */
  maxConnections: number;
}

/**
 * The default {@linkcode HttpLimits}.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_HTTP_LIMITS } from "@prkdb/prkdb/server";
 * console.log(DEFAULT_HTTP_LIMITS.maxBodyBytes); // 1048576
 * ```
 */
export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = {
  maxBodyBytes: 1 << 20,
  maxPeerBodyBytes: 16 << 20,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  idleTimeoutMs: 60_000,
  maxConnections: 1024,
};

/**
 * Options for {@linkcode startHttpServer}.
 *
 * @example Usage
 * ```ts
 * import type { HttpServerOptions } from "@prkdb/prkdb/server";
 * const o: HttpServerOptions = { hostname: "127.0.0.1", port: 0, handler: () => new Response("ok") };
 * ```
 */
export interface HttpServerOptions {
  /** Address to listen on. */
  hostname: string;
  /** Port (0 for any). */
  port: number;
  /** Serve HTTPS with this material, asking for client certificates; omit for plain HTTP. */
  tls?: { readonly current: TlsMaterial; onChange(listener: (m: TlsMaterial) => void): void };
  /** Bearer tokens clients may present instead of a certificate. */
  tokens?: TokenStore;
  /** Limits; each defaults to {@linkcode DEFAULT_HTTP_LIMITS}. */
  limits?: Partial<HttpLimits>;
  /** Serves an admitted request; `caller` is undefined on open paths and when insecure. */
  handler: (request: Request, caller: Caller | undefined) => Response | Promise<Response>;
  /** Observes each refusal, with its reason. */
  onRefused?: (reason: RefusalReason) => void;
  /**
   * Observes each request served: on the lean lane (parsed by hand, see
   * [lean_http1.ts](./lean_http1.ts)), or by the general server.
   */
  onServed?: (lane: "lean" | "general") => void;
  /**
   * Whether plain requests are served on the lean lane ([lean_http1.ts](./lean_http1.ts)).
   * Default true; false leaves every connection to `node:http` from its first byte.
   */
  leanLane?: boolean;
  /**
   * Paths whose request body is a long-lived stream of messages: it is handed over as it
   * arrives instead of being read whole, with no body time limit (the connection's idle limit
   * still applies). Their handler bounds each message; the path's access check still runs first.
   * New TLS material ends every open stream, so its peer reconnects and proves itself again.
   */
  streamingPaths?: ReadonlySet<string>;
  /**
   * Serves a streaming path's chunked body on the lean lane, straight from the connection's bytes
   * (see {@linkcode StreamSink}), after the same access check; `undefined` leaves the request to
   * `handler`. The stream's idle limit applies as on the general server.
   */
  streamSink?: (
    path: string,
    header: (name: string) => string | null,
    caller: Caller | undefined,
  ) => StreamSink | undefined;
  /**
   * Serves an admitted request from its bytes, without building fetch objects (the hottest
   * calls); `undefined` leaves it to `handler`.
   */
  direct?: (
    path: string,
    call: UnaryCall,
    caller: Caller | undefined,
  ) => Promise<UnaryAnswer> | undefined;
}

/**
 * Why a connection or request was refused.
 *
 * @example Usage
 * ```ts
 * import type { RefusalReason } from "@prkdb/prkdb/server";
 * const reason: RefusalReason = "too_large";
 * ```
 */
export type RefusalReason =
  | "unknown_certificate"
  | "unauthenticated"
  | "forbidden"
  | "too_many_connections"
  | "too_large"
  | "timeout";

/**
 * A running server.
 *
 * @example Usage
 * ```ts
 * import { type HttpServer, startHttpServer } from "@prkdb/prkdb/server";
 * const s: HttpServer = await startHttpServer({ hostname: "127.0.0.1", port: 0, handler: () => new Response("ok") });
 * console.log(s.secure); // false
 * await s.close();
 * ```
 */
export interface HttpServer {
  /** The port it listens on. */
  readonly port: number;
  /** Whether it serves HTTPS. */
  readonly secure: boolean;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

const EMPTY = new Uint8Array(0);

const HTTP_STATUS: Record<string, number> = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  resource_exhausted: 429,
  deadline_exceeded: 408,
};

/** Writes a Connect-style JSON error and closes the connection after it. */
function refuse(res: ServerResponse, code: string, message: string, status?: number): void {
  if (res.headersSent) return void res.socket?.destroy();
  const body = JSON.stringify({ code, message });
  res.writeHead(status ?? HTTP_STATUS[code] ?? 400, {
    "content-type": "application/json",
    "content-length": String(new TextEncoder().encode(body).length),
    connection: "close",
  });
  res.end(body, () => res.socket?.destroy());
}

function peerCertificate(socket: TLSSocket) {
  const c = socket.getPeerCertificate();
  const present = c && Object.keys(c).length > 0;
  const san = typeof c?.subjectaltname === "string" ? c.subjectaltname : "";
  const uris = san.split(",").map((s) => s.trim()).filter((s) => s.startsWith("URI:")).map((s) =>
    s.slice(4)
  );
  const subject = (c?.subject ?? {}) as unknown as Record<string, string | undefined>;
  return {
    present: !!present,
    cert: { authorized: socket.authorized === true, cn: subject.CN, ou: subject.OU, uris },
  };
}

/**
 * The path of a request target, if the target is in the form every later reader sees it in:
 * `undefined` for one that a URL parser would read as another path (`..` or `.` segments, also
 * percent-encoded, backslashes, a fragment). Authorization checks the path as written and handlers
 * route on the parsed URL, so the two must never differ: `/x/../prkdb.v1.KvService/Put` would be
 * checked as an unknown path and served as a Put.
 *
 * @param target The request target (path and query).
 * @returns Its path, or `undefined`.
 */
export function canonicalPath(target: string): string | undefined {
  // A busy node sees the same few targets over and over: each is parsed once. Any other target
  // (a stranger's made-up ones) only turns the small table over, and long ones are not kept.
  const known = checkedTargets.get(target);
  if (known !== undefined || checkedTargets.has(target)) return known;
  const path = parseCanonicalPath(target);
  if (target.length > CHECKED_TARGET_LENGTH) return path;
  if (checkedTargets.size >= CHECKED_TARGETS) checkedTargets.clear();
  checkedTargets.set(target, path);
  return path;
}

/** How many targets {@linkcode canonicalPath} remembers, and how long one it keeps may be. */
const CHECKED_TARGETS = 256;
const CHECKED_TARGET_LENGTH = 256;
const checkedTargets = new Map<string, string | undefined>();

function parseCanonicalPath(target: string): string | undefined {
  if (!target.startsWith("/") || target.includes("#") || target.includes("\\")) return undefined;
  const query = target.indexOf("?");
  const path = query < 0 ? target : target.slice(0, query);
  let parsed: URL;
  try {
    parsed = new URL(target, "http://node");
  } catch {
    return undefined;
  }
  return parsed.pathname === path && parsed.host === "node" ? path : undefined;
}

/** The content types of Connect's streaming calls, whose answers are sent as they come. */
const STREAMED = /^application\/connect\+/;

/** Headers the server sets itself on an answer it sends in one piece. */
const FRAMING = new Set(["content-length", "transfer-encoding", "connection", "keep-alive"]);

/** A handler's response read whole, as an answer to send in one piece. */
async function bufferedAnswer(response: Response): Promise<UnaryAnswer> {
  let body = new Uint8Array(await response.arrayBuffer());
  let status = response.status;
  if (status === 500) {
    // Connect reports an undecodable binary message as an internal error; it is the caller's.
    const text = new TextDecoder().decode(body);
    const m = /^\{"code":"internal","message":"(parse binary: [^"]*)"/.exec(text);
    if (m) {
      status = 400;
      body = new TextEncoder().encode(JSON.stringify({ code: "invalid_argument", message: m[1] }));
    }
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((v, k) => {
    if (!FRAMING.has(k)) headers[k] = v;
  });
  return { status, headers, body };
}

/** Each certificate of a PEM bundle on its own. */
const caList = (pem: string): string[] =>
  pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [pem];

/**
 * Starts the server.
 *
 * @param options Where, how and what to serve.
 * @returns The running server, once it listens.
 *
 * @example Plain HTTP on any port
 * ```ts ignore
 * import { startHttpServer } from "@prkdb/prkdb/server";
 * const s = await startHttpServer({ hostname: "127.0.0.1", port: 0, handler: () => new Response("hi") });
 * await s.close();
 * ```
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
  const secure = options.tls !== undefined;
  const sockets = new Set<Socket>();
  /** Connections carrying a long-lived stream (see `streamingPaths`). */
  const streams = new Set<Socket>();
  const overCap = new WeakSet<Socket>();
  const callers = new WeakMap<Socket, Caller | undefined>();
  // Header, idle and body limits: one sweep for all of them (see swept_deadlines.ts), swept
  // often enough for the shortest to fire within a quarter of its length (at most 250 ms late).
  const deadlines = new SweptDeadlines(
    Math.max(
      10,
      Math.min(
        250,
        limits.headersTimeoutMs / 4,
        limits.bodyTimeoutMs / 4,
        limits.idleTimeoutMs / 4,
      ),
    ),
  );
  const cutOff = (socket: Socket) => () => {
    options.onRefused?.("timeout");
    socket.destroy();
  };
  // A socket already closed has nothing left to time (and its close event already cleared it).
  const armHeaderTimer = (socket: Socket, ms: number) => {
    if (!socket.destroyed) deadlines.set(socket, ms, cutOff(socket));
  };

  // A TLS connection must finish its handshake within the header limit too: its raw socket is
  // timed until the secure connection (found by its remote address) takes over.
  const handshaking = new Map<string, Socket>();
  const remote = (socket: Socket) => `${socket.remoteAddress}:${socket.remotePort}`;
  const onRawSocket = (raw: Socket) => {
    const key = remote(raw);
    handshaking.set(key, raw);
    deadlines.set(raw, limits.headersTimeoutMs, cutOff(raw));
    raw.once("close", () => {
      deadlines.clear(raw);
      if (handshaking.get(key) === raw) handshaking.delete(key);
    });
  };

  const onSocket = (socket: Socket) => {
    // A connection reset while no request is being read: nothing to answer.
    socket.on("error", () => socket.destroy());
    if (secure) {
      const raw = handshaking.get(remote(socket));
      if (raw) {
        handshaking.delete(remote(socket));
        deadlines.clear(raw);
      }
    }
    sockets.add(socket);
    socket.on("close", () => {
      sockets.delete(socket);
      deadlines.clear(socket);
    });
    if (sockets.size > limits.maxConnections) overCap.add(socket);
    armHeaderTimer(socket, limits.headersTimeoutMs);
    if (secure) {
      const tls = socket as TLSSocket;
      const { present, cert } = peerCertificate(tls);
      // A certificate that does not chain to the cluster CA: closed before any request.
      if (present && !cert.authorized) {
        options.onRefused?.("unknown_certificate");
        return void socket.destroy();
      }
      callers.set(socket, present ? callerFromCertificate(cert) : undefined);
    }
    if (options.leanLane === false) return handOver(socket);
    serveLeanLane<Caller | null>(socket, {
      admit: (head) => admitLean(socket, head),
      take: (head, body, signal, caller) => takeLean(head, body, signal, caller ?? undefined),
      awaitingBody: (stop) =>
        deadlines.set(socket, limits.bodyTimeoutMs, () => {
          stop();
          options.onRefused?.("timeout");
          const message = `The request body did not arrive within ${limits.bodyTimeoutMs} ms`;
          socket.end(
            encodeAnswer({
              status: 408,
              headers: { "content-type": "application/json", connection: "close" },
              body: new TextEncoder().encode(
                JSON.stringify({ code: "deadline_exceeded", message }),
              ),
            }),
            () => socket.destroy(),
          );
        }),
      stream: (head) => streamLean(socket, head),
      begin: () => deadlines.clear(socket),
      // A client that does not read its answer is cut off like an idle one.
      answered: () => armHeaderTimer(socket, limits.idleTimeoutMs),
      handOver: (s) => handOver(s),
    });
  };

  /**
   * What must hold before any byte of a request's body is read, in order: room on this node, a
   * target in canonical form, a caller allowed on its path. Both lanes ask here.
   */
  const admission = (socket: Socket, target: string, authorization: string | undefined):
    | { kind: "over_cap" }
    | { kind: "bent_target" }
    | {
      kind: "refused";
      path: string;
      decision: Exclude<ReturnType<typeof authorize>, { ok: true }>;
    }
    | { kind: "admitted"; path: string; caller: Caller | undefined; limit: number } => {
    if (overCap.has(socket)) return { kind: "over_cap" };
    const path = canonicalPath(target);
    if (path === undefined) return { kind: "bent_target" };
    const access = accessFor(path);
    const decision = authorize({ access, certificate: callers.get(socket), authorization }, {
      secure,
      tokens: options.tokens,
    });
    if (!decision.ok) return { kind: "refused", path, decision };
    return { kind: "admitted", path, caller: decision.caller, limit: bodyLimit(access) };
  };
  let handOver: (socket: Socket) => void = (socket) => socket.destroy();
  // The lean lane's half of `onRequest`: only what it would serve without a refusal. First,
  // from the head alone, what the general server checks before reading a body: the caller (null
  // when none is needed), or undefined to leave the request to the general server.
  const admitLean = (socket: Socket, head: RequestHead): Caller | null | undefined => {
    // A stream whose body came whole (a peer asking whether streams are served sends an empty
    // one) is served here when the server reads such streams itself; any other stream (a Connect
    // streaming call, answered as it comes) is the general server's work.
    const streaming = options.streamingPaths?.has(head.path) ?? false;
    if (streaming ? !options.streamSink : STREAMED.test(head.headers.get("content-type") ?? "")) {
      return undefined;
    }
    const admitted = admission(socket, head.target, head.headers.get("authorization"));
    // Anything refused is left to the general server, which says why.
    if (admitted.kind !== "admitted" || head.contentLength > admitted.limit) return undefined;
    return admitted.caller ?? null;
  };
  // The server's sink for a stream's POST, counted as served on the lean lane; `undefined`
  // leaves the request to the general server.
  const leanSink = (head: RequestHead, caller: Caller | undefined): StreamSink | undefined => {
    if (head.method !== "POST") return undefined;
    const sink = options.streamSink?.(head.path, (name) => head.headers.get(name) ?? null, caller);
    if (sink) options.onServed?.("lean");
    return sink;
  };
  // A peer's stream on the lean lane: admitted as the general server admits it, timed by the
  // same idle limit, moved on by every piece of its body.
  const streamLean = (socket: Socket, head: RequestHead): StreamSink | undefined => {
    if (!options.streamingPaths?.has(head.path)) return undefined;
    const admitted = admission(socket, head.target, head.headers.get("authorization"));
    if (admitted.kind !== "admitted") return undefined;
    const sink = leanSink(head, admitted.caller);
    if (!sink) return undefined;
    streams.add(socket);
    const forget = () => streams.delete(socket);
    socket.once("close", forget);
    const idle = () => socket.destroy();
    deadlines.set(socket, limits.idleTimeoutMs, idle);
    return {
      push(piece) {
        deadlines.set(socket, limits.idleTimeoutMs, idle);
        return sink.push(piece);
      },
      end() {
        socket.off("close", forget);
        forget();
        return sink.end();
      },
    };
  };
  // Then, with the body: serve it from its bytes, or through the handler in one piece.
  const takeLean = (
    head: RequestHead,
    body: Uint8Array,
    signal: AbortSignal,
    caller: Caller | undefined,
  ): Promise<UnaryAnswer> | undefined => {
    const headers = head.headers;
    if (options.streamingPaths?.has(head.path)) {
      // A stream whose body came whole: its pieces are that one body.
      const sink = leanSink(head, caller);
      return sink && Promise.resolve(sink.push(body) ?? sink.end());
    }
    const direct = head.method === "POST"
      ? options.direct?.(head.path, {
        method: "POST",
        header: (name) => headers.get(name) ?? null,
        body,
        signal,
      }, caller)
      : undefined;
    // Any other call, the handler answers in one piece.
    const answer = direct ?? (async () => {
      const request = new Request(`${secure ? "https" : "http"}://node${head.target}`, {
        method: head.method,
        headers: [...headers],
        body: body.length > 0 ? body as Uint8Array<ArrayBuffer> : undefined,
        signal,
      });
      return await bufferedAnswer(await options.handler(request, caller));
    })();
    options.onServed?.("lean");
    return answer.catch((error) => ({
      status: 500,
      headers: { "content-type": "application/json" },
      body: new TextEncoder().encode(
        JSON.stringify({ code: "internal", message: (error as Error).message }),
      ),
    }));
  };
  const bodyLimit = (access: ReturnType<typeof accessFor>) =>
    access !== "open" && access.length === 1 && access[0] === "node"
      ? limits.maxPeerBodyBytes
      : limits.maxBodyBytes;

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    options.onServed?.("general");
    const socket = req.socket;
    deadlines.clear(socket);
    res.on("finish", () => armHeaderTimer(socket, limits.idleTimeoutMs));
    const admitted = admission(socket, req.url ?? "/", req.headers.authorization);
    if (admitted.kind === "over_cap") {
      options.onRefused?.("too_many_connections");
      return refuse(
        res,
        "resource_exhausted",
        `Too many connections: this node serves at most ${limits.maxConnections}; retry later`,
      );
    }
    if (admitted.kind === "bent_target") {
      return refuse(
        res,
        "invalid_argument",
        "The request target is not in canonical form (dot segments, backslashes or a fragment)",
      );
    }
    if (admitted.kind === "refused") {
      const { decision, path } = admitted;
      options.onRefused?.(decision.code === "unauthenticated" ? "unauthenticated" : "forbidden");
      return refuse(res, decision.code, `${decision.message}: ${path}`);
    }
    const { path, caller, limit } = admitted;
    const declared = Number(req.headers["content-length"] ?? 0);
    let body: Uint8Array | ReadableStream<Uint8Array> | undefined;
    if (options.streamingPaths?.has(path) && req.method === "POST") {
      streams.add(socket);
      // Once per request, not per connection: a kept-alive connection may carry many streams.
      res.once("close", () => streams.delete(socket));
      // A stream that stays silent past the idle limit is closed (a peer gone without a word
      // leaves a half-open connection); every chunk moves its limit on. A quiet cluster's
      // streams go silent too: that is no refusal, and it is not counted as one.
      const idle = () => socket.destroy();
      deadlines.set(socket, limits.idleTimeoutMs, idle);
      body = ReadableStream.from((async function* () {
        for await (const chunk of req as AsyncIterable<Uint8Array>) {
          deadlines.set(socket, limits.idleTimeoutMs, idle);
          yield chunk;
        }
      })());
    } else if (req.method !== "GET" && req.method !== "HEAD") {
      if (declared > limit) {
        options.onRefused?.("too_large");
        return refuse(
          res,
          "resource_exhausted",
          `The request body of ${declared} bytes exceeds the limit of ${limit} bytes`,
          413,
        );
      }
      try {
        body = await readBody(req, limit, limits.bodyTimeoutMs, deadlines);
      } catch (error) {
        const e = error as BodyError;
        if (e.reason === "aborted") return void socket.destroy();
        options.onRefused?.(e.reason);
        return e.reason === "too_large"
          ? refuse(res, "resource_exhausted", e.message, 413)
          : refuse(res, "deadline_exceeded", e.message);
      }
    }
    const abort = new AbortController();
    res.once("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    if (options.direct && !(body instanceof ReadableStream)) {
      const lookup = req.headers;
      const direct = options.direct(path, {
        method: req.method ?? "GET",
        header: (name) => {
          const v = lookup[name];
          return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
        },
        body: body ?? EMPTY,
        signal: abort.signal,
      }, caller);
      if (direct) {
        let answer: UnaryAnswer;
        try {
          answer = await direct;
        } catch (error) {
          return refuse(res, "internal", (error as Error).message, 500);
        }
        // A client that does not read its answer is cut off like an idle one.
        armHeaderTimer(socket, limits.idleTimeoutMs);
        res.writeHead(answer.status, {
          ...answer.headers,
          "content-length": String(answer.body.length),
        });
        res.end(answer.body);
        return;
      }
    }
    const headers: [string, string][] = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) headers.push([raw[i], raw[i + 1]]);
    const request = new Request(`${secure ? "https" : "http"}://node${req.url}`, {
      method: req.method,
      headers,
      body: body instanceof ReadableStream
        ? body
        : body && body.length > 0
        ? body as Uint8Array<ArrayBuffer>
        : undefined,
      signal: abort.signal,
      ...(body instanceof ReadableStream && { duplex: "half" }),
    });
    let response: Response;
    try {
      response = await options.handler(request, caller);
    } catch (error) {
      return refuse(res, "internal", (error as Error).message, 500);
    }
    if (response.body && STREAMED.test(response.headers.get("content-type") ?? "")) {
      // A server stream (Watch): send each message as it comes, waiting while the peer is slow.
      const headersOut: Record<string, string> = {};
      response.headers.forEach((v, k) => headersOut[k] = v);
      res.writeHead(response.status, headersOut);
      try {
        for await (const chunk of response.body) {
          if (res.destroyed) break;
          if (!res.write(chunk)) {
            await new Promise((resolve) => {
              res.once("drain", resolve);
              res.once("close", resolve);
            });
          }
        }
      } finally {
        res.end();
      }
      return;
    }
    const answer = await bufferedAnswer(response);
    armHeaderTimer(socket, limits.idleTimeoutMs);
    res.writeHead(answer.status, {
      ...answer.headers,
      "content-length": String(answer.body.length),
    });
    res.end(answer.body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) =>
    void onRequest(req, res).catch(() => socket(req).destroy());
  const socket = (req: IncomingMessage) => req.socket;
  const server = secure
    ? https.createServer({
      ...options.tls!.current,
      ca: caList(options.tls!.current.ca),
      requestCert: true,
      rejectUnauthorized: false,
    }, handle)
    : http.createServer(handle);
  // Every connection starts on the lean lane. The server's own connection listener (which
  // starts reading HTTP) runs only when the lane hands a connection over. It stays this listening
  // server's: a server that does not listen closes each connection after one answer.
  const event = secure ? "secureConnection" : "connection";
  const general = server.listeners(event) as ((socket: Socket) => void)[];
  server.removeAllListeners(event);
  handOver = (socket) => {
    for (const listener of general) listener.call(server, socket);
  };
  server.on(event, onSocket);
  if (secure) server.on("connection", onRawSocket);
  // A hard ceiling for connections that never complete a handshake.
  server.maxConnections = limits.maxConnections + 64;
  if (secure) {
    options.tls!.onChange((m) => {
      (server as https.Server).setSecureContext({ key: m.key, cert: m.cert, ca: caList(m.ca) });
      // A stream keeps the identity its handshake proved for as long as it lasts: end them all,
      // so every peer proves itself again under the new material (a removed CA, a new one).
      for (const socket of streams) socket.destroy();
      streams.clear();
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    port,
    secure,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        for (const raw of handshaking.values()) raw.destroy();
        deadlines.close();
      }),
  };
}
