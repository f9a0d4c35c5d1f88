/**
 * Compact, stable text renderings of Raft messages, entries and Readies for golden traces.
 *
 * @module
 */
import {
  decodeMembership,
  type Entry,
  type Membership,
  type Message,
  type RaftEvent,
  type Ready,
} from "../raft/mod.ts";

const decoder = new TextDecoder();

/** `3@1 noop`, `4@1 "x=1"` or `5@1 config voters=[1, 2] learners=[3]`: index@term and payload. */
export function formatEntry(e: Entry): string {
  switch (e.type) {
    case "noop":
      return `${e.index}@${e.term} noop`;
    case "config":
      return `${e.index}@${e.term} config ${formatMembership(decodeMembership(e.data))}`;
    default:
      return `${e.index}@${e.term} ${JSON.stringify(decoder.decode(e.data))}`;
  }
}

/** `voters=[1, 2, 3] learners=[4]`. */
export function formatMembership(m: Membership): string {
  return `voters=[${m.voters.join(", ")}] learners=[${m.learners.join(", ")}]`;
}

/** Entries as a bracketed list. */
export function formatEntries(entries: readonly Entry[]): string {
  return `[${entries.map(formatEntry).join(", ")}]`;
}

/** One message on one line. */
export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case "Vote":
      return `${head}${m.preVote ? " pre" : ""}${
        m.leadershipTransfer ? " transfer" : ""
      } last=${m.lastLogIndex}@${m.lastLogTerm}`;
    case "VoteResponse":
      return `${head}${m.preVote ? " pre" : ""} ${m.granted ? "granted" : "rejected"}`;
    case "AppendEntries":
      return `${head} prev=${m.prevLogIndex}@${m.prevLogTerm} commit=${m.leaderCommit} entries=${
        formatEntries(m.entries)
      }`;
    case "AppendEntriesResponse":
      return m.success
        ? `${head} ok match=${m.matchIndex}`
        : `${head} reject index=${m.rejectedIndex} hint=${m.hintIndex}@${m.hintTerm}`;
    case "Heartbeat":
      return `${head} commit=${m.leaderCommit} round=${m.readRound}${m.quiesce ? " quiesce" : ""}${
        m.commitOnly ? " commit-only" : ""
      }`;
    case "HeartbeatResponse":
      return `${head} round=${m.readRound}`;
    case "ReadIndex":
      return `${head} ctx=${m.context}`;
    case "ReadIndexResponse":
      return `${head} ctx=${m.context} index=${m.index}`;
    case "InstallSnapshot":
      return `${head} snapshot=${m.snapshotIndex}@${m.snapshotTerm} offset=${m.offset} bytes=${m.data.length}${
        m.done ? " done" : ""
      }`;
    case "InstallSnapshotResponse":
      return `${head} snapshot=${m.snapshotIndex} ${
        m.installed ? "installed" : `next=${m.nextOffset}`
      }`;
    case "TimeoutNow":
      return head;
  }
}

/** One event on one line. */
export function formatEvent(e: RaftEvent): string {
  switch (e.type) {
    case "RoleChanged":
      return `${e.from} -> ${e.to} at term ${e.term}`;
    case "LeaderChanged":
      return `leader is ${e.leaderId || "unknown"} at term ${e.term}`;
    case "ElectionStarted":
      return `${e.preVote ? "PreVote" : "election"} started for term ${e.term}`;
    case "QuorumLost":
      return `quorum lost at term ${e.term}`;
    case "AppendRejected":
      return `follower ${e.follower} rejected index ${e.rejectedIndex}`;
    case "ReadIndexConfirmed":
      return `read round ${e.round} confirmed, ${e.reads} read(s) released`;
    case "LeadershipTransfer":
      return `leadership transfer to ${e.to}: ${e.outcome}`;
    case "SnapshotInstalled":
      return `installed snapshot through ${e.index} (${e.bytes} bytes)`;
    case "SnapshotSent":
      return `follower ${e.follower} has the snapshot through ${e.index}`;
    case "MembershipChanged":
      return `membership is ${formatMembership(e)} (config entry ${e.index})`;
    case "RemovedFromGroup":
      return `removed from the group: steps down at term ${e.term}`;
  }
}

/** A Ready as indented lines, in contract order. */
export function formatReady(rd: Ready): string[] {
  const out: string[] = [];
  for (const e of rd.events) out.push(`  event: ${formatEvent(e)}`);
  if (rd.hardState) {
    const hs = rd.hardState;
    out.push(`  persist hard state: term=${hs.term} vote=${hs.votedFor} commit=${hs.commitIndex}`);
  }
  if (rd.snapshot) {
    out.push(
      `  persist snapshot: ${rd.snapshot.meta.index}@${rd.snapshot.meta.term} ${
        JSON.stringify(decoder.decode(rd.snapshot.data))
      }`,
    );
  }
  if (rd.truncateFrom !== undefined) out.push(`  drop entries from ${rd.truncateFrom}`);
  if (rd.entries.length > 0) out.push(`  persist entries: ${formatEntries(rd.entries)}`);
  for (const m of rd.messages) out.push(`  send: ${formatMessage(m)}`);
  if (rd.committedEntries.length > 0) out.push(`  apply: ${formatEntries(rd.committedEntries)}`);
  for (const r of rd.readStates) out.push(`  read ready: ctx=${r.context} index=${r.index}`);
  for (const c of rd.droppedReads) out.push(`  read dropped: ctx=${c}`);
  return out;
}
