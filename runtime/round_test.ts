/**
 * The Ready contract's first rule, at the runtime: what a round sends depends on what it
 * persists, so nothing leaves before the round's storage write is durable (Raft figure 2:
 * persistent state is updated on stable storage before responding to RPCs).
 */
import { assertEquals } from "@std/assert";
import type { PartitionMessage } from "../partition/transport.ts";
import { RaftNode } from "../raft/node.ts";
import { SeededRandom } from "../raft/rng.ts";
import type {
  PartitionState,
  PartitionWrite,
  RaftStorage,
  StorageWriteOptions,
} from "../storage/raft_storage.ts";
import { afterChains } from "../rpc/after_chains.ts";
import { Replica } from "./replica.ts";
import { runRound } from "./round.ts";

/** Storage whose writes complete only when the test says so. */
class GatedStorage implements RaftStorage {
  readonly written: (readonly PartitionWrite[])[] = [];
  #open: (() => void)[] = [];

  load(): Promise<PartitionState> {
    return Promise.reject(new Error("not used"));
  }

  write(batch: readonly PartitionWrite[]): Promise<void> {
    this.written.push(batch);
    return new Promise((resolve) => this.#open.push(resolve));
  }

  /** Makes every pending write durable. */
  complete(): void {
    for (const resolve of this.#open.splice(0)) resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("runRound: a vote is answered only once the vote is durable (persist, then send)", async () => {
  const node = new RaftNode({
    id: 2,
    voters: [1, 2, 3],
    random: new SeededRandom(2),
    preVote: false,
  });
  const replica = new Replica(0, node);
  node.step({
    type: "Vote",
    from: 1,
    to: 2,
    term: 1,
    preVote: false,
    lastLogIndex: 0,
    lastLogTerm: 0,
    leadershipTransfer: false,
  });
  const storage = new GatedStorage();
  const sent: PartitionMessage[] = [];
  const transport = {
    send: (_to: number, batch: readonly PartitionMessage[]) => void sent.push(...batch),
    close: () => Promise.resolve(),
  };
  const round = runRound([replica], { storage, transport, now: () => 0 });
  // The round is waiting on its write: the vote (term 1, votedFor 1) is not on disk yet.
  assertEquals(storage.written.map((b) => b.map((w) => w.hardState)), [[
    { term: 1, votedFor: 1, commitIndex: 0 },
  ]]);
  assertEquals(sent, [], "a message left before the write it depends on was durable");
  storage.complete();
  assertEquals(await round, true);
  assertEquals(
    sent.map(({ message: m }) => m.type === "VoteResponse" && [m.to, m.term, m.granted]),
    [[1, 1, true]],
  );
});

/** Storage that records each write and its options, durable at once. */
class RecordingStorage implements RaftStorage {
  readonly log: string[];
  constructor(log: string[]) {
    this.log = log;
  }
  load(): Promise<PartitionState> {
    return Promise.reject(new Error("not used"));
  }
  write(_batch: readonly PartitionWrite[], options?: StorageWriteOptions): Promise<void> {
    this.log.push(options?.idle ? "write (idle)" : "write");
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A three-voter leader whose Ready holds AppendEntries for both followers and its own write. */
function newLeader(): Replica {
  const node = new RaftNode({
    id: 1,
    voters: [1, 2, 3],
    random: new SeededRandom(1),
    preVote: false,
  });
  node.campaign();
  node.advance(node.ready());
  node.step({ type: "VoteResponse", from: 2, to: 1, term: 1, preVote: false, granted: true });
  return new Replica(0, node);
}

for (const idle of [true, false]) {
  Deno.test(`runRound: ${idle ? "an idle round lets its AppendEntries reach the sockets, then asks for an idle write" : "a round under load writes at once, without waiting a turn"}`, async () => {
    const log: string[] = [];
    // Like a peer stream, a send reaches its socket a few dozen microtasks later.
    const transport = {
      send: (to: number, batch: readonly PartitionMessage[]) => {
        const types = batch.map((m) => m.message.type).join();
        afterChains(() => log.push(`socket ${to}: ${types}`));
      },
      close: () => Promise.resolve(),
    };
    await runRound([newLeader()], {
      storage: new RecordingStorage(log),
      transport,
      now: () => 0,
      idle,
    });
    // A macrotask runs only after every queued microtask: the sends have reached their sockets.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const sockets = ["socket 2: AppendEntries", "socket 3: AppendEntries"];
    assertEquals(log, idle ? [...sockets, "write (idle)"] : ["write", ...sockets]);
  });
}
