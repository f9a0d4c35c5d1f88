/**
 * How a node's Raft messages reach its peers, and an in-memory twin for tests and examples.
 *
 * @module
 */
import type { Message } from "../raft/message.ts";
import type { NodeId } from "../raft/types.ts";

/**
 * A Raft message with the partition (Raft group) it belongs to.
 *
 * @example Usage
 * ```ts
 * import type { PartitionMessage } from "@prkdb/prkdb/partition";
 * const m: PartitionMessage = { partition: 0, message: { type: "TimeoutNow", from: 1, to: 2, term: 3 } };
 * ```
 */
export interface PartitionMessage {
  /** The Raft group. */
  readonly partition: number;
  /** The message. */
  readonly message: Message;
}

/**
 * Delivers batches of messages to peers. Delivery is best effort: Raft tolerates loss,
 * duplication and reordering, so `send` never waits and never throws for a down peer.
 *
 * @example Usage
 * ```ts
 * import type { RaftTransport } from "@prkdb/prkdb/partition";
 * const silent: RaftTransport = { send() {}, close: () => Promise.resolve() };
 * ```
 */
export interface RaftTransport {
  /**
   * Sends messages (for any partitions) to one peer.
   *
   * @param to The peer.
   * @param messages The messages, all addressed to `to`.
   */
  send(to: NodeId, messages: readonly PartitionMessage[]): void;
  /**
   * Tells one peer this node is alive, with an empty batch: how followers of quiet groups know
   * their leader's node still runs, for the price of one message per node pair however many
   * partitions they share. Optional: without it, quiet followers wake whenever no Raft traffic
   * came from their leader's node for an election timeout.
   *
   * @param to The peer.
   * @param leading The partitions this node leads now, as a bitset (see `leadingBitset`).
   */
  ping?(to: NodeId, leading?: Uint8Array): void;
  /** Stops sending and releases connections. */
  close(): Promise<void>;
}

/** What receives a node's incoming messages. */
export type MessageHandler = (
  from: NodeId,
  messages: readonly PartitionMessage[],
  leading?: Uint8Array,
) => void;

/**
 * An in-process network of nodes, for tests and examples: delivery is asynchronous (a
 * microtask later) and nodes can be cut off.
 *
 * @example Usage
 * ```ts
 * import { MemoryNetwork } from "@prkdb/prkdb/partition";
 * const net = new MemoryNetwork();
 * net.register(2, (from, msgs) => console.log(from, msgs.length));
 * net.transport(1).send(2, []);
 * ```
 */
export class MemoryNetwork {
  readonly #handlers = new Map<NodeId, MessageHandler>();
  readonly #isolated = new Set<NodeId>();

  /**
   * Registers the handler of a node's incoming messages.
   *
   * @param node The node.
   * @param handler Its handler.
   */
  register(node: NodeId, handler: MessageHandler): void {
    this.#handlers.set(node, handler);
  }

  /**
   * The transport a node sends with.
   *
   * @param from The sending node.
   * @returns A transport.
   */
  transport(from: NodeId): RaftTransport {
    const send = (to: NodeId, messages: readonly PartitionMessage[], leading?: Uint8Array) => {
      if (this.#isolated.has(from) || this.#isolated.has(to)) return;
      const handler = this.#handlers.get(to);
      if (handler) queueMicrotask(() => handler(from, messages, leading));
    };
    return {
      send: (to, messages) => send(to, messages),
      // A liveness ping is an empty batch.
      ping: (to, leading) => send(to, [], leading),
      close: () => Promise.resolve(),
    };
  }

  /**
   * Cuts a node off (true) or reconnects it (false).
   *
   * @param node The node.
   * @param isolated Whether it is cut off.
   */
  isolate(node: NodeId, isolated = true): void {
    if (isolated) this.#isolated.add(node);
    else this.#isolated.delete(node);
  }
}
