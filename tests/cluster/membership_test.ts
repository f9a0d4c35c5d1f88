/**
 * End-to-end: moving partition replicas with Raft membership changes on real node processes,
 * driven by `cli.ts member`, while clients keep writing. Five nodes, three replicas per
 * partition: node 5 is drained and filled again, then node 2 is killed for good and drained.
 * Every acknowledged write stays readable, and writes are acknowledged during every step.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { PrkDbClient } from "../../client/mod.ts";
import { waitFor } from "../support/wait.ts";
import { runCli } from "./cli_run.ts";
import { ProcessCluster } from "./processes.ts";

interface Group {
  partition: number;
  voters: number[];
  learners: number[];
  leader: number;
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

Deno.test("member remove/add move replicas under load; a dead node is drained; no acknowledged write is lost", async () => {
  const c = await ProcessCluster.start(5, { partitions: 5, extraArgs: ["--replication", "3"] });
  const db = await PrkDbClient.connect([...c.urls.values()]);
  const writers = new Writers(db, 3);
  try {
    const endpoints = (skip?: number) => [
      "--endpoints",
      [...c.urls].filter(([id]) => id !== skip).map(([, url]) => url).join(","),
      "--insecure",
    ];
    const groups = async (skip?: number): Promise<Group[]> => {
      const r = await runCli(["member", "list", "--json", ...endpoints(skip)]);
      assertEquals(r.code, 0, r.stderr);
      return JSON.parse(r.stdout).groups;
    };
    const holding = (gs: Group[], node: number) =>
      gs.filter((g) => [...g.voters, ...g.learners].includes(node)).length;

    const before = await groups();
    assertEquals(before.length, 5);
    assert(before.every((g) => g.voters.length === 3 && g.learners.length === 0));
    assertEquals(holding(before, 5), 3);
    await writers.progress("before any move");

    const drain = await runCli(["member", "remove", "5", ...endpoints()]);
    assertEquals(drain.code, 0, drain.stderr + drain.stdout);
    assertStringIncludes(drain.stdout, "Node 5 holds no replica any more");
    const drained = await groups();
    assertEquals(holding(drained, 5), 0);
    assert(drained.every((g) => g.voters.length === 3), JSON.stringify(drained));
    await writers.progress("after node 5 was drained");

    const fill = await runCli(["member", "add", "5", ...endpoints()]);
    assertEquals(fill.code, 0, fill.stderr + fill.stdout);
    assertEquals(holding(await groups(), 5), 3);
    await writers.progress("after node 5 was filled");

    await c.kill(2);
    const dead = await runCli(["member", "remove", "2", ...endpoints(2)]);
    assertEquals(dead.code, 0, dead.stderr + dead.stdout);
    const after = await groups(2);
    assertEquals(holding(after, 2), 0);
    assert(after.every((g) => g.voters.length === 3), JSON.stringify(after));
    await writers.progress("after dead node 2 was drained");
  } finally {
    await writers.stop();
  }
  try {
    for (const [key, value] of writers.acked) {
      const got = await db.get(key);
      assertEquals(got.value === null ? null : new TextDecoder().decode(got.value), value, key);
    }
    assert(writers.acked.size >= 80, `only ${writers.acked.size} writes acknowledged`);
  } finally {
    db.close();
    await c.stop();
  }
});
