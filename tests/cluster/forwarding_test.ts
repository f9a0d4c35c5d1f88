/**
 * End-to-end: requests a node forwards. A dead leader is named in a retryable `unavailable`;
 * a request arriving while its partition elects a leader waits for it; with 5 nodes and 3
 * replicas, a node that is not a replica forwards to the leader (learned from the replicas),
 * also after an operator moved leadership with `move-leader`.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { partitionForKey } from "../../partition/hash.ts";
import { waitFor } from "../support/wait.ts";
import { b64, callJson, ProcessCluster } from "./processes.ts";
import { runCli } from "./cli_run.ts";

const te = new TextEncoder();

/** A key of `partition` (of `partitions`). */
function keyOf(partition: number, partitions: number, tag: string): string {
  for (let i = 0;; i++) {
    const k = `${tag}-${i}`;
    if (partitionForKey(te.encode(k), partitions) === partition) return k;
  }
}

/** The partition's leader as node `id` sees it (0 when unknown or unreachable). */
async function leaderAt(c: ProcessCluster, id: number, partition: number): Promise<number> {
  return (await c.health(id))?.partitions.find((p) => p.partition === partition)?.leader ?? 0;
}

Deno.test("forwarding: a dead leader is named in a retryable unavailable; a request during the election waits for the new leader, bounded by its deadline", async () => {
  // Slow ticks: the followers keep believing in the dead leader for a second or more.
  const c = await ProcessCluster.start(3, { partitions: 1, tickMs: 100 });
  try {
    const leader = await waitFor("a leader", () => leaderAt(c, 1, 0));
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    await c.kill(leader);
    const r = await callJson(c.urls.get(follower)!, "Put", { key: b64("k"), value: b64("v") });
    assertEquals(r.status, 503, JSON.stringify(r.json));
    assertEquals(r.json.code, "unavailable");
    assertStringIncludes(String(r.json.message), `node ${leader} (${c.urls.get(leader)})`);
    assertStringIncludes(String(r.json.message), `unreachable from node ${follower}`);

    // Once the follower knows no leader (an election is under way), a request waits for one.
    await waitFor("the follower to stop following the dead leader", async () => {
      const l = await leaderAt(c, follower, 0);
      return l === 0 || l !== leader;
    });
    const w = await callJson(c.urls.get(follower)!, "Put", { key: b64("k"), value: b64("v2") });
    assertEquals([w.status, w.json.ok], [200, true], JSON.stringify(w.json));

    // With no quorum left, no leader can be elected: the wait ends within the request's own
    // deadline (half of it), and the answer says why.
    const other = [1, 2, 3].find((id) => id !== leader && id !== follower)!;
    await c.kill(other);
    await waitFor(
      "the survivor to know no leader",
      async () => (await leaderAt(c, follower, 0)) === 0,
    );
    const started = Date.now();
    const r2 = await fetch(`${c.urls.get(follower)}/prkdb.v1.KvService/Put`, {
      method: "POST",
      headers: { "content-type": "application/json", "connect-timeout-ms": "1000" },
      body: JSON.stringify({ key: b64("k"), value: b64("v3") }),
    });
    const waited = Date.now() - started;
    const body = await r2.json();
    assertEquals([r2.status, body.code], [503, "unavailable"], JSON.stringify(body));
    assertStringIncludes(body.message, "has no leader yet");
    assert(waited >= 400 && waited < 1000, `waited ${waited} ms`);
  } finally {
    await c.stop();
  }
});

Deno.test("forwarding: with 5 nodes and 3 replicas a non-replica forwards to the leader; move-leader moves it and it stays", async () => {
  const partitions = 2;
  const c = await ProcessCluster.start(5, { partitions });
  try {
    const info = (await callJson(c.urls.get(1)!, "ClusterInfo", {})).json as {
      partitions: { partition?: number; replicas: number[] }[];
    };
    const p = 0;
    const replicas = info.partitions.find((x) => (x.partition ?? 0) === p)!.replicas;
    assertEquals(replicas.length, 3);
    const outsider = [1, 2, 3, 4, 5].find((id) => !replicas.includes(id))!;
    const endpoints = ["--endpoints", [...c.urls.values()].join(","), "--insecure"];
    // Hand the partition to a replica that is not its first (where forwarding used to go), once
    // its preferred replica leads (so balancing does not move it meanwhile).
    await waitFor(
      "the preferred replica to lead",
      async () => {
        return (await leaderAt(c, replicas[0], p)) === replicas[0];
      },
      15_000,
      100,
    );
    const to = replicas[2];
    // Asked at the outsider, which passes it to the target, which asks the leader to transfer.
    const moved = await runCli([
      "move-leader",
      "--partition",
      String(p),
      "--to",
      String(to),
      "--endpoints",
      c.urls.get(outsider)!,
      "--insecure",
    ]);
    assertEquals(moved.code, 0, moved.stderr);
    assertMatch(moved.stdout, new RegExp(`^Partition ${p}: node ${to} leads \\(term \\d+\\)\n$`));
    const key = keyOf(p, partitions, "fwd");
    const r = await fetch(`${c.urls.get(outsider)}/prkdb.v1.KvService/Put`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: b64(key), value: b64("v") }),
    });
    const body = await r.json();
    assertEquals([r.status, body.ok], [200, true], JSON.stringify(body));
    assertEquals(r.headers.get("prkdb-leader"), String(to));

    // Leader balancing runs every 3 election timeouts: the moved leadership outlives two rounds.
    const until = Date.now() + 6 * c.electionTimeoutMs;
    await waitFor(
      "two balancing rounds",
      async () => {
        assertEquals(await leaderAt(c, to, p), to);
        return Date.now() > until;
      },
      10 * c.electionTimeoutMs,
      100,
    );

    // A refused move: the target must be a replica.
    const bad = await runCli([
      "move-leader",
      "--partition",
      String(p),
      "--to",
      String(outsider),
      ...endpoints,
    ]);
    assertEquals(bad.code, 1);
    assertStringIncludes(bad.stderr, `to must be a replica of partition ${p}`);

    // The leader dies: the outsider learns the new one from the surviving replicas.
    await c.kill(to);
    const w = await waitFor(
      "a write through the outsider after the failover",
      async () => {
        const x = await callJson(c.urls.get(outsider)!, "Put", { key: b64(key), value: b64("v2") });
        return x.status === 200 ? x : undefined;
      },
      // An election and a round of leader questions; generous for a loaded machine.
      20_000,
      100,
    );
    assert(w.json.ok);
  } finally {
    await c.stop();
  }
});

Deno.test("forwarding: writes that arrive during a leadership transfer wait for it instead of failing", async () => {
  const c = await ProcessCluster.start(3, { partitions: 1 });
  try {
    const leader = await waitFor("a leader", () => leaderAt(c, 1, 0));
    const target = [1, 2, 3].find((id) => id !== leader)!;
    // Written once, so the target is caught up and the leader hands over at once.
    assertEquals(
      (await callJson(c.urls.get(leader)!, "Put", { key: b64("warm"), value: "" })).status,
      200,
    );
    const applied = async (id: number) =>
      (await fetch(`${c.urls.get(id)}/health`).then((r) => r.json())).partitions[0].lastApplied;
    await waitFor(
      "the target to catch up",
      async () => (await applied(target)) >= (await applied(leader)),
    );
    // Paused, the target never takes over: the transfer stays under way until the leader gives
    // it up (an election timeout later), and refuses new writes meanwhile.
    c.signal(target, "SIGSTOP");
    const move = fetch(`${c.urls.get(leader)}/admin/move-leader`, {
      method: "POST",
      body: JSON.stringify({ partition: 0, to: target }),
    }).then((r) => r.text());
    const transfer = async (outcome: string) => {
      const doc = await fetch(`${c.urls.get(leader)}/status.json?scope=node`).then((r) => r.json());
      return (doc.events as { kind: string; node?: number; detail?: string }[]).some((e) =>
        e.kind === "transfer" && e.node === target && e.detail === outcome
      );
    };
    // The writes start only once the leader shows the transfer under way.
    await waitFor("the transfer to start", () => transfer("started"));
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await callJson(c.urls.get(leader)!, "Put", { key: b64(`during-${i}`), value: "" });
      statuses.push(r.status);
    }
    // The paused target never took over: the leader gave the transfer up, and the writes that
    // came meanwhile were served after it.
    assert(await transfer("aborted"), "the transfer was under way, then given up");
    c.signal(target, "SIGCONT");
    await move;
    assertEquals(statuses.filter((s) => s !== 200), [], "every write was answered, none refused");
  } finally {
    await c.stop();
  }
});
