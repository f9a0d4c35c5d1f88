/**
 * The Ready contract's first rule, at the runtime: what a round sends depends on what it
 * persists, so nothing leaves before the round's storage write is durable (Raft figure 2:
 * persistent state is updated on stable storage before responding to RPCs).
 */
import { assertEquals } from "@std/assert";
import type { PartitionMessage } from "../partition/transport.ts";
import { RaftNode } from "../raft/node.ts";
import { SeededRandom } from "../raft/rng.ts";
import type { PartitionState, PartitionWrite, RaftStorage } from "../storage/raft_storage.ts";
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
