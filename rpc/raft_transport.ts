/**
 * The Connect-RPC transport between nodes: one HTTP client per peer, one queue per peer and
 * RPC. Messages waiting while a call is in flight go out together in the next call, so under
 * load a peer gets large batches, not many small calls (a Connect round trip costs about as
 * much as a thousand small messages).
 *
 * @module
 */
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { NodeId } from "../raft/types.ts";
import type { PartitionMessage, RaftTransport } from "../partition/transport.ts";
import { RaftService } from "./gen/prkdb/v1/raft_pb.ts";
import { encodeRaftMessage, type RaftRpc, rpcFor } from "./raft_codec.ts";

/** Options for {@linkcode ConnectRaftTransport}. */
export interface ConnectRaftTransportOptions {
  /** This node. */
  self: NodeId;
  /** Cluster name, checked by the receiver. */
  cluster: string;
  /** Base URL of every peer (`http://host:port`). */
  peers: ReadonlyMap<NodeId, string>;
  /** Calls in flight per peer and RPC. Default 2. */
  maxInflight?: number;
  /** Per-call timeout. Default 2000 ms. */
  timeoutMs?: number;
  /** The `fetch` to call peers with (mutual TLS when configured). Default: the global one. */
  fetch?: typeof fetch;
  /** A call carries at most about this many bytes of entries and snapshot data. Default 8 MiB. */
  maxBatchBytes?: number;
  /** Observes each call: its peer, RPC, entries carried (AppendEntries), duration and error. */
  onCall?: (peer: NodeId, rpc: RaftRpc, entries: number, seconds: number, error?: unknown) => void;
}

/** About how many bytes a message adds to a batch. */
function payloadBytes(m: PartitionMessage): number {
  const message = m.message;
  if (message.type === "AppendEntries") {
    let n = 64;
    for (const e of message.entries) n += 24 + e.data.length;
    return n;
  }
  if (message.type === "InstallSnapshot") return 64 + message.data.length;
  return 48;
}

interface Lane {
  queue: PartitionMessage[];
  inflight: number;
}

/** Sends Raft batches to peers over Connect-RPC. */
export class ConnectRaftTransport implements RaftTransport {
  readonly #o:
    & Required<Omit<ConnectRaftTransportOptions, "onCall" | "fetch">>
    & Pick<ConnectRaftTransportOptions, "onCall" | "fetch">;
  readonly #clients = new Map<NodeId, Client<typeof RaftService>>();
  #urls = new Map<NodeId, string>();
  readonly #pinging = new Set<NodeId>();
  readonly #lanes = new Map<string, Lane>();
  readonly #abort = new AbortController();
  #closed = false;

  constructor(options: ConnectRaftTransportOptions) {
    this.#o = { maxInflight: 2, timeoutMs: 2000, maxBatchBytes: 8 << 20, ...options };
    this.setPeers(options.peers);
  }

  /**
   * Replaces the peers (a node joined, moved or left the cluster). Messages already queued for
   * a peer that left are dropped, as if lost.
   *
   * @param peers Every member's base URL.
   */
  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    const urls = new Map<NodeId, string>();
    for (const [id, url] of peers) if (id !== this.#o.self) urls.set(id, url);
    for (const id of [...this.#clients.keys()]) {
      if (urls.get(id) !== this.#urls.get(id)) this.#clients.delete(id);
    }
    for (const [id, url] of urls) {
      if (this.#clients.has(id)) continue;
      this.#clients.set(
        id,
        createClient(
          RaftService,
          createConnectTransport({ baseUrl: url, useBinaryFormat: true, fetch: this.#o.fetch }),
        ),
      );
    }
    for (const key of [...this.#lanes.keys()]) {
      if (!urls.has(Number(key.split("/")[0]))) this.#lanes.delete(key);
    }
    this.#urls = urls;
  }

  send(to: NodeId, messages: readonly PartitionMessage[]): void {
    if (this.#closed || !this.#clients.has(to)) return;
    for (const m of messages) {
      const rpc = rpcFor(m.message.type);
      const key = `${to}/${rpc}`;
      let lane = this.#lanes.get(key);
      if (!lane) this.#lanes.set(key, lane = { queue: [], inflight: 0 });
      lane.queue.push(m);
    }
    for (const rpc of new Set(messages.map((m) => rpcFor(m.message.type)))) this.#pump(to, rpc);
  }

  /**
   * An empty batch on the heartbeat call: "this node is alive". At most one in flight per peer.
   *
   * @param to The peer.
   * @param leading The partitions this node leads, as a bitset.
   */
  ping(to: NodeId, leading?: Uint8Array): void {
    const client = this.#clients.get(to);
    if (!client || this.#closed || this.#pinging.has(to)) return;
    this.#pinging.add(to);
    const started = performance.now();
    const took = () => (performance.now() - started) / 1000;
    const batch = {
      from: this.#o.self,
      cluster: this.#o.cluster,
      messages: [],
      ...(leading && { leading }),
    };
    client.heartbeat(batch, {
      signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#o.timeoutMs)]),
    }).then(
      // Counted like any call: a peer that answers pings is connected, even with quiet groups.
      () => this.#o.onCall?.(to, "heartbeat", 0, took()),
      (error) => this.#o.onCall?.(to, "heartbeat", 0, took(), error),
    ).finally(() => this.#pinging.delete(to));
  }

  #pump(to: NodeId, rpc: RaftRpc): void {
    const lane = this.#lanes.get(`${to}/${rpc}`);
    const client = this.#clients.get(to);
    if (!lane || !client) return; // the peer left the cluster
    if (lane.queue.length === 0 || lane.inflight >= this.#o.maxInflight || this.#closed) return;
    // Stay well under the receiver's body limit: the rest waits for the next call.
    let take = 0, bytes = 0;
    while (take < lane.queue.length && (take === 0 || bytes < this.#o.maxBatchBytes)) {
      bytes += payloadBytes(lane.queue[take++]);
    }
    if (take > 1 && bytes > this.#o.maxBatchBytes) take--;
    const batch = lane.queue.splice(0, take);
    let entries = 0;
    for (const m of batch) {
      if (m.message.type === "AppendEntries") entries += m.message.entries.length;
    }
    lane.inflight++;
    const started = performance.now();
    const request = {
      from: this.#o.self,
      cluster: this.#o.cluster,
      messages: batch.map((m) => encodeRaftMessage(m.partition, m.message)),
    };
    const options = { timeoutMs: this.#o.timeoutMs, signal: this.#abort.signal };
    client[rpc](request, options).then(
      () => this.#o.onCall?.(to, rpc, entries, (performance.now() - started) / 1000),
      // A down or slow peer: the messages are lost, which Raft tolerates (it retries).
      (error) => this.#o.onCall?.(to, rpc, entries, (performance.now() - started) / 1000, error),
    ).finally(() => {
      lane.inflight--;
      this.#pump(to, rpc);
    });
    // What did not fit goes out in a second call, if the window allows.
    if (lane.queue.length > 0) this.#pump(to, rpc);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    return Promise.resolve();
  }
}
