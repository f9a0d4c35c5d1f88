/**
 * What one node sends another on its peer stream: Raft messages, and the writes it passes on to
 * partitions the other node leads, with the answers to those (and notices that their entries are
 * durable on the leader) coming back the other way. Writes
 * and answers travel encoded (a `ForwardedCall`, a `ForwardedResult`), so the stream's encoder
 * copies their bytes into the batch as they are.
 *
 * @module
 */
import type { PartitionMessage } from "../partition/transport.ts";
import { messageBytes } from "./raft_codec.ts";

/** A write passed on to the partition's leader (`RaftBatch.writes`). */
export interface WriteItem {
  readonly write: {
    /** The sender's number for it, never 0; the answer carries it back. */
    readonly id: number;
    /** How long the sender waits for the answer (ms). */
    readonly timeoutMs: number;
    /** The encoded `ForwardedCall`. */
    readonly call: Uint8Array;
    /** The sender's random number for this run of it, echoed by the answer. */
    readonly incarnation: number;
    /** Whether the sender asks for a durable notice (`StreamedWrite.durable_notice`). */
    readonly durableNotice?: boolean;
  };
  /**
   * Runs when the write is known never to have reached the peer: the stream could not take it,
   * or the peer refused the batch that carried it.
   */
  readonly dropped: (error: unknown) => void;
}

/** A leader's answer to a write passed on to it (`RaftBatch.answers`). */
export interface AnswerItem {
  readonly answer: {
    /** The number the write came with. */
    readonly id: number;
    /** The encoded `ForwardedResult`. */
    readonly result: Uint8Array;
    /** The write's `incarnation`. */
    readonly incarnation: number;
  };
}

/**
 * A leader's notice that the entry of a write passed on to it is durable on its disk
 * (`RaftBatch.durable`): the sender may answer for the write once its own copy is durable.
 */
export interface DurableItem {
  readonly durable: {
    /** The number the write came with. */
    readonly id: number;
    /** The write's `incarnation`. */
    readonly incarnation: number;
    /** The partition whose log holds the write. */
    readonly partition: number;
    /** The write's log entry. */
    readonly index: number;
    /** The entry's term. */
    readonly term: number;
  };
}

/** One item on a peer stream. */
export type PeerItem = PartitionMessage | WriteItem | AnswerItem | DurableItem;

/**
 * About how many bytes an item adds to a batch, for the stream's size limits.
 *
 * @param item The item.
 * @returns Its size in bytes, about.
 *
 * @example Usage
 * ```ts
 * import { peerItemBytes } from "./peer_item.ts";
 * const n = peerItemBytes({ answer: { id: 1, result: new Uint8Array(10), incarnation: 7 } });
 * console.log(n >= 10); // true
 * ```
 */
export function peerItemBytes(item: PeerItem): number {
  if ("message" in item) return messageBytes(item);
  // Tags, lengths and three or four varints of up to five bytes each.
  if ("write" in item) return 26 + item.write.call.length;
  if ("durable" in item) return 44;
  return 24 + item.answer.result.length;
}
