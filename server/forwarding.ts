/**
 * Where a node sends a request it cannot serve itself, and what a failed forward tells the
 * caller. A replica knows its partition's leader from Raft; a node that is not a replica keeps
 * leader hints, learned by asking the partition's replicas (their ClusterInfo names the leader
 * they follow). While a partition has no leader, a request waits for one, bounded by its own
 * deadline, so a normal failover looks like a slow answer rather than an error.
 *
 * @module
 */
import { type Client, Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { NodeId } from "../raft/types.ts";
import type { MultiRaftHost } from "../runtime/multi_raft_host.ts";
import type { KvService } from "../rpc/gen/prkdb/v1/kv_pb.ts";
import { WriteNotSentError } from "./streamed_writes.ts";

/** The longest a request waits for its partition to elect a leader (its deadline may cut it). */
export const LEADER_WAIT_MS = 3000;

/**
 * Whether a forwarding error means the target never answered (refused connection, reset, no
 * reply in time, a write its peer stream could not take), as opposed to an answer carrying an
 * error.
 */
export function isUnreachable(error: unknown, signal: AbortSignal): boolean {
  if (!(error instanceof ConnectError) || signal.aborted) return false;
  if (error.cause instanceof WriteNotSentError) return true;
  // Our own forwarding timeout carries no response headers; a leader's answer would.
  if (error.code === Code.DeadlineExceeded) return [...error.metadata.keys()].length === 0;
  // An answer carries the response's headers: whatever its message says, the target answered.
  return error.code === Code.Unknown && [...error.metadata.keys()].length === 0 &&
    (error.cause instanceof TypeError || /fetch failed|connection|network/i.test(error.rawMessage));
}

/** The retryable error for a forward whose target did not answer. */
export function unreachableError(
  partition: number,
  target: NodeId,
  url: string | undefined,
  self: NodeId,
  error: ConnectError,
): ConnectError {
  const detail = error.code === Code.DeadlineExceeded ? "no answer in time" : error.rawMessage;
  return new ConnectError(
    `Partition ${partition}: its leader, node ${target}${
      url ? ` (${url})` : ""
    }, is unreachable from node ${self} (${detail}); retry, a new leader is elected within seconds`,
    Code.Unavailable,
  );
}

/** How long a request may still wait for a leader: the cap, cut by its own deadline. */
export function leaderWaitMs(ctx: HandlerContext): number {
  const remaining = ctx.timeoutMs();
  // Leave part of the caller's budget for the request itself once a leader is known.
  return remaining === undefined
    ? LEADER_WAIT_MS
    : Math.max(0, Math.min(LEADER_WAIT_MS, remaining / 2));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Leader hints for partitions this node does not replicate. A hint comes from asking the
 * partition's replicas; it is dropped when the hinted node turns out not to lead.
 */
export class LeaderHints {
  readonly #host: MultiRaftHost;
  readonly #clientFor: (id: NodeId) => Client<typeof KvService>;
  readonly #self: string;
  readonly #hints = new Map<number, { leader: NodeId; term: number }>();
  readonly #asking = new Map<number, Promise<NodeId>>();

  /**
   * @param host The node's host (for placement).
   * @param clientFor A KvService client for a member.
   * @param self This node's id, sent as the forwarding header.
   */
  constructor(
    host: MultiRaftHost,
    clientFor: (id: NodeId) => Client<typeof KvService>,
    self: NodeId,
  ) {
    this.#host = host;
    this.#clientFor = clientFor;
    this.#self = String(self);
  }

  /** The hinted leader, or 0. */
  get(partition: number): NodeId {
    return this.#hints.get(partition)?.leader ?? 0;
  }

  /** Forgets a hint that proved wrong. */
  drop(partition: number, leader: NodeId): void {
    if (this.#hints.get(partition)?.leader === leader) this.#hints.delete(partition);
  }

  /**
   * Asks every other node at once who leads the partition (replicas move with membership
   * changes, so the initial placement may be out of date); keeps the answer from the highest
   * term. Concurrent requests share one round of questions.
   *
   * @returns The leader, or 0 when no replica knows one (or none answers in time).
   */
  learn(partition: number, signal: AbortSignal): Promise<NodeId> {
    let asking = this.#asking.get(partition);
    if (!asking) {
      asking = this.#ask(partition, signal).finally(() => this.#asking.delete(partition));
      this.#asking.set(partition, asking);
    }
    return asking;
  }

  async #ask(partition: number, signal: AbortSignal): Promise<NodeId> {
    const others = this.#host.members().filter((id) => id !== this.#host.nodeId);
    const answers = await Promise.all(others.map(async (id) => {
      try {
        const info = await this.#clientFor(id).clusterInfo({}, {
          signal,
          timeoutMs: 1000,
          headers: { "prkdb-forwarded": this.#self },
        });
        const p = info.partitions.find((x) => x.partition === partition);
        return p && p.leader !== 0 ? { leader: p.leader, term: Number(p.term) } : undefined;
      } catch {
        return undefined;
      }
    }));
    let best: { leader: NodeId; term: number } | undefined;
    for (const a of answers) if (a && (!best || a.term > best.term)) best = a;
    if (best) this.#hints.set(partition, best);
    return best?.leader ?? 0;
  }
}
