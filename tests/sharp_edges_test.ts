/**
 * The command line and the HTTP surface say how to use them: every task and command answers
 * `--help` with its usage and exit code 0, refuses a wrong command line with exit code 2, and
 * a GET on an RPC path explains that RPCs are POSTed.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { startOneNode } from "./support/one_node.ts";

const root = new URL("../", import.meta.url).pathname;
const td = new TextDecoder();

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    signal: AbortSignal.timeout(60_000),
  }).output();
  return { code: out.code, stdout: td.decode(out.stdout), stderr: td.decode(out.stderr) };
}

Deno.test("cli.ts with no command exits 2 and prints the usage", async () => {
  const r = await run("run", "-A", "cli.ts");
  assertEquals(r.code, 2);
  assertStringIncludes(r.stderr, "a command is required");
  assertStringIncludes(r.stderr, "Usage: deno run -A cli.ts <command>");
});

Deno.test("cli.ts: --help exits 0; a wrong command line exits 2 with where to look", async () => {
  for (
    const args of [["--help"], ["serve", "--help"], ["cluster", "--help"], ["certs", "--help"]]
  ) {
    const r = await run("run", "-A", "cli.ts", ...args);
    assertEquals(r.code, 0, args.join(" "));
    assertStringIncludes(r.stdout, "Usage:");
  }
  const misuse: [string[], string][] = [
    [["bogus"], 'unknown command "bogus"'],
    [["certs"], "certs takes init or renew"],
    [["cluster", "--nodes", "x"], "cli.ts cluster --help"],
    [["serve", "--bogus"], "cli.ts serve --help"],
    [
      [
        "serve",
        "--id",
        "1",
        "--peers",
        "1=127.0.0.1:1",
        "--storage",
        "memory",
        "--insecure",
        "--follow-writes",
        "yes",
      ],
      '--follow-writes must be on or off, got "yes"',
    ],
  ];
  for (const [args, says] of misuse) {
    const r = await run("run", "-A", "cli.ts", ...args);
    assertEquals(r.code, 2, args.join(" "));
    assertStringIncludes(r.stderr, says);
  }
});

Deno.test("tasks that run scripts answer --help with their usage and refuse unknown arguments", async () => {
  for (
    const task of [
      "sim",
      "cluster",
      "certs",
      "bench",
      "bench:cluster",
      "bench:host",
      "bench:hop",
      "bench:etcd",
      "bench:counters",
      "bench:ab",
      "example",
      "play",
    ]
  ) {
    const help = await run("task", "-q", task, "--help");
    assertEquals(help.code, 0, `${task} --help: ${help.stderr}`);
    assertStringIncludes(help.stdout, "Usage:", task);
    const bad = await run("task", "-q", task, "--no-such-flag");
    assertEquals(bad.code, 2, `${task} --no-such-flag`);
  }
  const sim = await run("task", "-q", "sim", "--seeds", "many");
  assertEquals(sim.code, 2);
  assertStringIncludes(sim.stderr, '--seeds must be a non-negative integer, got "many"');
});

Deno.test("bench:hop measures both round trips between two processes, and leaves none behind", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "bench:hop"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ROUNDS: "50" }, // a few round trips: this checks it works, not speed
    signal: AbortSignal.timeout(60_000),
  }).output();
  assertEquals(out.code, 0, td.decode(out.stderr));
  assertStringIncludes(td.decode(out.stdout), "peer streams, round trip: p50");
  assertStringIncludes(td.decode(out.stdout), "plain TCP, round trip:    p50");
});

Deno.test("bench:ab measures two checkouts at the same time and reports their ratios", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "bench:ab", "HEAD", "."],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    // One short pair: this checks it works, not speed.
    env: { NO_COLOR: "1", PAIRS: "1", CLIENTS: "2", SECONDS: "1", ROUNDS: "1", PARTITIONS: "2" },
    signal: AbortSignal.timeout(180_000),
  }).output();
  const text = td.decode(out.stdout);
  assertEquals(out.code, 0, `${text}\n${td.decode(out.stderr)}`);
  assertStringIncludes(text, "Checking out HEAD (A) and . (B)");
  assertMatch(text, /^ {3}1 +\d+ +\d+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+$/m);
  assertMatch(text, /B against A: puts\/s [\d.]+ \([\d.]+-[\d.]+\), server CPU per put [\d.]+/);
});

Deno.test("bench:counters counts a put's storage writes and frames with the leaders it was asked for", async () => {
  const counters = (env: Record<string, string>) =>
    new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "bench:counters"],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
      // A short, small load: this checks it works, not speed.
      env: { NO_COLOR: "1", CLIENTS: "4", SECONDS: "1", ROUNDS: "1", PARTITIONS: "4", ...env },
      signal: AbortSignal.timeout(120_000),
    }).output();
  const out = await counters({ LEADERS_ON: "2" });
  const text = td.decode(out.stdout);
  assertEquals(out.code, 0, td.decode(out.stderr));
  assertStringIncludes(text, "node 1 leads 0, node 2 leads 4, node 3 leads 0");
  assertStringIncludes(text, "0 errors");
  // Every put is one proposal and three applies (one per replica), whatever else it costs.
  assertStringIncludes(text, "prkdb_raft_proposals_total");
  assertStringIncludes(text, "prkdb_storage_write_duration_seconds_count");
  const applied = text.match(/prkdb_replication_changes_applied_total\s+([\d.]+)/);
  assert(applied && Math.abs(Number(applied[1]) - 3) < 0.1, text);
  const bad = await counters({ LEADERS_ON: "7" });
  assertEquals(bad.code, 2);
  assertStringIncludes(td.decode(bad.stderr), "LEADERS_ON=7 is out of range");
});

Deno.test("a GET on an RPC path answers 405: use POST with Content-Type: application/json", async () => {
  const { node, url: base } = await startOneNode();
  try {
    const url = `${base}/prkdb.v1.KvService/Get`;
    const r = await fetch(url);
    const body = await r.text();
    assertEquals(r.status, 405);
    assertEquals(r.headers.get("allow"), "POST");
    assertStringIncludes(body, "use POST with Content-Type: application/json");
    // POST still works, as curl sends it.
    const ok = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: btoa("absent") }),
    });
    assertEquals(ok.status, 200, await ok.clone().text());
    assert(!("found" in await ok.json()));
  } finally {
    await node.stop();
  }
});
