import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { SessionTable } from "../../partition/sessions.ts";
import { SortedKeys } from "../../partition/sorted_keys.ts";
import { ChangeHistory } from "../../runtime/change_history.ts";
import { Replica } from "../../runtime/replica.ts";
import { Durability } from "../../runtime/durability.ts";
import { RaftNode } from "../../raft/node.ts";
import { Simulation, SimulationFailure, type SimulationOptions } from "./simulation.ts";

/** Runs seeds until one fails; returns the failure (or undefined if none did). */
async function firstFailure(
  options: Omit<SimulationOptions, "seed">,
  seeds: number,
): Promise<SimulationFailure | undefined> {
  for (let seed = 1; seed <= seeds; seed++) {
    try {
      await new Simulation({ ...options, seed }).run();
    } catch (error) {
      if (error instanceof SimulationFailure) return error;
      throw error;
    }
  }
  return undefined;
}

/** Replaces a method of a class for the duration of `run`: a deliberate bug. */
async function withBug<T, K extends keyof T>(
  prototype: T,
  method: K,
  bug: T[K],
  run: () => Promise<void>,
): Promise<void> {
  const original = prototype[method];
  prototype[method] = bug;
  try {
    await run();
  } finally {
    prototype[method] = original;
  }
}

Deno.test("simulation: the same seed replays the same run", async () => {
  const a = await new Simulation({ seed: 7, nodes: 3 }).run();
  const b = await new Simulation({ seed: 7, nodes: 3 }).run();
  assertEquals(a, b);
  assert(a.operations.ok > 50, `only ${a.operations.ok} writes were acknowledged`);
  assert(a.operations.reads > 50, `only ${a.operations.reads} reads completed`);
  assert(a.crashes + a.partitions + a.pauses > 5, "the run injected almost no faults");
  assert(a.snapshots.taken > 3, `only ${a.snapshots.taken} snapshots were taken`);
  assert(a.clients.retries > 10, `only ${a.clients.retries} client retries`);
});

Deno.test("simulation: retried, duplicated and delayed writes are exercised", async () => {
  let held = 0, duplicates = 0, unknown = 0;
  for (const seed of [1, 2, 3, 4]) {
    const r = await new Simulation({ seed, nodes: 3, pauseRate: 0.004 }).run();
    held += r.clients.heldRequests;
    duplicates += r.clients.duplicatesSent;
    unknown += r.operations.unknown;
  }
  assert(held > 10, `only ${held} requests waited at a paused node`);
  assert(duplicates > 10, `only ${duplicates} requests were duplicated`);
  assert(unknown > 0, "no write ever ended with an unknown outcome");
});

Deno.test("simulation: catches a runtime that releases reads before applying the read index", async () => {
  await withBug(Replica.prototype, "releaseReads", function (this: Replica) {
    for (const read of this.reads.values()) if (read.index > 0) read.resolve();
  }, async () => {
    const failure = await firstFailure({ nodes: 5 }, 60);
    assert(failure, "60 seeds with stale reads all passed: the linearizability check is blind");
    assertStringIncludes(failure.message, "not linearizable");
    assertStringIncludes(failure.message, "Replay: deno task sim --seed");
  });
});

Deno.test("simulation: catches a runtime that resolves a write whose index another term took", async () => {
  await withBug(Replica.prototype, "settleWrite", function (this: Replica, e, result) {
    const w = this.writes.get(e.index);
    if (!w) return;
    this.writes.delete(e.index);
    w.resolve(result); // the bug: no check that the entry is the one this write proposed
  }, async () => {
    const failure = await firstFailure({ nodes: 3 }, 120);
    assert(failure, "120 seeds that acknowledge overwritten writes all passed");
    assertStringIncludes(failure.message, "Replay: deno task sim --seed");
  });
});

Deno.test("simulation: catches a runtime that acknowledges before it persists", async () => {
  const failure = await firstFailure({ nodes: 3, bugs: { ackBeforeFsync: true } }, 20);
  assert(failure, "20 seeds that lose acknowledged writes all passed");
  assertStringIncludes(failure.message, "Replay: deno task sim --seed");
});

for (const storage of ["file", "kv"] as const) {
  Deno.test(`simulation: compaction, snapshot transfer and restarts on the ${storage} backend`, async () => {
    let installed = 0, restarts = 0;
    for (const seed of [1, 2, 3]) {
      const report = await new Simulation({
        seed,
        nodes: seed === 2 ? 5 : 3,
        storage,
        units: 2500,
        compactEvery: 10,
      }).run();
      installed += report.snapshots.installed;
      restarts += report.crashes;
      assert(
        report.operations.ok > 10,
        `seed ${seed}: only ${report.operations.ok} writes acknowledged`,
      );
    }
    assert(
      installed > 0,
      "no follower ever needed a snapshot: the scenario does not exercise InstallSnapshot",
    );
    assert(restarts > 0, "no node was restarted from its storage");
  });
}

Deno.test("simulation: catches a state machine that applies a retried write twice", async () => {
  const original = SessionTable.prototype.admit;
  // The bug: every write of a known session is applied, duplicates included.
  SessionTable.prototype.admit = function (ref, time) {
    const verdict = original.call(this, ref, time);
    return verdict.kind === "duplicate" ? { kind: "apply" } : verdict;
  };
  try {
    const failure = await firstFailure({ nodes: 3, pauseRate: 0.004 }, 100);
    assert(failure, "100 seeds that apply retried writes twice all passed");
    // Both the history check and the watch check see it; whichever runs first reports it.
    assert(
      /not linearizable|delivered .* twice/.test(failure.message),
      failure.message.slice(0, 300),
    );
  } finally {
    SessionTable.prototype.admit = original;
  }
});

Deno.test("simulation: catches a change history that loses changes, as watchers would see it", async () => {
  const original = ChangeHistory.prototype.recordWrite;
  // The bug: an applied write is sometimes not recorded for watchers.
  ChangeHistory.prototype.recordWrite = function (index, command) {
    if (index % 5 !== 0) original.call(this, index, command);
  };
  try {
    const failure = await firstFailure({ nodes: 3 }, 20);
    assert(failure, "20 seeds whose watchers miss changes all passed");
    assertStringIncludes(failure.message, "watch missed acknowledged");
  } finally {
    ChangeHistory.prototype.recordWrite = original;
  }
});

Deno.test("simulation: catches a range read that skips a key, as a paged listing would see it", async () => {
  const original = SortedKeys.prototype.range;
  // The bug: a page that starts just past a cursor loses its first key.
  SortedKeys.prototype.range = function (start, end, limit, reverse) {
    const keys = original.call(this, start, end, limit + 1, reverse);
    return start.endsWith("\u0000") ? keys.slice(1, limit + 1) : keys.slice(0, limit);
  };
  try {
    const failure = await firstFailure({ nodes: 3 }, 20);
    assert(failure, "20 seeds whose listings skip keys all passed");
    assertStringIncludes(failure.message, "list: a listing skipped");
  } finally {
    SortedKeys.prototype.range = original;
  }
});

Deno.test("simulation: puts passed on are answered by the node that passed them on, on the leader's durable notice", async () => {
  let early = 0;
  for (const seed of [1, 2, 3]) {
    const r = await new Simulation({ seed, nodes: 3, passedOnPuts: 0.5 }).run();
    early += r.clients.durableAnswers;
  }
  assert(early > 30, `only ${early} puts were answered on a durable notice`);
});

Deno.test("simulation: catches a leader that announces a durable entry without raising its read floor", async () => {
  // The same conditions through the node's public view, but no read floor: a read that starts
  // after the follower answered may get a read index below the write.
  await withBug(
    RaftNode.prototype,
    "announceDurable",
    function (this: RaftNode, peer, index, term) {
      const status = this.status();
      const voters = this.membership.voters;
      return this.isLeader && status.term === term && this.termAt(index) === term &&
        voters.length <= 3 && voters.includes(this.id) && voters.includes(peer) &&
        status.membershipIndex <= status.commitIndex;
    },
    async () => {
      const failure = await firstFailure({ nodes: 3, passedOnPuts: 0.8 }, 60);
      assert(failure, "60 seeds without a read floor all passed: the check is blind");
      assertStringIncludes(failure.message, "not linearizable");
      assertStringIncludes(failure.message, "--passed-on-puts 0.8");
    },
  );
});

Deno.test("simulation: catches a follower that answers on a durable notice before its own copy is durable", async () => {
  // The bug: the leader's copy alone is not a majority.
  await withBug(Durability.prototype, "wait", function (_index, _term, durable) {
    durable();
    return () => {};
  }, async () => {
    const failure = await firstFailure({ nodes: 3, passedOnPuts: 0.8 }, 60);
    assert(failure, "60 seeds answering on the leader's word alone all passed: the check is blind");
    // An acknowledged write lost: the history or the watcher, whichever sees it first.
    assert(
      /not linearizable|missed acknowledged/.test(failure.message),
      `failed for another reason: ${failure.message}`,
    );
  });
});
