/**
 * The playground's free mode: a cluster of real Raft nodes in an {@linkcode InteractionEnv},
 * advanced one event at a time by a deterministic scheduler, and the learner's interventions
 * (drop or delay a message, crash or restart a node, isolate it, propose a command).
 *
 * A step does the first of these that applies:
 *
 * 1. a running node has a Ready: handle it (persist, send, apply, advance);
 * 2. a message is on the wire and not held back: deliver the oldest one;
 * 3. otherwise the clock advances: every running node ticks once.
 *
 * So the network delivers everything within a tick unless told otherwise, and time only moves
 * when the cluster is quiet. Everything is decided by the random seed (it seeds each node's election
 * timeouts) and the list of actions taken, which the playground records: replaying them on a
 * fresh playground with the same seed reproduces the same run, step for step.
 *
 * @example Five nodes elect a leader by themselves
 * ```ts
 * import { Playground } from "./playground.ts";
 * import { assert } from "@std/assert";
 *
 * const play = new Playground({ seed: 1 });
 * for (let i = 0; i < 500; i++) play.step();
 * assert(play.env.ids.some((id) => play.env.status(id).role === "Leader"));
 * ```
 *
 * @module
 */
import { InteractionEnv, parseCommand, runCommand } from "../interaction/mod.ts";

/** Settings of a new {@linkcode Playground}. */
export interface PlaygroundOptions {
  /** Seeds the election timeouts. Default 1. */
  readonly seed?: number;
  /** How many nodes. Default 5. */
  readonly nodes?: number;
}

/** Something the learner (or the scheduler) does to the cluster. */
export type Action =
  | { readonly kind: "step" }
  | { readonly kind: "tick" }
  | { readonly kind: "deliver" | "drop" | "delay"; readonly message: number }
  | { readonly kind: "crash" | "restart" | "isolate"; readonly node: number }
  | { readonly kind: "heal" }
  | { readonly kind: "propose"; readonly node: number; readonly command: string };

/** A message on the wire, with the tick it is held back until (if the learner delayed it). */
export interface WireMessage {
  /** Its id on the wire. */
  readonly id: number;
  /** The tick before which it is not delivered, when delayed. */
  readonly heldUntil: number | undefined;
}

/** Election timeouts in `[10, 20)` ticks; a heartbeat every 3 ticks. */
const NODE_OPTIONS = "election-tick=10 heartbeat-tick=3";

/** A cluster the learner drives step by step. */
export class Playground {
  /** The seed it was created with. */
  readonly seed: number;
  /** How many nodes it has. */
  readonly size: number;
  /** The cluster. */
  readonly env: InteractionEnv;
  /** Every action taken so far, in order: with the seed, the whole run. */
  readonly actions: Action[] = [];
  #clock = 0;
  readonly #heldUntil = new Map<number, number>();

  /**
   * Creates a playground with all nodes up, followers at term 0.
   *
   * @param options Seed and size.
   */
  constructor(options: PlaygroundOptions = {}) {
    this.seed = options.seed ?? 1;
    this.size = options.nodes ?? 5;
    this.env = new InteractionEnv({ seed: this.seed });
    this.#run(`add-nodes ${this.size} ${NODE_OPTIONS}`);
  }

  /**
   * Replays a recorded run on a fresh playground.
   *
   * @returns A playground in the state the actions led to.
   */
  static replay(options: PlaygroundOptions, actions: readonly Action[]): Playground {
    const play = new Playground(options);
    for (const action of actions) play.apply(action);
    return play;
  }

  /** Ticks since the start. */
  get clock(): number {
    return this.#clock;
  }

  /** The messages on the wire, oldest first. */
  wire(): WireMessage[] {
    return this.env.inFlight().map(({ id }) => ({ id, heldUntil: this.#heldUntil.get(id) }));
  }

  /**
   * Does the next thing the scheduler picks (see the module doc).
   *
   * @returns The trace, in the golden scripts' format.
   */
  step(): string[] {
    return this.apply({ kind: "step" });
  }

  /**
   * Performs an action and records it.
   *
   * @returns The trace, in the golden scripts' format.
   */
  apply(action: Action): string[] {
    const out = this.#perform(action);
    this.actions.push(action);
    return out;
  }

  #perform(action: Action): string[] {
    const env = this.env;
    switch (action.kind) {
      case "step":
        return this.#next();
      case "tick":
        return this.#tick();
      case "deliver":
      case "drop":
        this.#heldUntil.delete(action.message);
        return env.deliverMessage(action.message, action.kind === "drop");
      case "delay": {
        if (!env.inFlight().some((m) => m.id === action.message)) {
          throw new Error(`No message ${action.message} on the wire`);
        }
        const until = (this.#heldUntil.get(action.message) ?? this.#clock) + 1;
        this.#heldUntil.set(action.message, until);
        return [`message ${action.message} held until tick ${until}`];
      }
      case "crash":
      case "restart":
        return this.#run(`${action.kind} ${action.node}`);
      case "isolate":
        return [...this.#run(`isolate ${action.node}`), `isolated ${action.node}`];
      case "heal":
        return [...this.#run("recover"), "healed the network"];
      case "propose":
        return runCommand(env, {
          name: "propose",
          args: [String(action.node), action.command],
          options: new Map(),
        });
    }
  }

  #next(): string[] {
    const env = this.env;
    const ready = env.ids.find((id) => env.hasReady(id));
    if (ready !== undefined) return env.processReady([ready]);
    const due = env.inFlight().find((m) => (this.#heldUntil.get(m.id) ?? 0) <= this.#clock);
    if (due) {
      this.#heldUntil.delete(due.id);
      return env.deliverMessage(due.id);
    }
    return this.#tick();
  }

  #tick(): string[] {
    this.#clock++;
    const up = this.env.ids.filter((id) => !this.env.crashed.has(id));
    for (const id of up) this.env.tick(id);
    return [`> tick ${this.#clock}: nodes ${up.join(", ")} tick`];
  }

  #run(line: string): string[] {
    return runCommand(this.env, parseCommand(line));
  }
}
