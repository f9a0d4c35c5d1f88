/**
 * The data directory's lock and identity, checked with real `cli.ts serve` processes: a second
 * process on a directory in use is refused with the holder's PID, a killed holder leaves no stale
 * lock, and a restart with flags that do not match the directory (node id, partition count,
 * peers) is refused and changes nothing.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { tree } from "./damage.ts";

const cli = new URL("../../cli.ts", import.meta.url).pathname;
// Peers' ports are only dialled (and refused); every node listens on port 0.
const PEERS = "1=127.0.0.1:1,2=127.0.0.1:2,3=127.0.0.1:3";

function serveArgs(dir: string, storage: string, extra: Record<string, string> = {}): string[] {
  const flags: Record<string, string> = {
    "--id": "1",
    "--listen": "127.0.0.1:0",
    "--peers": PEERS,
    "--data-dir": dir,
    "--storage": storage,
    "--partitions": "2",
    "--cluster": "lockcheck",
    ...extra,
  };
  return ["run", "-A", cli, "serve", "--insecure", ...Object.entries(flags).flat()];
}

/** Runs `serve` expecting it to refuse to start; returns its stderr. */
async function refused(args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "piped" })
    .output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 1, `serve should have refused to start: ${stderr}`);
  return stderr;
}

/** Starts `serve` and waits for it to listen. */
async function serving(args: string[]): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "inherit" })
    .spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const deadline = setTimeout(() => child.kill("SIGKILL"), 20_000);
  try {
    while (!seen.includes("listening on")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`serve exited before listening: ${seen}`);
      seen += value;
    }
  } finally {
    clearTimeout(deadline);
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done);
  })().catch(() => {});
  return child;
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  child.kill("SIGTERM");
  const status = await child.status;
  assertEquals([status.code, status.signal], [0, null], "serve did not shut down cleanly");
}

/** The directory's files and contents, the lock file aside (each start writes its PID there). */
async function contents(dir: string): Promise<Map<string, Uint8Array | null>> {
  const t = await tree(dir);
  t.delete("LOCK");
  return t;
}

for (const storage of ["file", "kv"]) {
  Deno.test(`data dir (${storage}, processes): a second serve on a directory in use is refused with the holder's PID`, async () => {
    const parent = await Deno.makeTempDir({ prefix: "prkdb-lock-" });
    const dir = join(parent, "n1");
    try {
      const first = await serving(serveArgs(dir, storage));
      try {
        const stderr = await refused(serveArgs(dir, storage));
        assertStringIncludes(stderr, `${join(dir, "LOCK")} is locked by process ${first.pid}`);
      } finally {
        first.kill("SIGKILL");
        await first.status;
      }
      // The kernel dropped the lock with its killed holder: no stale lock, the directory starts.
      await stop(await serving(serveArgs(dir, storage)));
    } finally {
      await Deno.remove(parent, { recursive: true });
    }
  });
}

Deno.test("data dir (file, processes): a restart with another id, partition count or peers is refused and changes nothing", async () => {
  const parent = await Deno.makeTempDir({ prefix: "prkdb-flags-" });
  const dir = join(parent, "n1");
  try {
    await stop(await serving(serveArgs(dir, "file")));
    const before = await contents(dir);
    const cases: [Record<string, string>, string][] = [
      [
        { "--id": "2" },
        "this data dir belongs to node 1 of cluster lockcheck, started as node 2 of cluster lockcheck",
      ],
      [{ "--partitions": "4" }, "holds 2 partitions, started with --partitions 4"],
      // Alone, it would lead every partition by itself: a split brain.
      [{ "--peers": "1=127.0.0.1:1" }, "knew members 1,2,3, started with --peers naming 1"],
    ];
    for (const [flags, message] of cases) {
      assertStringIncludes(await refused(serveArgs(dir, "file", flags)), message);
      assertEquals(
        await contents(dir),
        before,
        `a refused start (${Object.entries(flags)}) changed files`,
      );
    }
    // An emptied directory is not a new node: it needs --allow-blank-start.
    for await (const e of Deno.readDir(dir)) {
      await Deno.remove(join(dir, e.name), { recursive: true });
    }
    assertStringIncludes(await refused(serveArgs(dir, "file")), "exists but is empty");
    assert((await contents(dir)).size === 0, "a refused blank start wrote files");
    const args = [...serveArgs(dir, "file"), "--allow-blank-start"];
    await stop(await serving(args));
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});
