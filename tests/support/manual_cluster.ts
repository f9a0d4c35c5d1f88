/**
 * A cluster of real {@linkcode MultiRaftHost}s in one process, over the in-memory network,
 * with time driven by hand: no test that uses it waits on the wall clock.
 *
 * @module
 */
import { MemoryNetwork } from "../../partition/transport.ts";
import { ManualClock } from "../../runtime/clock.ts";
import { MultiRaftHost } from "../../runtime/multi_raft_host.ts";
import type { HostOptions } from "../../runtime/options.ts";
import { MemoryStorage } from "../../storage/memory_storage.ts";

/** A hand-driven cluster. */
export class ManualCluster {
  readonly net = new MemoryNetwork();
  readonly clock = new ManualClock();
  readonly hosts = new Map<number, MultiRaftHost>();
  /** Each node's storage, kept across {@linkcode restart}. */
  readonly storages = new Map<number, MemoryStorage>();
  #options: Partial<HostOptions> & { members: number[]; partitions: number } = {
    members: [],
    partitions: 1,
  };
  readonly tickMs = 10;

  /** Starts `size` hosts with `partitions` partitions. */
  static async start(
    size: number,
    partitions: number,
    options: Partial<HostOptions> = {},
  ): Promise<ManualCluster> {
    const c = new ManualCluster();
    const members = Array.from({ length: size }, (_, i) => i + 1);
    c.#options = { ...options, members, partitions };
    for (const id of members) await c.#start(id);
    await c.until(
      "every partition to have a leader",
      () => [...c.hosts.values()].every((h) => h.partitions.every((p) => h.leaderOf(p) !== 0)),
    );
    return c;
  }

  /** One tick of logical time: every host ticks, then every round and message settles. */
  async #start(id: number): Promise<MultiRaftHost> {
    let storage = this.storages.get(id);
    if (!storage) this.storages.set(id, storage = new MemoryStorage());
    const host = await MultiRaftHost.start({
      nodeId: id,
      storage,
      transport: this.net.transport(id),
      tickMs: this.tickMs,
      requestTimeoutMs: 2000,
      clock: this.clock,
      drive: "manual",
      ...this.#options,
    });
    this.net.register(id, (from, msgs, leading) => host.receive(from, msgs, leading));
    this.hosts.set(id, host);
    return host;
  }

  /**
   * Stops a node and starts it again from what its storage holds, as after a crash.
   *
   * @param id The node.
   * @returns The new host.
   */
  async restart(id: number): Promise<MultiRaftHost> {
    await this.hosts.get(id)?.stop();
    return await this.#start(id);
  }

  async step(): Promise<void> {
    this.clock.advance(this.tickMs);
    for (const h of this.hosts.values()) h.tick();
    await this.settle();
  }

  /** Runs rounds and delivers messages until nothing moves (a few passes). */
  async settle(): Promise<void> {
    for (let i = 0; i < 6; i++) {
      await Promise.all([...this.hosts.values()].map((h) => h.flush()));
      await new Promise<void>((r) => queueMicrotask(r));
    }
  }

  /** Steps until `check` holds, failing after `maxTicks` ticks of logical time. */
  async until(what: string, check: () => boolean, maxTicks = 500): Promise<void> {
    for (let t = 0; t < maxTicks; t++) {
      if (check()) return;
      await this.step();
    }
    if (!check()) throw new Error(`${what} did not happen within ${maxTicks} ticks`);
  }

  /** Steps until a promise settles, then returns (or throws) its outcome. */
  async run<T>(promise: Promise<T>, maxTicks = 500): Promise<T> {
    let done = false;
    const watched = promise.finally(() => (done = true));
    watched.catch(() => {});
    await this.settle();
    await this.until("the request to finish", () => done, maxTicks);
    return await watched;
  }

  /** The host that leads a partition, as node 1 sees it. */
  leaderOf(partition: number): MultiRaftHost {
    for (const h of this.hosts.values()) {
      if (h.isReplica(partition) && h.leaderOf(partition) === h.nodeId) return h;
    }
    throw new Error(`Partition ${partition} has no leader`);
  }

  /** Stops every host. */
  async stop(): Promise<void> {
    await Promise.all([...this.hosts.values()].map((h) => h.stop()));
  }
}
