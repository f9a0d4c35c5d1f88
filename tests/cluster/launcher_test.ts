/**
 * End-to-end: `cli.ts cluster`, the demo launcher. It keeps running when a node dies, reports
 * the death and the failover, restarts the node from its console, and refuses a busy port.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { waitFor } from "../support/wait.ts";
import { b64, callJson } from "./processes.ts";
import { LauncherProcess } from "./launcher_process.ts";

const cli = new URL("../../cli.ts", import.meta.url).pathname;

Deno.test("launcher: a node's death leaves the others running and reported; 'restart 2' brings it back", async () => {
  const launcher = await LauncherProcess.start(["--partitions", "2"]);
  try {
    const urls = launcher.urls;
    const pid2 = Number(/node 2 pid (\d+)/.exec(launcher.out)![1]);
    Deno.kill(pid2, "SIGKILL");
    await waitFor(
      "the death to be reported",
      () => launcher.out.includes("Node 2 exited"),
      10_000,
      50,
    );
    assertStringIncludes(launcher.out, "Type 'restart 2' to start it again");
    // The others still serve every partition (the ones node 2 led fail over).
    const w = await waitFor(
      "a write through node 1",
      async () => {
        const r = await callJson(urls[0], "Put", { key: b64("k"), value: b64("v") });
        return r.status === 200 ? r : undefined;
      },
      10_000,
      100,
    );
    assert(w.json.ok);

    await launcher.type("restart 2");
    await waitFor("the restart", () => launcher.out.includes("Node 2 restarted"), 10_000, 50);
    await waitFor(
      "node 2 to be healthy again",
      async () => {
        try {
          const r = await fetch(`${urls[1]}/health`, { signal: AbortSignal.timeout(500) });
          return (await r.json()).healthy === true;
        } catch {
          return false;
        }
      },
      20_000,
      100,
    );
  } finally {
    await launcher.stop();
  }
  assertStringIncludes(launcher.out, "All nodes stopped.");
});

Deno.test("launcher: a busy port is a clear error naming it, with a non-zero exit, and nothing says up", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-launcher-" });
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (busy.addr as Deno.NetAddr).port;
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        cli,
        "cluster",
        "--insecure",
        "--nodes",
        "1",
        "--base-port",
        String(port),
        "--dir",
        join(dir, "data"),
      ],
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(r.stderr);
    assertEquals(r.code, 1, stderr);
    assertStringIncludes(stderr, `port ${port} (node 1) is already in use`);
    assert(!new TextDecoder().decode(r.stdout).includes("is up"));
  } finally {
    busy.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("launcher: 'add-node' starts node 4, which joins the cluster and takes replicas", async () => {
  const launcher = await LauncherProcess.start(["--partitions", "4"]);
  try {
    await launcher.type("add-node");
    await waitFor(
      "node 4 to take replicas",
      () => /Node 4 took \d+ replica/.test(launcher.out),
      60_000,
      100,
    );
    const moved = Number(/Node 4 took (\d+) replica/.exec(launcher.out)![1]);
    assertEquals(moved, 3, launcher.out); // 12 replicas over 4 nodes: its share is 3
    assertStringIncludes(launcher.out, "Partition ");
    assertStringIncludes(launcher.out, "node 4 joins as a learner");
    const urls = launcher.urls;
    const doc = await (await fetch(`${urls[0]}/status.json`)).json();
    assertEquals(doc.nodes.map((n: { id: number }) => n.id), [1, 2, 3, 4]);
  } finally {
    await launcher.stop();
  }
});
