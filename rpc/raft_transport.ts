/**
 * The Connect-RPC transport between nodes. Every node keeps one long-lived client stream
 * (`RaftService/Stream`) to each peer and writes all its Raft messages for that peer on it, of
 * every kind and every partition; the peer's answers come back on the peer's own stream. While
 * the connection is busy, messages queue and then go out together as one batch, so under load a
 * peer gets large batches, not many small ones. A message on an open stream costs a frame, where
 * a unary call costs an HTTP request on both sides (and, with TLS, the connection's handshake is
 * paid once per pair, not per call).
 *
 * Liveness pings stay unary calls (`RaftService/Heartbeat` with no messages): their answer is
 * what tells this node the peer is reachable, and a ping that fails breaks a stream that the
 * peer stopped reading. A peer that serves no stream (a node of an earlier version, during a
 * rolling upgrade) is sent unary calls instead, and its stream is tried again every minute.
 *
 * @module
 */
import type { StreamFetch } from "./http1_stream.ts";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { NodeId } from "../raft/types.ts";
import type { PartitionMessage, RaftTransport } from "../partition/transport.ts";
import { fromBinary } from "@bufbuild/protobuf";
import { RaftAckSchema, RaftService } from "./gen/prkdb/v1/raft_pb.ts";
import { callUnary } from "./connect_unary.ts";
import { type RaftRpc, rpcFor } from "./raft_codec.ts";
import {
  type AnswerItem,
  type DurableItem,
  type PeerItem,
  peerItemBytes,
  type WriteItem,
} from "./peer_item.ts";
import { encodeRaftBatch } from "./raft_wire.ts";
import { ClientStream, StreamClosedError, streamError } from "./client_stream.ts";
import { OLDER_PEER_RECHECK_MS, UnaryLanes } from "./unary_lanes.ts";

/** Options for {@linkcode ConnectRaftTransport}. */
export interface ConnectRaftTransportOptions {
  /** This node. */
  self: NodeId;
  /** Cluster name, checked by the receiver. */
  cluster: string;
  /** Base URL of every peer (`http://host:port`). */
  peers: ReadonlyMap<NodeId, string>;
  /** Ping timeout, and how long a stream may take nothing before it counts as stalled. Default 2000 ms. */
  timeoutMs?: number;
  /** The `fetch` to call peers with (mutual TLS when configured). Default: the global one. */
  fetch?: typeof fetch;
  /**
   * Opens the peer streams: a node passes `http1Stream` (see [http1_stream.ts](./http1_stream.ts)), which writes each batch
   * straight to the socket. Default: `fetch`.
   */
  streamFetch?: StreamFetch;
  /** A batch carries at most about this many bytes of entries and snapshot data. Default 8 MiB. */
  maxBatchBytes?: number;
  /**
   * Observes calls that completed or failed: a ping's answer (its round trip), or messages lost
   * (with the error, and no duration) because a peer's stream broke or could not be opened.
   */
  onCall?: (
    peer: NodeId,
    rpc: RaftRpc,
    entries: number,
    seconds: number | undefined,
    error?: unknown,
  ) => void;
  /**
   * Observes each batch handed to a peer's stream, per kind of message: entries carried
   * (AppendEntries) and how long the batch waited for the stream to take it.
   */
  onSent?: (peer: NodeId, rpc: RaftRpc, entries: number, waitedSeconds: number) => void;
}

/** A stream quiet for this long is replaced by a new one at its next message. */
const STREAM_IDLE_MS = 30_000;

/** One peer: its stream for Raft messages and a unary client for pings. */
interface Peer {
  readonly id: NodeId;
  readonly url: string;
  readonly stream: ClientStream<PeerItem>;
  readonly client: Client<typeof RaftService>;
  /** Unary calls, while the peer serves no stream (an earlier version), until `legacyUntil`. */
  legacy?: UnaryLanes;
  legacyUntil: number;
  /** Whether the peer is known to serve the stream (asked once, with an empty stream). */
  streams: "unknown" | "asking" | "yes";
  /** When it was last asked (ms): an unreachable peer is asked at most once a second. */
  askedAt: number;
  /** Whether its last answered ping said it serves writes passed on in a stream's batches. */
  servesWrites: boolean;
}

/** Sends Raft messages to peers over Connect-RPC streams. */
export class ConnectRaftTransport implements RaftTransport {
  readonly #o:
    & Required<Omit<ConnectRaftTransportOptions, "onCall" | "onSent" | "fetch" | "streamFetch">>
    & Pick<ConnectRaftTransportOptions, "onCall" | "onSent" | "fetch" | "streamFetch">;
  readonly #peers = new Map<NodeId, Peer>();
  readonly #pinging = new Set<NodeId>();
  readonly #abort = new AbortController();
  /** The cluster id, UTF-8 encoded once for every batch. */
  readonly #cluster: Uint8Array;
  #closed = false;

  constructor(options: ConnectRaftTransportOptions) {
    this.#o = { timeoutMs: 2000, maxBatchBytes: 8 << 20, ...options };
    this.#cluster = new TextEncoder().encode(options.cluster);
    this.setPeers(options.peers);
  }

  /**
   * Replaces the peers (a node joined, moved or left the cluster). The stream to a peer that
   * left or moved is closed and its queued messages dropped, as if lost.
   *
   * @param peers Every member's base URL.
   */
  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    for (const [id, peer] of [...this.#peers]) {
      if (peers.get(id) === peer.url && id !== this.#o.self) continue;
      this.#peers.delete(id);
      void peer.stream.close();
      peer.legacy?.close();
    }
    for (const [id, url] of peers) {
      if (id === this.#o.self || this.#peers.has(id)) continue;
      this.#peers.set(id, this.#peer(id, url));
    }
  }

  #peer(id: NodeId, url: string): Peer {
    /** Entries per kind of message. */
    const kinds = (items: readonly PeerItem[]) => {
      const entries = new Map<RaftRpc, number>();
      for (const m of items) {
        if (!("message" in m)) continue;
        const rpc = rpcFor(m.message.type);
        const n = m.message.type === "AppendEntries" ? m.message.entries.length : 0;
        entries.set(rpc, (entries.get(rpc) ?? 0) + n);
      }
      return entries;
    };
    const stream = new ClientStream<PeerItem>({
      url: `${url.replace(/\/$/, "")}/${RaftService.typeName}/Stream`,
      encode: (messages) => encodeRaftBatch(this.#o.self, this.#cluster, messages),
      bytes: peerItemBytes,
      maxMessageBytes: this.#o.maxBatchBytes,
      stallMs: this.#o.timeoutMs,
      idleMs: STREAM_IDLE_MS,
      fetch: this.#o.streamFetch ?? this.#o.fetch,
      onWritten: (messages, waited) => {
        for (const [rpc, n] of kinds(messages)) this.#o.onSent?.(id, rpc, n, waited);
      },
      // A down or slow peer: the messages are lost, which Raft tolerates (it retries). A write
      // passed on is known not to have been served, and its sender is told so.
      onDropped: (items, error) => {
        for (const item of items) if ("write" in item) item.dropped(error);
        // Closed on purpose (the peer left, this node stops): not a failure of the peer.
        if (error instanceof StreamClosedError) return;
        for (const [rpc, n] of kinds(items)) this.#o.onCall?.(id, rpc, n, undefined, error);
        if (error instanceof ConnectError && error.code === Code.Unimplemented) this.#legacy(peer);
      },
    });
    const client = createClient(
      RaftService,
      createConnectTransport({ baseUrl: url, useBinaryFormat: true, fetch: this.#o.fetch }),
    );
    const peer: Peer = {
      id,
      url,
      stream,
      client,
      legacyUntil: 0,
      streams: "unknown",
      askedAt: -1e9,
      servesWrites: false,
    };
    return peer;
  }

  /** A node of an earlier version has no stream: talk to it with unary calls for a while. */
  #legacy(peer: Peer): void {
    peer.legacy ??= new UnaryLanes(peer.client, {
      self: this.#o.self,
      cluster: this.#o.cluster,
      timeoutMs: this.#o.timeoutMs,
      maxBatchBytes: this.#o.maxBatchBytes,
      onCall: (rpc, entries, seconds, error) =>
        this.#o.onCall?.(peer.id, rpc, entries, seconds, error),
    });
    peer.legacyUntil = performance.now() + OLDER_PEER_RECHECK_MS;
    peer.streams = "unknown";
    peer.servesWrites = false;
    peer.stream.reset(new ConnectError("the peer serves no Raft stream", Code.Unimplemented));
  }

  /**
   * Asks a peer whether it serves the stream, with an empty one: a node of this version answers
   * at once, one of an earlier version says it has no such method (it would otherwise read a
   * stream's body until its time limit, silently).
   */
  #ask(peer: Peer): void {
    peer.streams = "asking";
    peer.askedAt = performance.now();
    (this.#o.fetch ?? fetch)(peer.stream.url, {
      method: "POST",
      headers: { "content-type": "application/connect+proto", "connect-protocol-version": "1" },
      body: new Uint8Array(0),
      signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#o.timeoutMs)]),
    }).then(streamError).then((error) => {
      if (error === undefined) peer.streams = "yes";
      else if (error instanceof ConnectError && error.code === Code.Unimplemented) {
        this.#legacy(peer);
      } else peer.streams = "unknown";
    }, () => {
      peer.streams = "unknown"; // not reachable now: ask again with the next message
    });
  }

  send(to: NodeId, messages: readonly PartitionMessage[]): void {
    const peer = this.#live(to);
    if (!peer) return;
    if (peer.legacy && performance.now() < peer.legacyUntil) return peer.legacy.send(messages);
    if (peer.legacy) {
      // Time to see whether the peer was upgraded.
      peer.legacy.close();
      peer.legacy = undefined;
    }
    if (peer.streams === "unknown" && performance.now() - peer.askedAt >= 1000) this.#ask(peer);
    peer.stream.push(messages);
  }

  /** The peer `to`, unless it left or this transport is closed. */
  #live(to: NodeId): Peer | undefined {
    return this.#closed ? undefined : this.#peers.get(to);
  }

  /**
   * Whether writes can be passed on to `to` on its stream: its last answered ping said it
   * serves them (a node of an earlier version does not, and is sent `Forward` calls).
   *
   * @param to The peer.
   * @returns Whether {@linkcode sendWrite} may be used for it.
   */
  servesWrites(to: NodeId): boolean {
    const peer = this.#live(to);
    return peer !== undefined && peer.servesWrites && !peer.legacy;
  }

  /**
   * Passes a write on to `to`, the leader of its partition, on the stream. If it cannot be
   * sent (no such peer, the stream is down or broke first), `item.dropped` runs.
   *
   * @param to The leader's node.
   * @param item The write.
   */
  sendWrite(to: NodeId, item: WriteItem): void {
    const peer = this.#live(to);
    if (!peer) return item.dropped(new Error(`node ${to} is not a peer`));
    peer.stream.push([item]);
  }

  /**
   * Sends the answer to a write `to` passed on to this node. An answer that cannot be sent is
   * lost; the sender stops waiting at its deadline.
   *
   * @param to The node that passed the write on.
   * @param item The answer.
   */
  sendAnswer(to: NodeId, item: AnswerItem): void {
    const peer = this.#live(to);
    peer?.stream.push([item]);
  }

  /**
   * Tells `to` that the entry of a write it passed on to this node is durable here. A notice
   * that cannot be sent is lost; the sender then waits for the answer.
   *
   * @param to The node that passed the write on.
   * @param item The notice.
   */
  sendDurable(to: NodeId, item: DurableItem): void {
    const peer = this.#live(to);
    peer?.stream.push([item]);
  }

  /**
   * An empty batch on the heartbeat call: "this node is alive". At most one in flight per peer.
   *
   * @param to The peer.
   * @param leading The partitions this node leads, as a bitset.
   */
  ping(to: NodeId, leading?: Uint8Array): void {
    const peer = this.#peers.get(to);
    if (!peer || this.#closed || this.#pinging.has(to)) return;
    this.#pinging.add(to);
    const started = performance.now();
    const took = () => (performance.now() - started) / 1000;
    // A plain fetch, as for passed-on calls: a Connect client costs twice its CPU per call.
    callUnary(
      `${peer.url.replace(/\/$/, "")}/${RaftService.typeName}/Heartbeat`,
      encodeRaftBatch(this.#o.self, this.#cluster, [], leading),
      { timeoutMs: this.#o.timeoutMs, signal: this.#abort.signal, fetch: this.#o.fetch },
    ).then((body) => fromBinary(RaftAckSchema, body)).then(
      // Counted like any call: a peer that answers pings is connected, even with quiet groups.
      (ack) => {
        peer.stream.retryNow();
        peer.servesWrites = ack.servesWrites;
        this.#o.onCall?.(to, "heartbeat", 0, took());
      },
      (error) => {
        // A peer that cannot answer a ping is not reading its stream either.
        peer.stream.reset(error);
        this.#o.onCall?.(to, "heartbeat", 0, took(), error);
      },
    ).finally(() => this.#pinging.delete(to));
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    for (const peer of this.#peers.values()) {
      void peer.stream.close();
      peer.legacy?.close();
    }
    return Promise.resolve();
  }
}
