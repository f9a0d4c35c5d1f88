/**
 * The interaction environment behind the golden scripts and the playground: a few RaftNodes, a
 * mailbox per node, a "disk" per node holding exactly what each Ready asked to persist, and
 * commands that drive them step by step while printing a trace.
 *
 * It handles each Ready by hand rather than through the runtime (`runtime/`): a golden script
 * tests the core's protocol, message by message, and has to show and control each step of the
 * Ready contract (persist, deliver, apply) separately, which the runtime does in one round. The
 * runtime itself is exercised by the deterministic simulation, which runs it unchanged.
 *
 * @module
 */
import {
  type MembershipChange,
  type Message,
  type RaftConfig,
  RaftNode,
  SeededRandom,
} from "../raft/mod.ts";
import { MutablePartitionState } from "../storage/partition_state.ts";
import { formatEntries, formatMembership, formatMessage, formatReady } from "./format.ts";

/** A parsed command: name, positional arguments and key=value options. */
export interface Command {
  readonly name: string;
  readonly args: readonly string[];
  readonly options: ReadonlyMap<string, string>;
}

const encoder = new TextEncoder();

/** Runs interaction commands against a small in-memory cluster. */
export class InteractionEnv {
  readonly #nodes = new Map<number, RaftNode>();
  readonly #configs = new Map<number, RaftConfig>();
  /** What each node persisted, kept with the storage layer's own write semantics. */
  readonly #disks = new Map<number, MutablePartitionState>();
  readonly #mailboxes = new Map<number, Message[]>();
  readonly #isolated = new Set<number>();

  /** Executes one command and returns its output lines. */
  run(cmd: Command): string[] {
    const ids = () => cmd.args.map(Number);
    switch (cmd.name) {
      case "add-nodes":
        return this.#addNodes(Number(cmd.args[0]), cmd.options);
      case "join-node":
        return this.#joinNode(ids()[0], cmd.options);
      case "change-membership":
        return this.#guard(() => {
          const type =
            ({ "add-learner": "addLearner", promote: "promote", remove: "remove" } as Record<
              string,
              MembershipChange["type"]
            >)[cmd.args[1]] ?? cmd.args[1];
          const change = { type, node: Number(cmd.args[2]) } as MembershipChange;
          const p = this.#node(ids()[0]).changeMembership(change);
          return [`proposed at ${p.index}@${p.term}`, ...this.#processReady([ids()[0]])];
        });
      case "membership":
        return [...this.#nodes.values()].map((n) => {
          const s = n.status();
          return `${s.id}: ${formatMembership(s.membership)} (config entry ${s.membershipIndex})`;
        });
      case "campaign":
        return this.#guard(() => {
          this.#node(ids()[0]).campaign();
          return this.#processReady(ids());
        });
      case "tick":
        return this.#tick(ids()[0], Number(cmd.options.get("times") ?? 1));
      case "tick-election":
        return this.#tick(ids()[0], 2 * Number(this.#configs.get(ids()[0])!.electionTick ?? 10));
      case "tick-heartbeat":
        return this.#tick(ids()[0], Number(this.#configs.get(ids()[0])!.heartbeatTick ?? 1));
      case "propose":
        return this.#guard(() => {
          const p = this.#node(ids()[0]).propose(encoder.encode(cmd.args[1]));
          return [`proposed at ${p.index}@${p.term}`];
        });
      case "read-index":
        return this.#guard(() => {
          this.#node(ids()[0]).readIndex(Number(cmd.args[1]));
          return [];
        });
      case "transfer-leader":
        return this.#guard(() => {
          this.#node(ids()[0]).transferLeadership(Number(cmd.args[1]));
          return this.#processReady([ids()[0]]);
        });
      case "process-ready":
        return this.#processReady(ids());
      case "deliver-msgs":
        return this.#deliver(ids(), cmd.options.get("drop") === "true");
      case "stabilize":
        return this.#stabilize();
      case "isolate":
        for (const id of ids()) this.#isolated.add(id);
        return [];
      case "recover":
        this.#isolated.clear();
        return [];
      case "restart":
        return this.#restart(ids()[0]);
      case "raft-state":
        return [...this.#nodes.values()].map((n) => {
          const s = n.status();
          return `${s.id}: ${s.role} term=${s.term} leader=${s.leaderId} commit=${s.commitIndex} last=${s.lastLogIndex}@${s.lastLogTerm}${
            this.#isolated.has(s.id) ? " (isolated)" : ""
          }`;
        });
      case "raft-log": {
        const disk = this.#disks.get(ids()[0])!;
        const snap = disk.snapshot
          ? `snapshot ${disk.snapshot.meta.index}@${disk.snapshot.meta.term} + `
          : "";
        return [`${ids()[0]}: ${snap}${formatEntries(disk.entries)}`];
      }
      case "compact":
        // Stands in for the state machine: the snapshot's bytes just name what they cover.
        return this.#guard(() => {
          const index = Number(cmd.args[1]);
          this.#node(ids()[0]).compact(index, encoder.encode(`state through ${index}`));
          return this.#processReady([ids()[0]]);
        });
      case "progress": {
        const s = this.#node(ids()[0]).status();
        return s.followers.map((f) =>
          `${f.id}: ${f.state} match=${f.matchIndex} next=${f.nextIndex} inflight=${f.inflight}${
            f.voter ? "" : " learner"
          }`
        );
      }
      default:
        throw new Error(`Unknown interaction command: ${cmd.name}`);
    }
  }

  #addNodes(count: number, options: ReadonlyMap<string, string>): string[] {
    const voters = Array.from({ length: count }, (_, i) => i + 1);
    const bool = (k: string, d: boolean) => options.has(k) ? options.get(k) === "true" : d;
    const num = (k: string, d: number) => options.has(k) ? Number(options.get(k)) : d;
    for (const id of voters) {
      const config: RaftConfig = {
        id,
        voters,
        random: new SeededRandom(id),
        preVote: bool("pre-vote", true),
        checkQuorum: bool("check-quorum", true),
        electionTick: num("election-tick", 10),
        heartbeatTick: num("heartbeat-tick", 1),
        maxInflightMessages: num("max-inflight", 64),
        maxEntriesPerMessage: num("max-entries", 256),
        snapshotChunkBytes: num("snapshot-chunk", 1 << 20),
      };
      this.#configs.set(id, config);
      this.#disks.set(id, new MutablePartitionState());
      this.#mailboxes.set(id, []);
      this.#nodes.set(id, new RaftNode(config));
    }
    return [`${count} nodes: [${voters.join(", ")}]`];
  }

  /**
   * Starts a new node that joins a running group: it knows the voters and starts as a learner,
   * so it never campaigns until a membership change makes it a voter.
   */
  #joinNode(id: number, options: ReadonlyMap<string, string>): string[] {
    const template = this.#configs.values().next().value!;
    const voters = (options.get("voters") ?? "").split(",").filter(Boolean).map(Number);
    const config: RaftConfig = {
      ...template,
      id,
      voters,
      learners: [id],
      random: new SeededRandom(id),
    };
    this.#configs.set(id, config);
    this.#disks.set(id, new MutablePartitionState());
    this.#mailboxes.set(id, []);
    this.#nodes.set(id, new RaftNode(config));
    return [`node ${id} joins as a learner of voters [${voters.join(", ")}]`];
  }

  #node(id: number): RaftNode {
    const node = this.#nodes.get(id);
    if (!node) throw new Error(`No node ${id}`);
    return node;
  }

  #guard(fn: () => string[]): string[] {
    try {
      return fn();
    } catch (error) {
      return [`error: ${(error as Error).name}: ${(error as Error).message}`];
    }
  }

  #tick(id: number, times: number): string[] {
    const node = this.#node(id);
    for (let i = 0; i < times; i++) node.tick();
    return this.#processReady([id]);
  }

  /** Handles each node's Ready: persist to its disk, post messages, apply, advance. */
  #processReady(ids: readonly number[]): string[] {
    const out: string[] = [];
    for (const id of ids) {
      const node = this.#node(id);
      if (!node.hasReady()) continue;
      const rd = node.ready();
      this.#disks.get(id)!.apply({
        partition: 0,
        hardState: rd.hardState,
        snapshot: rd.snapshot,
        truncateFrom: rd.truncateFrom,
        entries: rd.entries,
      });
      const reachable = rd.messages.filter((m) => this.#mailboxes.has(m.to));
      const delivered = reachable.filter((m) =>
        !this.#isolated.has(m.from) && !this.#isolated.has(m.to)
      );
      for (const m of delivered) this.#mailboxes.get(m.to)!.push(m);
      node.advance(rd);
      out.push(`> ${id} handling Ready`, ...formatReady({ ...rd, messages: delivered }));
      const dropped = reachable.length - delivered.length;
      if (dropped > 0) out.push(`  dropped ${dropped} message(s) to or from isolated nodes`);
      const missing = rd.messages.length - reachable.length;
      if (missing > 0) out.push(`  dropped ${missing} message(s) to nodes that do not exist`);
    }
    return out;
  }

  #deliver(ids: readonly number[], drop: boolean): string[] {
    const out: string[] = [];
    for (const id of ids) {
      const msgs = this.#mailboxes.get(id)!.splice(0);
      if (msgs.length === 0) continue;
      out.push(`> ${id} ${drop ? "dropping" : "receiving"} messages`);
      for (const m of msgs) {
        out.push(`  ${formatMessage(m)}`);
        if (!drop) this.#node(id).step(m);
      }
    }
    return out;
  }

  #stabilize(): string[] {
    const out: string[] = [];
    const ids = [...this.#nodes.keys()];
    for (let round = 0; round < 100; round++) {
      const before = out.length;
      out.push(...this.#processReady(ids));
      out.push(...this.#deliver(ids, false));
      if (out.length === before) return out;
    }
    throw new Error("stabilize did not converge in 100 rounds");
  }

  #restart(id: number): string[] {
    const disk = this.#disks.get(id)!;
    this.#mailboxes.set(id, []);
    this.#nodes.set(id, new RaftNode(this.#configs.get(id)!, disk.freeze()));
    const hs = disk.hardState;
    const snap = disk.snapshot
      ? ` snapshot=${disk.snapshot.meta.index}@${disk.snapshot.meta.term}`
      : "";
    return [
      `restarted ${id}: term=${hs.term} vote=${hs.votedFor} commit=${hs.commitIndex}${snap} entries=${disk.entries.length}`,
    ];
  }
}
