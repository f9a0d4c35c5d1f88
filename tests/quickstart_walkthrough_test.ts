/**
 * The README's quick start, followed from a clean clone: clone the repository's HEAD into a
 * temporary directory, start `deno task cluster` there (on free ports it picks and prints),
 * run the quick-start example against it, use the clone from another project through `links`
 * as "From a clone" shows, then stop the cluster by its PID.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";

const repo = new URL("../", import.meta.url).pathname;
const td = new TextDecoder();

async function run(cwd: string, args: string[], what: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    signal: AbortSignal.timeout(30_000),
  }).output();
  const text = td.decode(out.stdout);
  assertEquals(out.code, 0, `${what} failed:\n${text}\n${td.decode(out.stderr)}`);
  return text;
}

/** Reads a child's output as it comes, so the test can wait for a line. */
function collect(stream: ReadableStream<Uint8Array>) {
  let text = "";
  let waiting: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void } | undefined;
  const done = (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      const m = waiting && text.match(waiting.pattern);
      if (m && waiting) {
        waiting.resolve(m);
        waiting = undefined;
      }
    }
  })();
  return {
    get text() {
      return text;
    },
    done,
    /** Resolves with the first match of `pattern`, now or when it appears. */
    when(pattern: RegExp): Promise<RegExpMatchArray> {
      const m = text.match(pattern);
      if (m) return Promise.resolve(m);
      return new Promise((resolve) => (waiting = { pattern, resolve }));
    },
  };
}

Deno.test("quick start from a clean clone: cluster, example, links from another project", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "prkdb-clone-" });
  const clone = join(tmp, "prkdb");
  try {
    const git = await new Deno.Command("git", {
      args: ["clone", "--quiet", repo, clone],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(git.code, 0, td.decode(git.stderr));

    // 1. deno task cluster, as the README says, with ports the cluster picks.
    const cluster = new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "-q",
        "cluster",
        "--base-port",
        "0",
        "--partitions",
        "4",
        "--storage",
        "memory",
      ],
      cwd: clone,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const out = collect(cluster.stdout);
    const err = collect(cluster.stderr);
    let urls: string[];
    try {
      const up = await Promise.race([
        out.when(/^Node URLs: (.+)$/m),
        cluster.status.then((s) => {
          throw new Error(`the cluster exited (${s.code}):\n${out.text}\n${err.text}`);
        }),
      ]);
      urls = up[1].trim().split(" ");
      assertEquals(urls.length, 3);
      assert(urls.every((u) => u.startsWith("https://127.0.0.1:")), urls.join(" "));
      assertStringIncludes(out.text, "Created a development CA, certificates and tokens in certs/");

      // 2. The quick-start example, against those nodes, with the certificates in certs/.
      const example = await run(
        clone,
        ["run", "-A", "examples/client_quickstart.ts", ...urls],
        "the quick-start example",
      );
      assertStringIncludes(example, "Connected: 3 nodes, 4 partitions.");
      assertStringIncludes(example, 'linearizable: {"name":"Ada","role":"admin"}');
      assertStringIncludes(example, "compare-and-set: first true, second (stale version) false");
      assertStringIncludes(example, "atomic: committed at");
      assertStringIncludes(example, "tuple keys: users/1 = Ada, posts/1 = absent");
      assertStringIncludes(example, "refused: invalid_argument");

      // 3. From a clone: another project links to it and imports the client by its JSR name.
      const app = join(tmp, "app");
      await Deno.mkdir(app);
      await Deno.writeTextFile(
        join(app, "deno.json"),
        JSON.stringify({ links: ["../prkdb"] }, null, 2),
      );
      await Deno.writeTextFile(
        join(app, "main.ts"),
        `import { PrkDbClient } from "jsr:@prkdb/prkdb/client";
const read = (f: string) => Deno.readTextFile(\`../prkdb/certs/\${f}\`);
const db = await PrkDbClient.connect(Deno.args, {
  tls: { ca: await read("ca.pem"), cert: await read("client-rw.pem"), key: await read("client-rw.key") },
});
await db.put(["hello"], "world");
console.log(await db.getText(["hello"], { readMode: "follower" }));
db.close();
`,
      );
      await run(app, ["check", "main.ts"], "deno check in a project linking the clone");
      assertEquals(
        (await run(app, ["run", "-A", "main.ts", ...urls], "the linked app")).trim(),
        "world",
      );
    } finally {
      // 4. Stop the cluster by its PID; it stops the nodes it started.
      Deno.kill(cluster.pid, "SIGTERM");
      const status = await cluster.status;
      await Promise.all([out.done, err.done]);
      assertEquals(status.code, 0, `${out.text}\n${err.text}`);
    }
    assertStringIncludes(out.text, "All nodes stopped.");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
