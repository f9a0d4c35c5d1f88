/**
 * End-to-end: growing and shrinking a cluster of real node processes with `serve --join` and
 * `cli.ts member`, while clients keep writing. Three nodes; nodes 4 and 5 join and take
 * replicas; node 2 is killed for good and removed (its replicas move, the others forget it);
 * node 6 joins. Three replicas per partition throughout, writes acknowledged during every step,
 * every acknowledged write readable at the end, and the history of reads and writes on a few
 * shared keys linearizable.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { PrkDbClient } from "../../client/mod.ts";
import { waitFor } from "../support/wait.ts";
import { runCli } from "./cli_run.ts";
import { ProcessCluster } from "./processes.ts";
import { checkHistory, type KvOperation } from "../sim/linearizability.ts";

interface Group {
  partition: number;
  voters: number[];
  learners: number[];
  leader: number;
}

/**
 * Clients that put and get a few shared keys until stopped, recording each operation's call and
 * return on one logical clock, for the linearizability checker.
 */
class Registers {
  readonly history = new Map<string, KvOperation[]>();
  #clock = 0;
  #id = 0;
  #stop = false;
  readonly #done: Promise<void>[];

  constructor(db: PrkDbClient, clients: number, keys = 3, maxOps = 20_000) {
    this.#done = Array.from({ length: clients }, async (_, client) => {
      for (let n = 0; n < maxOps && !this.#stop; n++) {
        const key = `r${(client + n) % keys}`;
        const call = ++this.#clock;
        const id = ++this.#id;
        const list = this.history.get(key) ?? [];
        this.history.set(key, list);
        if (n % 2 === 0) {
          const value = `c${client}-${n}`;
          try {
            await db.put(key, value);
            list.push({ id, client, call, ret: ++this.#clock, kind: "put", value });
          } catch {
            // Not acknowledged: it may still have been applied, at any time from now on.
            list.push({ id, client, call, ret: Infinity, kind: "put", value });
          }
        } else {
          try {
            const got = await db.get(key);
            const value = got.value === null ? null : new TextDecoder().decode(got.value);
            list.push({ id, client, call, ret: ++this.#clock, kind: "get", value });
          } catch {
            // A failed read has no effect.
          }
        }
      }
    });
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#done);
  }
}

/** Writers that each write fresh keys until stopped, remembering what was acknowledged. */
class Writers {
  readonly acked = new Map<string, string>();
  #stop = false;
  readonly #done: Promise<void>[];

  constructor(db: PrkDbClient, writers: number, maxWrites = 20_000) {
    this.#done = Array.from({ length: writers }, async (_, w) => {
      for (let n = 0; n < maxWrites && !this.#stop; n++) {
        const key = `w${w}/${n}`, value = `v${n}`;
        try {
          await db.put(key, value);
          this.acked.set(key, value);
        } catch {
          // Refused or of unknown outcome (a leader moving): not acknowledged, try the next.
        }
      }
    });
  }

  /** Waits until `more` further writes were acknowledged. */
  async progress(what: string, more = 20): Promise<void> {
    const target = this.acked.size + more;
    await waitFor(`${more} writes acknowledged ${what}`, () => this.acked.size >= target, 30_000);
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#done);
  }
}

Deno.test("3 nodes grow to 5, node 2 dies and is removed, node 6 joins: writes go on, none is lost", async () => {
  const c = await ProcessCluster.start(3, { partitions: 4, extraArgs: ["--replication", "3"] });
  const db = await PrkDbClient.connect([...c.urls.values()]);
  const writers = new Writers(db, 3);
  const registers = new Registers(db, 3);
  try {
    const endpoints = (skip?: number) => [
      "--endpoints",
      [...c.urls].filter(([id]) => id !== skip).map(([, url]) => url).join(","),
      "--insecure",
    ];
    const view = async (skip?: number): Promise<{ nodes: { id: number }[]; groups: Group[] }> => {
      const r = await runCli(["member", "list", "--json", ...endpoints(skip)]);
      assertEquals(r.code, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const holding = (gs: Group[], node: number) =>
      gs.filter((g) => [...g.voters, ...g.learners].includes(node)).length;
    const add = async (id: number, skip?: number, halfMove = false) => {
      await c.join(id, 1);
      await waitFor(
        `node ${id} in every member list`,
        async () => (await view(skip)).nodes.some((n) => n.id === id),
        15_000,
        200,
      );
      if (halfMove) {
        // A move that stopped halfway (the operator's command was killed): a learner is left.
        const r = await fetch(`${c.urls.get(1)}/admin/membership`, {
          method: "POST",
          body: JSON.stringify({ partition: 0, change: "add-learner", node: id }),
        });
        assertEquals(r.status, 200, await r.text());
        // The view takes each group from the replica it reached with the highest term: one that
        // has not appended the change yet may answer first.
        await waitFor(
          `node ${id} a learner of partition 0 in the cluster view`,
          async () => (await view(skip)).groups[0].learners.includes(id),
          10_000,
          200,
        );
      }
      const r = await runCli(["member", "add", String(id), ...endpoints(skip)]);
      assertEquals(r.code, 0, r.stderr + r.stdout);
      assert(holding((await view(skip)).groups, id) >= 2, r.stdout);
    };

    const start = await view();
    assertEquals(start.nodes.map((n) => n.id), [1, 2, 3]);
    assert(start.groups.every((g) => g.voters.length === 3 && g.learners.length === 0));
    await writers.progress("with 3 nodes");

    await add(4);
    await writers.progress("after node 4 joined");
    await add(5);
    await writers.progress("after node 5 joined");
    const five = await view();
    assertEquals(five.nodes.map((n) => n.id), [1, 2, 3, 4, 5]);
    assert(five.groups.every((g) => g.voters.length === 3), JSON.stringify(five.groups));

    await c.kill(2);
    const dead = await runCli(["member", "remove", "2", ...endpoints(2)]);
    assertEquals(dead.code, 0, dead.stderr + dead.stdout);
    assertStringIncludes(dead.stdout, "Node 2 holds no replica and left the cluster");
    // Every copy of the address book forgets it (pushed at once, pulled within seconds).
    const after = await waitFor(
      "node 2 gone from the address book",
      async () => {
        const v = await view(2);
        return v.nodes.map((n) => n.id).join() === "1,3,4,5" ? v : undefined;
      },
      15_000,
      200,
    );
    assertEquals(holding(after.groups, 2), 0);
    assert(after.groups.every((g) => g.voters.length === 3), JSON.stringify(after.groups));
    await writers.progress("after dead node 2 was removed");
    // Ids are used once: a node joining as 2 (removed) or 3 (a member) would vote with no
    // memory of what that id promised.
    for (const [id, why] of [[2, "ids are not reused"], [3, "already a member"]] as const) {
      const r = await fetch(`${c.urls.get(1)}/admin/members`, {
        method: "POST",
        body: JSON.stringify({ id, address: "127.0.0.1:1" }),
      });
      assertEquals(r.status, 409);
      assertStringIncludes((await r.json()).error, why);
    }

    await add(6, 2, true);
    await writers.progress("after node 6 joined");
    const last = await view(2);
    assertEquals(last.nodes.map((n) => n.id), [1, 3, 4, 5, 6]);
    assert(last.groups.every((g) => g.voters.length === 3), JSON.stringify(last.groups));

    // Node 6 restarts from its own data dir (no --join, no --peers) and still serves.
    await c.kill(6);
    c.spawn(6);
    await waitFor(
      "node 6 to be healthy after its restart",
      async () => (await c.health(6))?.healthy === true,
      30_000,
      100,
    );
    // A first start that stopped before it saved the address book joins again, as itself.
    await c.kill(6);
    await Deno.remove(join(c.dataDir(6), "members.json"));
    c.rejoin(6);
    await waitFor(
      "node 6 to be healthy after joining again",
      async () => (await c.health(6))?.healthy === true,
      30_000,
      100,
    );
  } finally {
    await writers.stop();
    await registers.stop();
  }
  try {
    for (const [key, value] of writers.acked) {
      const got = await db.get(key);
      assertEquals(got.value === null ? null : new TextDecoder().decode(got.value), value, key);
    }
    assert(writers.acked.size >= 100, `only ${writers.acked.size} writes acknowledged`);
    const ops = [...registers.history.values()].reduce((n, l) => n + l.length, 0);
    assert(ops >= 100, `only ${ops} register operations`);
    assertEquals(checkHistory(registers.history), undefined, "the history is linearizable");
  } finally {
    db.close();
    await c.stop();
  }
});
