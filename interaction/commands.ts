/**
 * The commands of the golden scripts, each mapped onto the {@linkcode InteractionEnv}'s
 * primitives:
 *
 * | Command                                  | What it does                                            |
 * | ---------------------------------------- | ------------------------------------------------------- |
 * | `add-nodes 3 pre-vote=false ...`         | adds voters 1..3 (options below)                        |
 * | `join-node 4 voters=1,2,3`               | starts node 4 as a learner that knows those voters      |
 * | `change-membership 1 add-learner 4`      | node 1 proposes `add-learner`, `promote` or `remove`    |
 * | `campaign 1`                             | node 1 starts an election, then handles its Ready       |
 * | `tick 1 times=3`, `tick-election 1`, ... | advances node 1's clock, then handles its Ready         |
 * | `propose 1 x=1`, `read-index 1 7`        | a write or a linearizable read at node 1                |
 * | `transfer-leader 1 2`, `compact 1 5`     | leadership transfer; a snapshot through index 5         |
 * | `process-ready 1 2`                      | handles nodes 1 and 2's Readies                         |
 * | `deliver-msgs 2 drop=true`               | delivers (or drops) node 2's mailbox                    |
 * | `stabilize`                              | Readies and deliveries until nothing moves              |
 * | `isolate 1 2`, `recover`                 | cuts nodes off the network; heals it                    |
 * | `crash 1`, `restart 1`                   | loses node 1's memory; starts it from its disk          |
 * | `raft-state`, `raft-log 1`, `progress 1` | prints state                                            |
 * | `membership`                             | prints each node's membership                           |
 *
 * `add-nodes` options: `pre-vote`, `check-quorum`, `election-tick`, `heartbeat-tick`,
 * `max-inflight`, `max-entries`, `snapshot-chunk`, `quiesce`. `wake 1` ends node 1's
 * quiescence, as the runtime does when a leader's node stops answering.
 *
 * @module
 */
import type { MembershipChange } from "../raft/mod.ts";
import type { InteractionEnv, NodeSettings } from "./env.ts";
import { formatEntries, formatMembership } from "./format.ts";
import type { Command } from "./script.ts";

const encoder = new TextEncoder();

/** `change-membership` spells the changes the way scripts read. */
const CHANGES: Record<string, MembershipChange["type"]> = {
  "add-learner": "addLearner",
  promote: "promote",
  remove: "remove",
};

/**
 * Executes one command against an environment.
 *
 * @returns Its output lines (none for a silent command; an `error:` line when the core refused).
 */
export function runCommand(env: InteractionEnv, cmd: Command): string[] {
  const ids = cmd.args.map(Number);
  const [id] = ids;
  switch (cmd.name) {
    case "add-nodes":
      return env.addNodes(ids[0], settings(cmd.options));
    case "join-node": {
      const voters = (cmd.options.get("voters") ?? "").split(",").filter(Boolean).map(Number);
      return env.joinNode(id, voters);
    }
    case "change-membership":
      return guard(() => {
        const change = { type: CHANGES[cmd.args[1]] ?? cmd.args[1], node: ids[2] };
        const p = env.node(id).changeMembership(change as MembershipChange);
        return [`proposed at ${p.index}@${p.term}`, ...env.processReady([id])];
      });
    case "membership":
      return env.ids.map((n) => {
        if (env.crashed.has(n)) return `${n}: crashed`;
        const s = env.status(n);
        return `${s.id}: ${formatMembership(s.membership)} (config entry ${s.membershipIndex})`;
      });
    case "campaign":
      return guard(() => {
        env.node(id).campaign();
        return env.processReady(ids);
      });
    case "tick":
      return tickThenReady(env, id, Number(cmd.options.get("times") ?? 1));
    case "tick-election":
      return tickThenReady(env, id, 2 * (env.config(id).electionTick ?? 10));
    case "tick-heartbeat":
      return tickThenReady(env, id, env.config(id).heartbeatTick ?? 1);
    case "propose":
      return guard(() => {
        const p = env.node(id).propose(encoder.encode(cmd.args[1]));
        return [`proposed at ${p.index}@${p.term}`];
      });
    case "read-index":
      return guard(() => {
        env.node(id).readIndex(Number(cmd.args[1]));
        return [];
      });
    case "transfer-leader":
      return guard(() => {
        env.node(id).transferLeadership(Number(cmd.args[1]));
        return env.processReady([id]);
      });
    case "process-ready":
      return env.processReady(ids);
    case "deliver-msgs":
      return env.deliver(ids, cmd.options.get("drop") === "true");
    case "stabilize":
      return env.stabilize();
    case "isolate":
      env.isolate(ids);
      return [];
    case "recover":
      env.recover();
      return [];
    case "crash":
      return env.crash(id);
    case "wake":
      env.node(id).wake();
      return [];
    case "restart":
      return env.restart(id);
    case "raft-state":
      return env.ids.map((n) => stateLine(env, n));
    case "raft-log": {
      const disk = env.disk(id);
      const snap = disk.snapshot
        ? `snapshot ${disk.snapshot.meta.index}@${disk.snapshot.meta.term} + `
        : "";
      return [`${id}: ${snap}${formatEntries(disk.entries)}`];
    }
    case "compact":
      // Stands in for the state machine: the snapshot's bytes just name what they cover.
      return guard(() => {
        const index = Number(cmd.args[1]);
        env.node(id).compact(index, encoder.encode(`state through ${index}`));
        return env.processReady([id]);
      });
    case "progress":
      return env.status(id).followers.map((f) =>
        `${f.id}: ${f.state} match=${f.matchIndex} next=${f.nextIndex} inflight=${f.inflight}${
          f.voter ? "" : " learner"
        }`
      );
    default:
      throw new Error(`Unknown interaction command: ${cmd.name}`);
  }
}

function settings(options: ReadonlyMap<string, string>): NodeSettings {
  const out: Record<string, number | boolean> = {};
  const names: Record<string, keyof NodeSettings> = {
    "pre-vote": "preVote",
    "check-quorum": "checkQuorum",
    "election-tick": "electionTick",
    "heartbeat-tick": "heartbeatTick",
    "max-inflight": "maxInflightMessages",
    "max-entries": "maxEntriesPerMessage",
    "snapshot-chunk": "snapshotChunkBytes",
    quiesce: "quiesce",
  };
  for (const [key, value] of options) {
    const name = names[key];
    if (!name) throw new Error(`Unknown add-nodes option: ${key}`);
    out[name] = value === "true" || value === "false" ? value === "true" : Number(value);
  }
  return out as NodeSettings;
}

function tickThenReady(env: InteractionEnv, id: number, times: number): string[] {
  env.tick(id, times);
  return env.processReady([id]);
}

function stateLine(env: InteractionEnv, id: number): string {
  const flag = env.isolated.has(id) ? " (isolated)" : "";
  if (env.crashed.has(id)) {
    const hs = env.disk(id).hardState;
    return `${id}: crashed term=${hs.term} vote=${hs.votedFor} commit=${hs.commitIndex}${flag}`;
  }
  const s = env.status(id);
  return `${s.id}: ${s.role} term=${s.term} leader=${s.leaderId} commit=${s.commitIndex} last=${s.lastLogIndex}@${s.lastLogTerm}${
    s.quiescent ? " quiet" : ""
  }${flag}`;
}

/** Turns the core's refusal (not leader, dropped proposal, ...) into an output line. */
function guard(fn: () => string[]): string[] {
  try {
    return fn();
  } catch (error) {
    return [`error: ${(error as Error).name}: ${(error as Error).message}`];
  }
}
