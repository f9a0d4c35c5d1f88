/**
 * End-to-end: the operator commands of `cli.ts` as separate processes against real node
 * processes: plain-text get/put/del/list, status, move-leader, a backup that survives wiping
 * the cluster, and the exit codes and messages of mistakes and failures.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { PrkDbClient } from "../../client/mod.ts";
import { initCertificates } from "../../server/certs.ts";
import { waitFor } from "../support/wait.ts";
import { ProcessCluster } from "./processes.ts";
import { runCli } from "./cli_run.ts";

/** A port nothing listens on (the OS picked it free, and it was closed again). */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("cli: help, version, usage mistakes (exit 2) and failures (exit 1), with clear messages", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-cli-" });
  try {
    const damaged = join(dir, "damaged.snap");
    await Deno.writeTextFile(
      damaged,
      '{"format":"prkdb-snapshot","version":1,"createdAt":"x","partitions":1,"positions":[]}\n' +
        '{"key":"aw==","value":"dg==","version":"1"}\n{"end":true,"entries":1,"sha256":"00"}\n',
    );
    const dead = `http://127.0.0.1:${closedPort()}`;
    const [none, version, help, plain, missing, unreachable, restore, badTtl] = await Promise
      .all([
        runCli([]),
        runCli(["--version"]),
        runCli(["get", "--help"]),
        runCli(["get", "k", "--endpoints", dead]),
        runCli(["put", "k", "--endpoints", dead, "--insecure"]),
        runCli(["get", "k", "--endpoints", dead, "--insecure", "--timeout-ms", "500"]),
        runCli(["snapshot", "restore", damaged, "--endpoints", dead, "--insecure"]),
        runCli(["put", "k", "v", "--ttl", "soon", "--endpoints", dead, "--insecure"]),
      ]);
    assertEquals(none.code, 2);
    assertStringIncludes(none.stderr, "a command is required");
    assertStringIncludes(none.stderr, "snapshot");
    assertEquals(version.code, 0);
    assertMatch(version.stdout, /^prkdb \d+\.\d+\.\d+ /);
    assertEquals(help.code, 0);
    assertStringIncludes(help.stdout, "--read-mode");
    assertStringIncludes(help.stdout, "--endpoints");
    assertEquals(plain.code, 2);
    assertStringIncludes(plain.stderr, "pass --insecure");
    assertEquals(missing.code, 2);
    assertStringIncludes(missing.stderr, "put takes <key> <value>");
    assertEquals(unreachable.code, 1);
    assertStringIncludes(unreachable.stderr, "prkdb: ");
    assertEquals(restore.code, 1, restore.stderr);
    assertStringIncludes(restore.stderr, "damaged");
    assertEquals(badTtl.code, 2);
    assertStringIncludes(badTtl.stderr, "--ttl must look like");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: get, put (--ttl), del, list and status in plain text; a backup restored into a wiped cluster has every key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-cli-" });
  let c = await ProcessCluster.start(3, { partitions: 4 });
  try {
    const endpoints = () => ["--endpoints", [...c.urls.values()].join(","), "--insecure"];
    const put = await runCli(["put", "greeting", "hello world", ...endpoints()]);
    assertEquals(put.code, 0, put.stderr);
    assertMatch(put.stdout, /^OK version [0-9a-f]{20}\n$/);
    const get = await runCli(["get", "greeting", "--read-mode", "follower", ...endpoints()]);
    assertEquals([get.code, get.stdout], [0, "hello world\n"]);
    const absent = await runCli(["get", "nobody", ...endpoints()]);
    assertEquals(absent.code, 1);
    assertStringIncludes(absent.stderr, 'key "nobody" not found');
    const ttl = await runCli(["put", "otp", "123456", "--ttl", "1s", ...endpoints()]);
    assertEquals(ttl.code, 0, ttl.stderr);

    const db = await PrkDbClient.connect([...c.urls.values()]);
    try {
      for (let i = 0; i < 40; i++) await db.put(`user/${i}`, `name ${i}`);
      await db.put(new Uint8Array([0, 255, 1]), new Uint8Array([9, 0, 200])); // not UTF-8
      await waitFor("the TTL key to expire", async () => (await db.get("otp")).value === null);
    } finally {
      db.close();
    }
    const list = await runCli(["list", "--prefix", "user/1", ...endpoints()]);
    assertEquals(list.code, 0, list.stderr);
    assertEquals(
      list.stdout,
      ["user/1", "user/10", "user/11", "user/12", "user/13", "user/14", "user/15", "user/16"]
        .concat(["user/17", "user/18", "user/19"]).map((k) => `${k}\tname ${k.slice(5)}\n`).join(
          "",
        ),
    );
    const del = await runCli(["del", "user/0", ...endpoints()]);
    assertEquals([del.code, del.stdout], [0, "deleted\n"]);
    assertEquals((await runCli(["del", "user/0", ...endpoints()])).stdout, "absent\n");

    // One leader row per partition, once no leadership is moving.
    const status = await waitFor(
      "status to show one leader per partition",
      async () => {
        const r = await runCli(["status", ...endpoints()]);
        const leaders = r.stdout.split("\n").filter((l) => /^\d+\s+\d+\s+Leader\s/.test(l));
        return r.code === 0 && leaders.length === 4 ? r : undefined;
      },
      15_000,
      200,
    );
    assertMatch(
      status.stdout,
      /PARTITION\s+NODE\s+ROLE\s+LEADER\s+TERM\s+COMMIT\s+APPLIED\s+LAG_S/,
    );
    // Health is a moment's view (a leadership move makes it briefly unhealthy): wait for it.
    const json = await waitFor(
      "status --json to report a healthy cluster",
      async () => {
        const doc = JSON.parse((await runCli(["status", "--json", ...endpoints()])).stdout);
        return doc.healthy === true ? doc : undefined;
      },
      15_000,
      200,
    );
    assertEquals(json.nodes.length, 3);
    assert(json.nodes[0].health.partitions[0].commitIndex > 0);

    // Back up, wipe the cluster (new data dirs), restore, compare every key and value.
    const file = join(dir, "backup.snap");
    const save = await runCli(["snapshot", "save", file, ...endpoints()]);
    assertEquals([save.code, save.stdout], [0, `Saved 41 keys to ${file}\n`], save.stderr);
    const before = await everything(c);
    assertEquals(before.length, 41);
    const versions = await everything(c, true);
    await c.stop();
    c = await ProcessCluster.start(3, { partitions: 4 });
    assertEquals(await everything(c), []);
    const restore = await runCli(["snapshot", "restore", file, ...endpoints()]);
    assertEquals(restore.code, 0, restore.stderr);
    assertStringIncludes(restore.stdout, "Restored 41 keys");
    assertEquals(await everything(c), before);
    await c.stop();

    // Offline: build every node's data dir of a new cluster from the file, then start it.
    c = await ProcessCluster.start(3, {
      partitions: 4,
      prepare: async (peers, dataDir) => {
        for (const id of [1, 2, 3]) {
          const r = await runCli([
            "snapshot",
            "restore",
            file,
            "--data-dir",
            dataDir(id),
            "--id",
            String(id),
            "--peers",
            peers,
          ]);
          assertEquals(r.code, 0, r.stderr);
          assertStringIncludes(r.stdout, `Restored node ${id} into ${dataDir(id)}`);
        }
        const again = await runCli([
          "snapshot",
          "restore",
          file,
          "--data-dir",
          dataDir(1),
          "--id",
          "1",
          "--peers",
          peers,
        ]);
        assertEquals(again.code, 1);
        assertStringIncludes(again.stderr, "is not empty");
      },
    });
    assertEquals(await everything(c, true), versions, "every key, value and version is back");
    const db2 = await PrkDbClient.connect([...c.urls.values()]);
    try {
      await db2.put("after", "restore"); // the restored cluster takes writes
      assertEquals(await db2.getText("after"), "restore");
    } finally {
      db2.close();
    }
  } finally {
    await c.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Every key and value in the cluster, in order, and with `versions` their versions too (an
 * online restore writes keys anew, so only an offline one keeps them).
 */
async function everything(c: ProcessCluster, versions = false): Promise<string[][]> {
  const db = await PrkDbClient.connect([...c.urls.values()]);
  try {
    const out: string[][] = [];
    for await (const e of db.list({ prefix: "" })) {
      out.push([String(e.key), String(e.value), ...(versions ? [String(e.version)] : [])]);
    }
    return out;
  } finally {
    db.close();
  }
}

Deno.test("cli: over mutual TLS with certificates or a token; move-leader is for members only", async () => {
  const certs = await Deno.makeTempDir({ prefix: "prkdb-certs-" });
  await initCertificates({ dir: certs, nodes: [1, 2, 3] });
  const c = await ProcessCluster.start(3, { partitions: 1, certs });
  try {
    const base = ["--endpoints", [...c.urls.values()].join(","), "--cacert", join(certs, "ca.pem")];
    const as = (
      who: string,
    ) => [...base, "--cert", join(certs, `${who}.pem`), "--key", join(certs, `${who}.key`)];
    const put = await runCli(["put", "k", "v", ...as("client-rw")]);
    assertEquals(put.code, 0, put.stderr);
    const token = (await Deno.readTextFile(join(certs, "tokens.txt"))).split("\n")
      .find((l) => l.startsWith("read-only "))!.split(" ")[1];
    const get = await runCli(["get", "k", ...base, "--token", token]);
    assertEquals([get.code, get.stdout], [0, "v\n"], get.stderr);
    const refused = await runCli(["put", "k", "w", ...base, "--token", token]);
    assertEquals(refused.code, 1);
    assertStringIncludes(refused.stderr, "may not call this");
    const noCa = await runCli(["get", "k", "--endpoints", c.urls.get(1)!]);
    assertEquals(noCa.code, 2);
    assertStringIncludes(noCa.stderr, "need --cacert");

    const leader = (await waitFor("node 1's health", () => c.health(1))).partitions[0].leader;
    const to = leader === 1 ? 2 : 1;
    const client = await runCli([
      "move-leader",
      "--partition",
      "0",
      "--to",
      String(to),
      ...as("client-rw"),
    ]);
    assertEquals(client.code, 1);
    assertStringIncludes(client.stderr, "may not call this");
    const member = await runCli([
      "move-leader",
      "--partition",
      "0",
      "--to",
      String(to),
      ...as("node-3"),
    ]);
    assertEquals(member.code, 0, member.stderr);
    assertStringIncludes(member.stdout, `node ${to} leads`);
  } finally {
    await c.stop();
    await Deno.remove(certs, { recursive: true });
  }
});
