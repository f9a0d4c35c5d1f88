/**
 * End-to-end security: a three-node cluster of real processes with mutual TLS and tokens,
 * probed by strangers, impostors, read-only clients, forged Raft messages, oversized and slow
 * requests, and a certificate rotation.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { join } from "@std/path";
import { PrkDbClient } from "../../client/mod.ts";
import { RaftFollower } from "../../async_replicas/raft_follower.ts";
import { partitionForKey } from "../../partition/hash.ts";
import { initCertificates, renewCertificates } from "../../server/certs.ts";
import { waitFor } from "../support/wait.ts";
import { b64, ProcessCluster } from "./processes.ts";
import { RAFT_STREAM_PATH } from "../../server/raft_stream.ts";
import { frame, readFrames } from "../../rpc/connect_envelope.ts";

interface Identity {
  ca: string;
  cert?: string;
  key?: string;
}

type Answer = { status: number; json: Record<string, unknown> } | "refused";

/** One Connect JSON call with the given TLS identity and headers; "refused" if no answer. */
async function call(
  url: string,
  path: string,
  body: unknown,
  who: Identity,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const client = Deno.createHttpClient({
    caCerts: [who.ca],
    ...(who.cert && who.key ? { cert: who.cert, key: who.key } : {}),
  });
  try {
    const r = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
      client,
      signal: AbortSignal.timeout(5000),
    });
    return { status: r.status, json: await r.json() };
  } catch {
    return "refused";
  } finally {
    client.close();
  }
}

/**
 * One Connect JSON client stream (the peer stream's method) with the given identity: each batch
 * framed as the streaming protocol frames it. Answers the error code the stream ended with, "ok",
 * or "refused" if there was no answer.
 */
async function callStream(url: string, batches: unknown[], who: Identity): Promise<string> {
  const client = Deno.createHttpClient({
    caCerts: [who.ca],
    ...(who.cert && who.key ? { cert: who.cert, key: who.key } : {}),
  });
  const frames = batches.map((b) => frame(new TextEncoder().encode(JSON.stringify(b))));
  try {
    const r = await fetch(`${url}${RAFT_STREAM_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/connect+json" },
      body: new Blob(frames),
      client,
      signal: AbortSignal.timeout(5000),
    });
    const body = new Uint8Array(await r.arrayBuffer());
    if (r.status !== 200) {
      return String(JSON.parse(new TextDecoder().decode(body)).code ?? r.status);
    }
    // The last frame ends the stream: {} or {"error": {"code": ...}}.
    let last: Uint8Array = new Uint8Array();
    for await (const { message } of readFrames([body], body.length)) last = message;
    return JSON.parse(new TextDecoder().decode(last)).error?.code ?? "ok";
  } catch {
    return "refused";
  } finally {
    client.close();
  }
}

const code = (a: Answer) => a === "refused" ? "refused" : String(a.json.code ?? a.status);

async function identity(dir: string, stem?: string): Promise<Identity> {
  const ca = await Deno.readTextFile(join(dir, "ca.pem"));
  if (!stem) return { ca };
  return {
    ca,
    cert: await Deno.readTextFile(join(dir, `${stem}.pem`)),
    key: await Deno.readTextFile(join(dir, `${stem}.key`)),
  };
}

async function selfSigned(dir: string, uri: string): Promise<Identity> {
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      join(dir, "self.key"),
      "-out",
      join(dir, "self.pem"),
      "-subj",
      `/CN=${uri}`,
      "-addext",
      `subjectAltName=URI:${uri}`,
      "-days",
      "1",
    ],
    stdout: "null",
    stderr: "null",
  }).output();
  assert(out.success);
  return {
    ca: "",
    cert: await Deno.readTextFile(join(dir, "self.pem")),
    key: await Deno.readTextFile(join(dir, "self.key")),
  };
}

/** The serial number of the certificate a node presents, read with openssl s_client. */
async function servedSerial(url: string, certs: string): Promise<string> {
  const { port } = new URL(url);
  const out = await new Deno.Command("sh", {
    args: [
      "-c",
      `openssl s_client -connect 127.0.0.1:${port} -CAfile ${certs}/ca.pem ` +
      `-cert ${certs}/client-ro.pem -key ${certs}/client-ro.key </dev/null 2>/dev/null | ` +
      `openssl x509 -noout -serial`,
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

async function fileSerial(path: string): Promise<string> {
  const out = await new Deno.Command("openssl", {
    args: ["x509", "-noout", "-serial", "-in", path],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

/** Resident memory of a process, from /proc. */
async function rssBytes(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** A partition's commit index, as a node sees it. */
async function commitIndex(url: string, partition: number, who: Identity): Promise<number> {
  const info = await call(url, "/prkdb.v1.KvService/ClusterInfo", {}, who);
  if (info === "refused") throw new Error("ClusterInfo refused");
  const partitions = info.json.partitions as { partition?: number; commitIndex?: string }[];
  return Number(partitions.find((p) => (p.partition ?? 0) === partition)?.commitIndex ?? 0);
}

/** The operations a partition applied after `index` ("" for a leader's no-op). */
async function opsAfter(
  url: string,
  partition: number,
  index: number,
  who: Identity,
): Promise<string[]> {
  const feed = await call(
    url,
    "/prkdb.v1.ReplicationService/GetPartitionChanges",
    { follower: "test", partition, afterIndex: String(index), limit: 1000 },
    who,
  );
  if (feed === "refused") throw new Error("GetPartitionChanges refused");
  return ((feed.json.changes ?? []) as { op?: string }[]).map((c) => c.op ?? "");
}

const raftBatch = (from: number, messages: unknown[]) => ({ from, cluster: "prkdb", messages });

Deno.test("e2e security: strangers, impostors, forgeries, limits and rotation", async (t) => {
  const certs = await Deno.makeTempDir({ prefix: "prkdb-certs-" });
  const foreign = await Deno.makeTempDir({ prefix: "prkdb-foreign-" });
  await initCertificates({ dir: certs, nodes: [1, 2, 3] });
  await initCertificates({ dir: foreign, nodes: [2] });
  const c = await ProcessCluster.start(3, {
    partitions: 2,
    certs,
    extraArgs: ["--request-timeout-ms", "1000"],
  });
  const [u1, u2, u3] = [...c.urls.values()];
  const rw = await identity(certs, "client-rw");
  const ro = await identity(certs, "client-ro");
  const replica = await identity(certs, "replica");
  const node1 = await identity(certs, "node-1");
  const node2 = await identity(certs, "node-2");
  const bare = await identity(certs);
  const tokens = Object.fromEntries(
    (await Deno.readTextFile(join(certs, "tokens.txt"))).split("\n")
      .filter((l) => l && !l.startsWith("#")).map((l) => l.split(" ")),
  );
  const db = await PrkDbClient.connect([u1, u2, u3], { tls: rw });
  try {
    const key = b64("acked");
    const acked = await db.put("acked", "v1");
    const partition = partitionForKey(new TextEncoder().encode("acked"), 2);

    await t.step("strangers can change nothing, read nothing, and leave no trace", async () => {
      // A follower may learn that "acked" committed only after the client heard it did.
      const before = Math.max(await commitIndex(u3, partition, ro), acked.index);
      const self = { ...(await selfSigned(foreign, "prkdb-node-2")), ca: bare.ca };
      const otherCa = { ...(await identity(foreign, "node-2")), ca: bare.ca };
      const forgedAppend = raftBatch(2, [{
        partition,
        from: 2,
        to: 3,
        term: "1000",
        appendEntries: {
          prevLogIndex: "0",
          prevLogTerm: "0",
          leaderCommit: "1",
          entries: [{ index: "1", term: "1000", data: btoa("\x01\x00\x00\x00\x05ackedEVIL") }],
        },
      }]);
      const wipe = raftBatch(2, [{
        partition,
        from: 2,
        to: 3,
        term: "1000",
        installSnapshot: { snapshotIndex: "100000", snapshotTerm: "1000", done: true },
      }]);
      for (const who of [bare, self, otherCa]) {
        const expected = who === bare ? "unauthenticated" : "refused";
        for (
          const [url, path, body] of [
            [u1, "/prkdb.v1.KvService/Put", { key, value: b64("EVIL") }],
            [u1, "/prkdb.v1.KvService/Get", { key }],
            [u3, "/prkdb.v1.RaftService/AppendEntries", forgedAppend],
            [u3, "/prkdb.v1.RaftService/InstallSnapshot", wipe],
            [u3, "/prkdb.v1.ReplicationService/GetPartitionChanges", { partition }],
          ] as const
        ) {
          assertEquals(code(await call(url, path, body, who)), expected, `${path}`);
        }
      }
      // Plain HTTP to a TLS port gets nowhere.
      const plain = await fetch(u1.replace("https", "http") + "/prkdb.v1.KvService/Get", {
        method: "POST",
        body: "{}",
      }).then((r) => r.status, () => "refused");
      assertEquals(plain, "refused");
      // A member certificate cannot speak for another member.
      const impostor = await call(u3, "/prkdb.v1.RaftService/AppendEntries", forgedAppend, node1, {
        // The server sets this header from the certificate; one sent by a caller is dropped.
        "prkdb-verified-node": "2",
      });
      assertEquals(code(impostor), "permission_denied");
      // The same on the peer stream: a batch naming another member ends the stream, and only
      // members may open one.
      assertEquals(await callStream(u3, [forgedAppend], node1), "permission_denied");
      assertEquals(await callStream(u3, [forgedAppend], bare), "unauthenticated");
      assertEquals(await callStream(u3, [forgedAppend], ro), "permission_denied");
      // Batched forwarding between members is not a client API, even for a client that may write.
      const forward = { calls: [{ put: { key, value: b64("EVIL") } }] };
      for (const who of [rw, ro]) {
        assertEquals(
          code(
            await call(u1, "/prkdb.v1.KvService/Forward", forward, who, {
              "prkdb-forwarded": "2",
            }),
          ),
          "permission_denied",
        );
      }
      assertEquals(await db.getText("acked"), "v1");
      // Nothing reached the log: anything after the probe is at most a new leader's no-op.
      const ops = await opsAfter(u3, partition, before, replica);
      assertEquals(ops.filter((op) => op !== ""), [], "no put or delete was appended");
      // The refusals are counted where operators look.
      const metrics = await (await c.fetch(`${u3}/metrics`)).text();
      for (const reason of ["unauthenticated", "unknown_certificate"]) {
        assertMatch(
          metrics,
          new RegExp(`prkdb_requests_refused_total\\{[^}]*reason="${reason}"[^}]*\\} [1-9]`),
        );
      }
      assertMatch(
        metrics,
        /prkdb_raft_messages_refused_total\{[^}]*reason="impostor"[^}]*\} [1-9]/,
      );
    });

    await t.step(
      "forged Raft messages from a member are refused and the cluster serves on",
      async () => {
        const maxTerm = raftBatch(2, [{
          partition,
          from: 2,
          to: 1,
          term: "9007199254740991",
          heartbeat: {},
        }]);
        assertEquals(
          code(await call(u1, "/prkdb.v1.RaftService/Heartbeat", maxTerm, node2)),
          "invalid_argument",
        );
        const garbage = raftBatch(2, [{
          partition,
          from: 2,
          to: 1,
          term: "1",
          installSnapshot: {
            snapshotIndex: "1000",
            snapshotTerm: "1",
            data: btoa("junk"),
            done: true,
          },
        }]);
        assertMatch(
          JSON.stringify(await call(u1, "/prkdb.v1.RaftService/InstallSnapshot", garbage, node2)),
          /invalid_argument.*snapshot refused/,
        );
        await db.put("after-forgery", "ok");
        assertEquals(await db.getText("after-forgery"), "ok");
        assertEquals(await db.getText("acked"), "v1");
      },
    );

    await t.step("roles: no token, a read-only token or certificate cannot write", async () => {
      const put = { key: b64("role"), value: b64("x") };
      const auth = (t: string) => ({ authorization: `Bearer ${t}` });
      const path = "/prkdb.v1.KvService/Put";
      assertEquals(code(await call(u1, path, put, bare)), "unauthenticated");
      assertEquals(
        code(await call(u1, path, put, bare, auth("not-a-token-0123456789"))),
        "unauthenticated",
      );
      assertEquals(
        code(await call(u1, path, put, bare, auth(tokens["read-only"]))),
        "permission_denied",
      );
      assertEquals(code(await call(u1, path, put, ro)), "permission_denied");
      assertEquals(code(await call(u1, path, put, bare, auth(tokens["read-write"]))), "200");
      const get = await call(
        u2,
        "/prkdb.v1.KvService/Get",
        { key: b64("role") },
        bare,
        auth(tokens["read-only"]),
      );
      assertEquals(get !== "refused" && get.json.value, b64("x"));
      // The client takes a token the same way.
      const reader = await PrkDbClient.connect([u2], { tls: bare, token: tokens["read-only"] });
      assertEquals(await reader.getText("role"), "x");
      // Every read works with a read-only token: many keys, a listing, a watch.
      assertEquals((await reader.getMany(["role"]))[0].version !== null, true);
      const listed: string[] = [];
      for await (const e of reader.list({ prefix: "rol" })) {
        listed.push(new TextDecoder().decode(e.key));
      }
      assertEquals(listed, ["role"]);
      const stop = new AbortController();
      const watch = reader.watch({ key: "role" }, { signal: stop.signal });
      const watching = (async () => {
        for await (const _ of watch) break;
      })();
      await waitFor("the read-only watch to start", () => watch.positions.length === 1);
      stop.abort();
      await watching;
      const denied = await reader.put("role", "y").then(() => "written", (e) => e.code);
      assertEquals(denied, "permission_denied");
      reader.close();
      const feed = "/prkdb.v1.ReplicationService/GetPartitionChanges";
      assertEquals(code(await call(u1, feed, { partition }, ro)), "permission_denied");
      assertEquals(code(await call(u1, feed, { partition }, replica)), "200");
      assertEquals(
        code(await call(u1, "/prkdb.v1.RaftService/Heartbeat", raftBatch(1, []), rw)),
        "permission_denied",
      );
    });

    await t.step(
      "a replica certificate follows the change feed; a read-only one cannot",
      async () => {
        const follower = new RaftFollower({
          id: "r1",
          nodes: [u1],
          tls: replica,
          pollIntervalMs: 50,
        });
        await follower.start();
        await waitFor("the replica to see the key", () => follower.getText("acked") === "v1");
        await follower.stop();
        const reader = new RaftFollower({ id: "r2", nodes: [u1], tls: ro, pollIntervalMs: 50 });
        await reader.start();
        await waitFor(
          "the read-only follower to be refused",
          () => reader.getState().errorCount > 0,
        );
        assertMatch(reader.getState().lastError ?? "", /may not call/);
        assertEquals(reader.getText("acked"), undefined);
        await reader.stop();
      },
    );

    await t.step("/health, /metrics, /status.json, /ui stay open, carry no data", async () => {
      const secret = "secret-value-5f3a9c";
      await db.put("secret-key-5f3a9c", secret);
      for (const url of [u1, u2, u3]) {
        for (const path of ["/health", "/metrics", "/status.json", "/ui"]) {
          const r = await c.fetch(`${url}${path}`);
          // Open means no credentials asked: /health may say 503 for a moment (a leadership
          // move after the probes above), which is the truth, not a refusal.
          const open = path === "/health" ? [200, 503] : [200];
          assert(open.includes(r.status), `${url}${path}: ${r.status}`);
          const text = await r.text();
          for (const needle of [secret, btoa(secret), "secret-key", btoa("secret-key-5f3a9c")]) {
            assertEquals(text.includes(needle), false, `${url}${path} shows ${needle}`);
          }
          if (path === "/status.json") {
            // The serving node reached every peer's status over mutual TLS.
            const nodes: { reachable: boolean }[] = JSON.parse(text).nodes;
            assertEquals(nodes.map((n) => n.reachable), [true, true, true], text);
          }
        }
      }
    });

    await t.step("bad input gets invalid_argument", async () => {
      const mode = await call(
        u1,
        "/prkdb.v1.KvService/Get",
        { key, readMode: "READ_MODE_ANY" },
        ro,
      );
      assertEquals(code(mode), "invalid_argument");
      const client = Deno.createHttpClient({ caCerts: [rw.ca], cert: rw.cert, key: rw.key });
      const r = await fetch(`${u1}/prkdb.v1.KvService/Put`, {
        method: "POST",
        headers: { "content-type": "application/proto" },
        body: new Uint8Array([0xff, 0xff, 0xff, 0x0f, 1, 2]),
        client,
      });
      assertEquals([r.status, (await r.json()).code], [400, "invalid_argument"]);
      client.close();
    });

    await t.step("oversized and slow requests are cut off; memory stays bounded", async () => {
      const pid = c.pid(1);
      const rssBefore = await rssBytes(pid);
      const client = Deno.createHttpClient({ caCerts: [rw.ca], cert: rw.cert, key: rw.key });
      let sent = 0;
      const chunk = new Uint8Array(256 * 1024).fill(65);
      const body = new ReadableStream<Uint8Array>({
        pull(ctl) {
          if (sent >= 200 * 1024 * 1024) return ctl.close();
          sent += chunk.length;
          ctl.enqueue(chunk);
        },
      });
      const outcome = await fetch(`${u1}/prkdb.v1.KvService/Put`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        client,
      }).then(async (r) => `${r.status} ${(await r.json()).code}`, () => "cut off");
      assert(["413 resource_exhausted", "cut off"].includes(outcome), outcome);
      assert(sent < 64 * 1024 * 1024, `sent ${sent} bytes before the node hung up`);
      client.close();
      const grew = (await rssBytes(pid)) - rssBefore;
      assert(grew < 64 * 1024 * 1024, `node 1 grew by ${grew} bytes`);
      // A slow sender: headers never finish; the node hangs up after the request timeout while
      // it goes on serving others.
      const conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: Number(new URL(u1).port),
        caCerts: [rw.ca],
        cert: rw.cert,
        key: rw.key,
      });
      await conn.write(
        new TextEncoder().encode("POST /prkdb.v1.KvService/Get HTTP/1.1\r\nHost: a\r\n"),
      );
      const started = performance.now();
      const closed = conn.read(new Uint8Array(1024)).then((n) => n, () => null);
      assertEquals(await db.getText("acked"), "v1");
      assertEquals(await closed, null);
      const elapsed = performance.now() - started;
      assert(elapsed < 5000, `closed after ${elapsed} ms`);
      conn.close();
    });

    await t.step("rotating every certificate keeps the cluster up", async () => {
      const old = await servedSerial(u1, certs);
      await renewCertificates({ dir: certs, nodes: [1, 2, 3] });
      const fresh = await fileSerial(join(certs, "node-1.pem"));
      assert(old !== fresh);
      let writes = 0;
      for (const id of [1, 2, 3]) {
        c.signal(id, "SIGHUP");
        await db.put(`rotation-${id}`, "ok");
        writes++;
      }
      await waitFor(
        "node 1 to present its new certificate",
        async () => (await servedSerial(u1, certs)) === fresh,
      );
      await c.waitHealthy();
      // A client with the new certificate is served; the cluster still replicates.
      const newRw = await identity(certs, "client-rw");
      const db2 = await PrkDbClient.connect([u2], { tls: newRw });
      await db2.put("after-rotation", "ok");
      assertEquals(await db2.getText("after-rotation", { readMode: "follower" }), "ok");
      db2.close();
      assertEquals(writes, 3);
    });
  } finally {
    db.close();
    await c.stop();
    await Deno.remove(certs, { recursive: true });
    await Deno.remove(foreign, { recursive: true });
  }
});
