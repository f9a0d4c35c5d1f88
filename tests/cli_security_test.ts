/** The command line refuses to run a node without TLS unless told to, and makes certificates. */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { join } from "@std/path";

const cli = new URL("../cli.ts", import.meta.url).pathname;

async function run(...args: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const td = new TextDecoder();
  return { code: o.code, out: td.decode(o.stdout) + td.decode(o.stderr) };
}

Deno.test("cli: serve without TLS files or --insecure refuses to start", async () => {
  const r = await run("serve", "--id", "1", "--peers", "1=127.0.0.1:1", "--storage", "memory");
  assertEquals(r.code, 2);
  assertMatch(
    r.out,
    /serve needs TLS \(--tls-dir <dir>, or --ca, --cert and --key\) or an explicit --insecure/,
  );
});

Deno.test("cli: certs init makes a CA, node and client certificates and tokens, once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-cli-certs-" });
  try {
    const first = await run("certs", "init", "--dir", dir, "--nodes", "2");
    assertEquals(first.code, 0, first.out);
    for (
      const f of [
        "ca.pem",
        "node-1.pem",
        "node-2.key",
        "client-ro.pem",
        "replica.key",
        "tokens.txt",
      ]
    ) {
      assert((await Deno.stat(join(dir, f))).isFile, f);
    }
    assertEquals((await Deno.stat(join(dir, "ca.key"))).mode! & 0o077, 0, "ca.key is private");
    const again = await run("certs", "init", "--dir", dir);
    assertEquals(again.code, 1);
    assertMatch(again.out, /ca\.key exists; use 'certs renew'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
