/**
 * The interaction environment behind the golden scripts and the playground: a few real
 * RaftNodes, a mailbox per node, a "disk" per node holding exactly what each Ready asked to
 * persist, and the primitive steps that drive them one at a time while printing a trace.
 *
 * It handles each Ready by hand rather than through the runtime (`runtime/`): a golden script
 * tests the core's protocol, message by message, and has to show and control each step of the
 * Ready contract (persist, deliver, apply) separately, which the runtime does in one round. The
 * runtime itself is exercised by the deterministic simulation, which runs it unchanged.
 *
 * The network is a mailbox per node. A message leaves when its sender's Ready is handled and
 * waits in the recipient's mailbox until it is delivered or dropped. Messages to or from an
 * isolated node, and messages to a crashed node, are lost when sent.
 *
 * @example Elect a leader in a three-node group
 * ```ts
 * import { InteractionEnv } from "./env.ts";
 * import { parseCommand } from "./script.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const env = new InteractionEnv();
 * env.addNodes(3);
 * env.run(parseCommand("campaign 1"));
 * env.run(parseCommand("stabilize"));
 * assertEquals(env.status(1).role, "Leader");
 * ```
 *
 * @module
 */
import {
  type ElectionTimer,
  type Entry,
  type HardState,
  type Message,
  type RaftConfig,
  RaftNode,
  type RaftStatus,
  SeededRandom,
  type Snapshot,
} from "../raft/mod.ts";
import { MutablePartitionState } from "../storage/partition_state.ts";
import { runCommand } from "./commands.ts";
import { formatMessage, formatReady } from "./format.ts";
import type { Command } from "./script.ts";

/** A message on the wire: posted to its recipient's mailbox, not yet delivered. */
export interface InFlight {
  /** A number unique in this environment, in the order messages were sent. */
  readonly id: number;
  /** The message. */
  readonly message: Message;
}

/** What a node has on its disk: exactly what its Readies asked to persist. */
export interface Disk {
  /** The persisted term, vote and commit index. */
  readonly hardState: HardState;
  /** The persisted snapshot, if any. */
  readonly snapshot: Snapshot | undefined;
  /** The persisted entries after the snapshot. */
  readonly entries: readonly Entry[];
}

/** Options of a new {@linkcode InteractionEnv}. */
export interface InteractionOptions {
  /**
   * Seeds the nodes' election timeouts: node `id` draws from `SeededRandom(seed * 1000 + id)`.
   * Default 0, the golden scripts' setting.
   */
  readonly seed?: number;
}

/** Node settings `add-nodes` accepts as `key=value` options. */
export type NodeSettings = Omit<RaftConfig, "id" | "voters" | "random">;

/** A small in-memory cluster of real Raft nodes, driven one step at a time. */
export class InteractionEnv {
  readonly #seed: number;
  readonly #nodes = new Map<number, RaftNode>();
  readonly #configs = new Map<number, RaftConfig>();
  /** What each node persisted, kept with the storage layer's own write semantics. */
  readonly #disks = new Map<number, MutablePartitionState>();
  readonly #mailboxes = new Map<number, InFlight[]>();
  readonly #isolated = new Set<number>();
  /** Nodes that crashed: their memory is gone, their disk stays until `restart`. */
  readonly #crashed = new Set<number>();
  #sent = 0;

  /**
   * Creates an empty environment; {@linkcode addNodes} fills it.
   *
   * @param options The seed of the election timeouts.
   */
  constructor(options: InteractionOptions = {}) {
    this.#seed = options.seed ?? 0;
  }

  /**
   * Executes one script command (see `commands.ts`).
   *
   * @returns Its output lines.
   */
  run(cmd: Command): string[] {
    return runCommand(this, cmd);
  }

  /** The nodes' ids, in order. */
  get ids(): number[] {
    return [...this.#nodes.keys()];
  }

  /** Nodes cut off from the network by {@linkcode isolate}. */
  get isolated(): ReadonlySet<number> {
    return this.#isolated;
  }

  /** Nodes that crashed and were not restarted yet. */
  get crashed(): ReadonlySet<number> {
    return this.#crashed;
  }

  /** Node `id`'s settings, as given to `add-nodes`. */
  config(id: number): RaftConfig {
    const config = this.#configs.get(id);
    if (!config) throw new Error(`No node ${id}`);
    return config;
  }

  /** Every message on the wire, oldest first. */
  inFlight(): InFlight[] {
    return [...this.#mailboxes.values()].flat().sort((a, b) => a.id - b.id);
  }

  /** What node `id` persisted. */
  disk(id: number): Disk {
    const disk = this.#disks.get(id);
    if (!disk) throw new Error(`No node ${id}`);
    return disk;
  }

  /** Node `id`'s running core; throws for a crashed node. */
  node(id: number): RaftNode {
    const node = this.#nodes.get(id);
    if (!node) throw new Error(`No node ${id}`);
    if (this.#crashed.has(id)) throw new Error(`Node ${id} is crashed`);
    return node;
  }

  /** Node `id`'s state as its core reports it; throws for a crashed node. */
  status(id: number): RaftStatus {
    return this.node(id).status();
  }

  /** Node `id`'s election timer; throws for a crashed node. */
  electionTimer(id: number): ElectionTimer {
    return this.node(id).electionTimer();
  }

  /** Whether node `id` is up and has a Ready to handle. */
  hasReady(id: number): boolean {
    return !this.#crashed.has(id) && this.node(id).hasReady();
  }

  /**
   * Adds nodes `1..count`, one group of voters, each with an empty disk.
   *
   * @returns The output line.
   */
  addNodes(count: number, settings: NodeSettings = {}): string[] {
    const voters = Array.from({ length: count }, (_, i) => i + 1);
    for (const id of voters) {
      const config = { ...settings, id, voters, random: new SeededRandom(this.#seed * 1000 + id) };
      this.#configs.set(id, config);
      this.#disks.set(id, new MutablePartitionState());
      this.#mailboxes.set(id, []);
      this.#nodes.set(id, new RaftNode(config));
    }
    return [`${count} nodes: [${voters.join(", ")}]`];
  }

  /**
   * Starts a new node that joins a running group: it knows the voters and starts as a learner,
   * so it never campaigns until a membership change makes it a voter. Its settings are those of
   * the first node.
   *
   * @returns The output line.
   */
  joinNode(id: number, voters: readonly number[]): string[] {
    const template = this.#configs.values().next().value!;
    const random = new SeededRandom(this.#seed * 1000 + id);
    const config: RaftConfig = { ...template, id, voters, learners: [id], random };
    this.#configs.set(id, config);
    this.#disks.set(id, new MutablePartitionState());
    this.#mailboxes.set(id, []);
    this.#nodes.set(id, new RaftNode(config));
    return [`node ${id} joins as a learner of voters [${voters.join(", ")}]`];
  }

  /** Advances node `id`'s logical clock by `times` ticks, leaving its Ready for later. */
  tick(id: number, times = 1): void {
    const node = this.node(id);
    for (let i = 0; i < times; i++) node.tick();
  }

  /**
   * Handles each node's Ready: persist to its disk, post messages, apply, advance. Crashed
   * nodes and nodes with nothing to do are skipped.
   *
   * @returns The trace.
   */
  processReady(ids: readonly number[]): string[] {
    const out: string[] = [];
    for (const id of ids) {
      if (!this.hasReady(id)) continue;
      const node = this.node(id);
      const rd = node.ready();
      this.#disks.get(id)!.apply({
        partition: 0,
        hardState: rd.hardState,
        snapshot: rd.snapshot,
        truncateFrom: rd.truncateFrom,
        entries: rd.entries,
      });
      const reachable = rd.messages.filter((m) => this.#mailboxes.has(m.to));
      const cut = (m: Message) => this.#isolated.has(m.from) || this.#isolated.has(m.to);
      const posted = reachable.filter((m) => !cut(m) && !this.#crashed.has(m.to));
      for (const message of posted) {
        this.#mailboxes.get(message.to)!.push({ id: ++this.#sent, message });
      }
      node.advance(rd);
      out.push(`> ${id} handling Ready`, ...formatReady({ ...rd, messages: posted }));
      const isolated = reachable.filter(cut).length;
      if (isolated > 0) out.push(`  dropped ${isolated} message(s) to or from isolated nodes`);
      const down = reachable.length - posted.length - isolated;
      if (down > 0) out.push(`  dropped ${down} message(s) to crashed nodes`);
      const missing = rd.messages.length - reachable.length;
      if (missing > 0) out.push(`  dropped ${missing} message(s) to nodes that do not exist`);
    }
    return out;
  }

  /**
   * Delivers (or drops) every message waiting in each node's mailbox.
   *
   * @returns The trace.
   */
  deliver(ids: readonly number[], drop = false): string[] {
    const out: string[] = [];
    for (const id of ids) {
      const mailbox = this.#mailboxes.get(id);
      if (!mailbox || mailbox.length === 0) continue;
      out.push(`> ${id} ${drop ? "dropping" : "receiving"} messages`);
      for (const { message } of mailbox.splice(0)) {
        out.push(`  ${formatMessage(message)}`);
        if (!drop) this.node(id).step(message);
      }
    }
    return out;
  }

  /**
   * Delivers (or drops) one message on the wire, chosen by its {@linkcode InFlight} id.
   *
   * @returns The trace, in the same shape as {@linkcode deliver}'s.
   */
  deliverMessage(messageId: number, drop = false): string[] {
    for (const [to, mailbox] of this.#mailboxes) {
      const at = mailbox.findIndex((m) => m.id === messageId);
      if (at < 0) continue;
      const [{ message }] = mailbox.splice(at, 1);
      if (!drop) this.node(to).step(message);
      return [`> ${to} ${drop ? "dropping" : "receiving"} messages`, `  ${formatMessage(message)}`];
    }
    throw new Error(`No message ${messageId} on the wire`);
  }

  /**
   * Handles Readies and delivers messages until nothing moves.
   *
   * @returns The trace.
   */
  stabilize(): string[] {
    const out: string[] = [];
    for (let round = 0; round < 100; round++) {
      const before = out.length;
      out.push(...this.processReady(this.ids));
      out.push(...this.deliver(this.ids));
      if (out.length === before) return out;
    }
    throw new Error("stabilize did not converge in 100 rounds");
  }

  /** Cuts nodes off: what they send and what is sent to them from now on is lost. */
  isolate(ids: readonly number[]): void {
    for (const id of ids) this.#isolated.add(id);
  }

  /** Heals every isolation. */
  recover(): void {
    this.#isolated.clear();
  }

  /**
   * Crashes node `id`: its memory and mailbox are lost, its disk stays.
   *
   * @returns The output line.
   */
  crash(id: number): string[] {
    this.node(id);
    this.#crashed.add(id);
    this.#mailboxes.set(id, []);
    return [`crashed ${id}`];
  }

  /**
   * Starts node `id` again from what its disk holds (crashing it first if it is up).
   *
   * @returns The output line.
   */
  restart(id: number): string[] {
    const disk = this.#disks.get(id);
    if (!disk) throw new Error(`No node ${id}`);
    this.#crashed.delete(id);
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
