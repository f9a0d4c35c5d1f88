/**
 * A client request's life on a replica: a write is proposed, then waits until its entry is
 * applied; a read asks for a read index (Raft dissertation, section 6.4), then waits until the
 * state machine has applied it. Both are bounded by a deadline on the runtime's clock.
 *
 * @module
 */
import { ReadBatch } from "./read_batch.ts";
import { NotLeaderError, ProposalDroppedError } from "../raft/errors.ts";
import type { MembershipChange } from "../raft/membership.ts";
import type { ProposalPosition } from "../raft/node.ts";
import {
  TimeoutError,
  UnavailableError,
  WriteRefusedError,
  WrongNodeError,
} from "../partition/errors.ts";
import type { ApplyResult } from "../partition/kv_state_machine.ts";
import type { Clock } from "./clock.ts";
import type { Deadlines } from "./deadlines.ts";
import type { HostObserver, ProposalOutcome } from "./options.ts";
import type { Replica } from "./replica.ts";
import { awaitRequest } from "./requests.ts";
import type { DurableNotice } from "./durability.ts";

/**
 * What a request needs from its host.
 *
 * @example Usage
 * ```ts
 * import { Deadlines, ManualClock, type RequestContext } from "@prkdb/prkdb/runtime";
 * const clock = new ManualClock();
 * const ctx: RequestContext = {
 *   clock, deadlines: new Deadlines(clock), timeoutMs: 1000, schedule() {},
 * };
 * ```
 */
export interface RequestContext {
  /** The runtime's clock. */
  readonly clock: Clock;
  /** Where each request's deadline waits (one timer for all of them). */
  readonly deadlines: Deadlines;
  /** How long a request may wait. */
  readonly timeoutMs: number;
  /** Telemetry. */
  readonly observer?: HostObserver;
  /** Asks the host for a round: the request created work for `replica` (or for any). */
  schedule(replica?: Replica): void;
}

/**
 * Proposes an encoded command at the replica's leader and waits until it is applied.
 *
 * @param ctx The host's clock, deadline, telemetry and scheduler.
 * @param replica The partition's replica on this node.
 * @param data The encoded command (already validated).
 * @param signal Aborts the wait (the write may still commit).
 * @param notice Tell the follower that passed the write on once its entry is durable here.
 * @returns What applying the entry did, and its index.
 * @throws {WrongNodeError} When this replica is not the leader (nothing was proposed).
 * @throws {UnavailableError} When the write was definitely not applied (dropped, or lost in a
 *   leader change).
 * @throws {OutcomeUnknownError} When its fate is unknown.
 * @throws {TimeoutError} When the deadline passed first (its fate is unknown).
 *
 * @example Usage
 * ```ts ignore
 * const { result, index } = await proposeAndWait(ctx, replica, encodeCommand(command));
 * ```
 */
export function proposeAndWait(
  ctx: RequestContext,
  replica: Replica,
  data: Uint8Array,
  signal?: AbortSignal,
  notice?: DurableNotice,
): Promise<{ result: ApplyResult; index: number }> {
  return awaitProposal(ctx, replica, () => replica.node.propose(data), signal, notice);
}

/**
 * Proposes a single-server membership change at the replica's leader (see
 * `RaftNode.changeMembership`) and waits until its entry is applied here.
 *
 * @param ctx The host's clock, deadline, telemetry and scheduler.
 * @param replica The partition's replica on this node.
 * @param change The change.
 * @param signal Aborts the wait (the change may still commit).
 * @returns The index of the `config` entry.
 * @throws {WrongNodeError} When this replica is not the leader (nothing was proposed).
 * @throws {UnavailableError} When another change is in flight, the leader has not committed in
 *   its term yet, or the change was lost in a leader change: retry.
 * @throws {MembershipChangeError} When the change is not possible.
 * @throws {TimeoutError} When the deadline passed first (its fate is unknown).
 *
 * @example Usage
 * ```ts ignore
 * const index = await changeMembershipAndWait(ctx, replica, { type: "addLearner", node: 4 });
 * ```
 */
export async function changeMembershipAndWait(
  ctx: RequestContext,
  replica: Replica,
  change: MembershipChange,
  signal?: AbortSignal,
): Promise<number> {
  const { index } = await awaitProposal(
    ctx,
    replica,
    () => replica.node.changeMembership(change),
    signal,
  );
  return index;
}

/** Proposes with `propose` and waits until the entry it placed is applied. */
async function awaitProposal(
  ctx: RequestContext,
  replica: Replica,
  propose: () => ProposalPosition,
  signal?: AbortSignal,
  notice?: DurableNotice,
): Promise<{ result: ApplyResult; index: number }> {
  const partition = replica.partition;
  const started = ctx.clock.now();
  const outcome = (o: ProposalOutcome) =>
    ctx.observer?.proposal?.(partition, o, (ctx.clock.now() - started) / 1000);
  let position: { index: number; term: number };
  try {
    position = propose();
  } catch (error) {
    outcome("rejected");
    if (error instanceof NotLeaderError) {
      throw new WrongNodeError(partition, error.leaderId, "is not the leader");
    }
    if (error instanceof ProposalDroppedError) {
      throw new WriteRefusedError(`Partition ${partition}: ${error.message}`);
    }
    throw error;
  }
  if (notice) replica.durability.announce(position.index, position.term, notice);
  try {
    const result = await awaitRequest<ApplyResult>(
      ctx.deadlines,
      ctx.timeoutMs,
      `Write to partition ${partition}`,
      signal,
      (resolve, reject) => {
        const untrack = replica.trackWrite(position.index, {
          term: position.term,
          resolve,
          reject,
        });
        ctx.schedule(replica);
        return untrack;
      },
    );
    outcome("committed");
    return { result, index: position.index };
  } catch (error) {
    outcome(error instanceof TimeoutError ? "timeout" : "lost");
    throw error;
  }
}

/** Requests a read index for a new batch of reads; a replica that knows no leader cannot. */
function startReadBatch(replica: Replica, context: number): ReadBatch {
  try {
    replica.node.readIndex(context);
  } catch (error) {
    if (error instanceof NotLeaderError) {
      throw new UnavailableError(`Partition ${replica.partition} has no leader yet; retry shortly`);
    }
    throw error;
  }
  return new ReadBatch(context, replica.reads);
}

/**
 * Waits until a read at this replica is linearizable: the leader confirmed a read index with a
 * quorum, and this replica has applied it. Reads arriving before the replica's next round share
 * one read-index request ({@linkcode ReadBatch}).
 *
 * @param ctx The host's clock, deadline and scheduler.
 * @param replica The partition's replica on this node.
 * @param context A number unique on this node, naming the read.
 * @param signal Aborts the wait.
 * @throws {UnavailableError} When no leader is known, or leadership changed during the read.
 * @throws {TimeoutError} When the deadline passed first.
 *
 * @example Usage
 * ```ts ignore
 * await readIndexAndWait(ctx, replica, 7);
 * const value = replica.sm.read(key);
 * ```
 */
export async function readIndexAndWait(
  ctx: RequestContext,
  replica: Replica,
  context: number,
  signal?: AbortSignal,
): Promise<void> {
  // Join the reads that will share the next read-index request, or start that request.
  const batch = replica.openReads ?? (replica.openReads = startReadBatch(replica, context));
  await awaitRequest<void>(
    ctx.deadlines,
    ctx.timeoutMs,
    `Read from partition ${replica.partition}`,
    signal,
    (resolve, reject) => {
      const leave = batch.join({ resolve, reject });
      ctx.schedule(replica);
      return leave;
    },
  );
}
