/**
 * What the playground page draws, read from an {@linkcode InteractionEnv} as plain data: each
 * node's role, term, vote, commit index, election timer and persisted log, and every message
 * on the wire. The page renders it; tests compare it.
 *
 * The log shown is the one on the node's disk: an entry appears once the node's Ready asked to
 * persist it, which is also when a crashed node would still have it after a restart.
 *
 * @example The view of a fresh three-node cluster
 * ```ts
 * import { InteractionEnv } from "../interaction/mod.ts";
 * import { viewOf } from "./view.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const env = new InteractionEnv();
 * env.addNodes(3);
 * const view = viewOf(env);
 * assertEquals(view.nodes.map((n) => n.role), ["Follower", "Follower", "Follower"]);
 * ```
 *
 * @module
 */
import type { ElectionTimer, EntryType, RoleName } from "../raft/mod.ts";
import { formatEntry, formatMessage, type InteractionEnv } from "../interaction/mod.ts";

/** One log entry as a cell of the log table. */
export interface CellView {
  /** The entry's index. */
  readonly index: number;
  /** The term it was created in. */
  readonly term: number;
  /** What it carries: a command, a leader's no-op, or a membership change. */
  readonly type: EntryType;
  /** The whole entry as the golden traces print it, like `4@2 "x=1"` or `1@1 noop`. */
  readonly text: string;
}

/** One node's row. */
export interface NodeView {
  /** The node's id. */
  readonly id: number;
  /** Its role, or `Crashed` while it is down. */
  readonly role: RoleName | "Crashed";
  /** Its current term (from its disk while crashed). */
  readonly term: number;
  /** Who it voted for in that term, 0 for nobody. */
  readonly votedFor: number;
  /** The leader it knows of, 0 for none. */
  readonly leaderId: number;
  /** The highest index it knows committed. */
  readonly commitIndex: number;
  /** Its election timer, absent while crashed. */
  readonly timer: ElectionTimer | undefined;
  /** Whether it is a learner (it replicates the log without voting); false while crashed. */
  readonly learner: boolean;
  /** Whether it is cut off from the network. */
  readonly isolated: boolean;
  /** The index its snapshot covers, 0 without one. */
  readonly snapshotIndex: number;
  /** Its persisted entries after the snapshot. */
  readonly log: readonly CellView[];
}

/** One message on the wire. */
export interface MessageView {
  /** Its id on the wire. */
  readonly id: number;
  /** Sender. */
  readonly from: number;
  /** Recipient. */
  readonly to: number;
  /** Message type, like `AppendEntries`. */
  readonly type: string;
  /** The sender's term. */
  readonly term: number;
  /** The whole message, as the golden traces print it. */
  readonly text: string;
}

/** Everything the page draws. */
export interface ClusterView {
  /** The nodes, by id. */
  readonly nodes: readonly NodeView[];
  /** The messages on the wire, oldest first. */
  readonly messages: readonly MessageView[];
  /** The highest log index on any node: the width of the log table. */
  readonly lastIndex: number;
}

/**
 * Reads the environment's state.
 *
 * @returns The view to draw.
 */
export function viewOf(env: InteractionEnv): ClusterView {
  const nodes = env.ids.map((id) => nodeView(env, id));
  const messages = env.inFlight().map(({ id, message: m }) => ({
    id,
    from: m.from,
    to: m.to,
    type: m.type,
    term: m.term,
    text: formatMessage(m),
  }));
  const lastIndex = Math.max(0, ...nodes.map((n) => n.log.at(-1)?.index ?? n.snapshotIndex));
  return { nodes, messages, lastIndex };
}

function nodeView(env: InteractionEnv, id: number): NodeView {
  const disk = env.disk(id);
  const log = disk.entries.map((e) => ({
    index: e.index,
    term: e.term,
    type: e.type,
    text: formatEntry(e),
  }));
  const common = {
    id,
    isolated: env.isolated.has(id),
    snapshotIndex: disk.snapshot?.meta.index ?? 0,
    log,
  };
  if (env.crashed.has(id)) {
    const hs = disk.hardState;
    return {
      ...common,
      role: "Crashed",
      term: hs.term,
      votedFor: hs.votedFor,
      leaderId: 0,
      commitIndex: hs.commitIndex,
      timer: undefined,
      learner: false,
    };
  }
  const s = env.status(id);
  return {
    ...common,
    role: s.role,
    term: s.term,
    votedFor: s.votedFor,
    leaderId: s.leaderId,
    commitIndex: s.commitIndex,
    timer: env.electionTimer(id),
    learner: s.membership.learners.includes(id),
  };
}
