import { assert, assertEquals, assertNotEquals, assertRejects } from "@std/assert";
import { join } from "@std/path";
import { initCertificates, renewCertificates } from "../server/certs.ts";
import { startHttpServer } from "../server/http_server.ts";
import { TlsConfigError, tlsHttp, TlsReloader } from "./tls.ts";
import { waitFor } from "../tests/support/wait.ts";
import { RAFT_STREAM_PATH } from "../server/raft_stream.ts";

const files = (dir: string, stem: string) => ({
  caFile: join(dir, "ca.pem"),
  certFile: join(dir, `${stem}.pem`),
  keyFile: join(dir, `${stem}.key`),
});

Deno.test("TlsReloader: a renewed certificate is picked up; a broken file keeps the old one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-tls-" });
  try {
    await initCertificates({ dir, nodes: [1] });
    const tls = await TlsReloader.open(files(dir, "node-1"));
    const seen: string[] = [];
    tls.onChange((m) => seen.push(m.cert));
    assertEquals(await tls.reload(), false, "nothing changed yet");
    const first = tls.current.cert;
    await renewCertificates({ dir, nodes: [1] });
    assertEquals(await tls.reload(true), true);
    assertNotEquals(tls.current.cert, first);
    assertEquals(seen, [tls.current.cert]);
    const good = tls.current;
    await Deno.writeTextFile(join(dir, "node-1.pem"), "half a file");
    await assertRejects(() => tls.reload(true), TlsConfigError, "does not hold a PEM certificate");
    assertEquals(tls.current, good);
    // Half a rotation: a new key beside the old certificate is refused, not installed.
    await Deno.writeTextFile(join(dir, "node-1.pem"), good.cert);
    await Deno.copyFile(join(dir, "client-rw.key"), join(dir, "node-1.key"));
    await assertRejects(() => tls.reload(true), TlsConfigError, "does not belong to");
    // A certificate from another CA is refused.
    await Deno.writeTextFile(join(dir, "node-1.key"), good.key);
    const other = await Deno.makeTempDir({ prefix: "prkdb-tls-other-" });
    await initCertificates({ dir: other, nodes: [1] });
    await Deno.copyFile(join(other, "node-1.pem"), join(dir, "node-1.pem"));
    await Deno.copyFile(join(other, "node-1.key"), join(dir, "node-1.key"));
    await assertRejects(() => tls.reload(true), TlsConfigError, "is not signed by the CA");
    await Deno.remove(other, { recursive: true });
    assertEquals(tls.current, good);
    tls.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TlsReloader: watching notices renewed files without a signal", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-tls-" });
  try {
    await initCertificates({ dir, nodes: [1] });
    const tls = await TlsReloader.open(files(dir, "node-1"));
    const first = tls.current.cert;
    tls.watch(20);
    await renewCertificates({ dir, nodes: [1] });
    await waitFor("the reloader to pick up the new certificate", () => tls.current.cert !== first);
    tls.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TlsReloader: missing files are a clear error", async () => {
  await assertRejects(
    () => TlsReloader.open(files("/nonexistent-prkdb", "node-1")),
    TlsConfigError,
    "cannot read /nonexistent-prkdb/ca.pem",
  );
});

/**
 * Two CAs, each with node certificates for nodes 1 and 2 (`dir`, and `next` altogether another),
 * node 1's reloader on `dir`, and `moveToNext` to put node 1 on the other CA and reload.
 */
async function twoCas(
  run: (
    ctx: { dir: string; next: string; tls: TlsReloader; moveToNext: () => Promise<void> },
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-tls-" });
  const next = await Deno.makeTempDir({ prefix: "prkdb-tls-next-" });
  try {
    await initCertificates({ dir, nodes: [1, 2] });
    await initCertificates({ dir: next, nodes: [1, 2] });
    const tls = await TlsReloader.open(files(dir, "node-1"));
    const moveToNext = async () => {
      for (const f of ["ca.pem", "node-1.pem", "node-1.key"]) {
        await Deno.copyFile(join(next, f), join(dir, f));
      }
      assert(await tls.reload(true));
    };
    try {
      await run({ dir, next, tls, moveToNext });
    } finally {
      tls.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(next, { recursive: true });
  }
}

Deno.test("mutual TLS: after a reload the server presents and trusts the new files", async () => {
  await twoCas(async ({ dir, next, tls, moveToNext }) => {
    const server = await startHttpServer({
      hostname: "127.0.0.1",
      port: 0,
      tls,
      handler: () => new Response("ok"),
    });
    const url = `https://127.0.0.1:${server.port}/prkdb.v1.RaftService/Heartbeat`;
    const oldPeer = tlsHttp(await TlsReloader.open(files(dir, "node-2")));
    const newPeer = tlsHttp(await TlsReloader.open(files(next, "node-2")));
    const call = (peer: typeof oldPeer) =>
      peer.fetch(url, { method: "POST", body: "{}" }).then((r) => r.text(), () => "refused");
    assertEquals([await call(oldPeer), await call(newPeer)], ["ok", "refused"]);
    await moveToNext();
    assertEquals(await call(newPeer), "ok");
    oldPeer.close();
    newPeer.close();
    await server.close();
  });
});

Deno.test("mutual TLS: a CA bundle lets certificates of the old and the new CA meet during a CA rotation", async () => {
  const old = await Deno.makeTempDir({ prefix: "prkdb-tls-old-" });
  const next = await Deno.makeTempDir({ prefix: "prkdb-tls-next-" });
  try {
    await initCertificates({ dir: old, nodes: [1, 2] });
    await initCertificates({ dir: next, nodes: [1, 2] });
    const bundle = (await Deno.readTextFile(join(old, "ca.pem"))) +
      (await Deno.readTextFile(join(next, "ca.pem")));
    const read = (dir: string, f: string) => Deno.readTextFile(join(dir, f));
    // Node 1 already has a certificate of the new CA; node 2 still one of the old. Both trust both.
    const server = await startHttpServer({
      hostname: "127.0.0.1",
      port: 0,
      tls: {
        current: {
          ca: bundle,
          cert: await read(next, "node-1.pem"),
          key: await read(next, "node-1.key"),
        },
        onChange() {},
      },
      handler: () => new Response("ok"),
    });
    const peer = tlsHttp({
      current: {
        ca: bundle,
        cert: await read(old, "node-2.pem"),
        key: await read(old, "node-2.key"),
      },
    });
    const r = await peer.fetch(`https://127.0.0.1:${server.port}/prkdb.v1.RaftService/Heartbeat`, {
      method: "POST",
      body: "{}",
    });
    assertEquals([r.status, await r.text()], [200, "ok"]);
    peer.close();
    await server.close();
  } finally {
    await Deno.remove(old, { recursive: true });
    await Deno.remove(next, { recursive: true });
  }
});

Deno.test("mutual TLS: new TLS material ends open peer streams, so an old identity cannot keep talking", async () => {
  await twoCas(async ({ dir, tls, moveToNext }) => {
    let received = 0;
    const path = RAFT_STREAM_PATH;
    const server = await startHttpServer({
      hostname: "127.0.0.1",
      port: 0,
      tls,
      streamingPaths: new Set([path]),
      handler: async (request) => {
        try {
          for await (const chunk of request.body!) received += chunk.length;
        } catch { /* the connection was cut */ }
        return new Response("ended");
      },
    });
    const oldPeer = tlsHttp(await TlsReloader.open(files(dir, "node-2")));
    let send!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (send = c) });
    let ended = false;
    const call = oldPeer.fetch(`https://127.0.0.1:${server.port}${path}`, {
      method: "POST",
      body,
      duplex: "half",
    } as RequestInit).then((r) => r.text(), () => "cut").finally(() => ended = true);
    send.enqueue(new Uint8Array(100));
    await waitFor("the first bytes", () => received === 100);
    // The cluster moves to another CA: the old peer's open stream must not outlive it.
    await moveToNext();
    await waitFor("the old stream to end", () => ended);
    try {
      send.enqueue(new Uint8Array(100));
    } catch { /* the body is gone with its connection */ }
    assertEquals(received, 100, "nothing more arrives on it");
    await call;
    oldPeer.close();
    await server.close();
  });
});
