/**
 * Raft messages to a peer that serves no stream: a node of an earlier version, during a rolling
 * upgrade. They go as unary calls, one per kind of message (`Vote`, `AppendEntries`, ...), at
 * most two in flight per kind; messages waiting while calls are in flight go together in the
 * next one.
 *
 * @module
 */
import type { Client } from "@connectrpc/connect";
import type { NodeId } from "../raft/types.ts";
import type { PartitionMessage } from "../partition/transport.ts";
import type { RaftService } from "./gen/prkdb/v1/raft_pb.ts";
import { encodeRaftMessage, messageBytes, type RaftRpc, rpcFor } from "./raft_codec.ts";

/**
 * How long a peer of an earlier version is talked to the old way before the new way (a stream,
 * a batched forward) is tried again: it may have been upgraded meanwhile.
 */
export const OLDER_PEER_RECHECK_MS = 60_000;

/** Calls in flight per kind of message. */
const MAX_INFLIGHT = 2;

interface Lane {
  queue: PartitionMessage[];
  inflight: number;
}

/** Options for {@linkcode UnaryLanes}. */
export interface UnaryLanesOptions {
  /** This node. */
  self: NodeId;
  /** The cluster's id. */
  cluster: string;
  /** Each call's time limit. */
  timeoutMs: number;
  /** A call carries at most about this many bytes (at least one message). */
  maxBatchBytes: number;
  /** Observes each call: its kind, entries carried, duration, and error. */
  onCall?: (rpc: RaftRpc, entries: number, seconds: number, error?: unknown) => void;
}

/**
 * Unary calls to one peer, one lane per kind of message.
 *
 * @example Usage
 * ```ts ignore
 * const lanes = new UnaryLanes(client, {
 *   self: 1, cluster: "prkdb", timeoutMs: 2000, maxBatchBytes: 8 << 20,
 * });
 * lanes.send(messages);
 * ```
 */
export class UnaryLanes {
  readonly #client: Client<typeof RaftService>;
  readonly #o: UnaryLanesOptions;
  readonly #lanes = new Map<RaftRpc, Lane>();
  readonly #abort = new AbortController();

  /**
   * @param client The peer's RaftService client.
   * @param options This node, the cluster, the call's limits, and who observes each call.
   */
  constructor(client: Client<typeof RaftService>, options: UnaryLanesOptions) {
    this.#client = client;
    this.#o = options;
  }

  /**
   * Sends messages, each kind on its call.
   *
   * @param messages What to send.
   */
  send(messages: readonly PartitionMessage[]): void {
    const touched = new Set<RaftRpc>();
    for (const m of messages) {
      const rpc = rpcFor(m.message.type);
      let lane = this.#lanes.get(rpc);
      if (!lane) this.#lanes.set(rpc, lane = { queue: [], inflight: 0 });
      lane.queue.push(m);
      touched.add(rpc);
    }
    for (const rpc of touched) this.#pump(rpc);
  }

  /** Stops sending; calls in flight are abandoned. */
  close(): void {
    this.#abort.abort();
    this.#lanes.clear();
  }

  #pump(rpc: RaftRpc): void {
    const lane = this.#lanes.get(rpc);
    if (!lane || this.#abort.signal.aborted) return;
    while (lane.queue.length > 0 && lane.inflight < MAX_INFLIGHT) {
      // Stay under the receiver's body limit: the rest waits for the next call.
      let take = 0, bytes = 0;
      while (
        take < lane.queue.length &&
        (take === 0 || bytes + messageBytes(lane.queue[take]) <= this.#o.maxBatchBytes)
      ) bytes += messageBytes(lane.queue[take++]);
      const batch = lane.queue.splice(0, take);
      let entries = 0;
      for (const m of batch) {
        if (m.message.type === "AppendEntries") entries += m.message.entries.length;
      }
      lane.inflight++;
      const started = performance.now();
      const took = () => (performance.now() - started) / 1000;
      this.#client[rpc]({
        from: this.#o.self,
        cluster: this.#o.cluster,
        messages: batch.map((m) => encodeRaftMessage(m.partition, m.message)),
      }, { timeoutMs: this.#o.timeoutMs, signal: this.#abort.signal }).then(
        () => this.#o.onCall?.(rpc, entries, took()),
        // Lost, as on a broken stream: Raft sends again.
        (error) => this.#o.onCall?.(rpc, entries, took(), error),
      ).finally(() => {
        lane.inflight--;
        this.#pump(rpc);
      });
    }
  }
}
