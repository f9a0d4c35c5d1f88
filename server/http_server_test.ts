import { assert, assertEquals, assertMatch } from "@std/assert";
import { join } from "@std/path";
import { canonicalPath, type HttpServer, startHttpServer } from "./http_server.ts";
import { initCertificates } from "./certs.ts";
import { waitFor } from "../tests/support/wait.ts";

const te = new TextEncoder();

/** Sends raw bytes and reads until the server answers or closes; returns what it said. */
async function raw(port: number, text: string, deadlineMs = 5000): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(te.encode(text));
    const timer = setTimeout(() => conn.close(), deadlineMs);
    let out = "";
    const buf = new Uint8Array(4096);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        out += new TextDecoder().decode(buf.subarray(0, n));
        if (/\r\n\r\n[\s\S]*\}$/.test(out)) break;
      }
    } catch { /* closed by the deadline or a reset */ }
    clearTimeout(timer);
    return out;
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

async function serve(
  limits: Parameters<typeof startHttpServer>[0]["limits"],
  calls: string[],
): Promise<HttpServer> {
  return await startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    limits,
    async handler(request) {
      const body = await request.arrayBuffer();
      calls.push(`${new URL(request.url).pathname} ${body.byteLength}`);
      return Response.json({ ok: true });
    },
  });
}

const url = (s: HttpServer, path = "/prkdb.v1.KvService/Get") =>
  `http://127.0.0.1:${s.port}${path}`;

Deno.test("http server: an oversized body is cut off while it arrives and never reaches the handler", async () => {
  const calls: string[] = [];
  const s = await serve({ maxBodyBytes: 64 * 1024 }, calls);
  try {
    // Declared too large: refused from the headers alone.
    const declared = await raw(
      s.port,
      "POST /prkdb.v1.KvService/Put HTTP/1.1\r\nHost: x\r\nContent-Length: 209715200\r\n\r\n",
    );
    assertMatch(declared, /^HTTP\/1\.1 413/);
    assertMatch(declared, /"code":"resource_exhausted"/);
    // Streamed with no length: the server stops reading soon after the limit.
    let sent = 0;
    const total = 200 * 1024 * 1024;
    const chunk = new Uint8Array(64 * 1024);
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= total) return c.close();
        sent += chunk.length;
        c.enqueue(chunk);
      },
    });
    // The client sees the 413, or (when still sending as the server hangs up) a broken pipe.
    const code = await fetch(url(s, "/prkdb.v1.KvService/Put"), { method: "POST", body }).then(
      async (r) => `${r.status} ${(await r.json()).code}`,
      () => "cut off",
    );
    assert(["413 resource_exhausted", "cut off"].includes(code), code);
    assert(sent < 32 * 1024 * 1024, `the client got to send ${sent} of ${total} bytes`);
    // The node keeps serving.
    const ok = await fetch(url(s), { method: "POST", body: "{}" });
    assertEquals(ok.status, 200);
    await ok.body?.cancel();
    assertEquals(calls, ["/prkdb.v1.KvService/Get 2"]);
  } finally {
    await s.close();
  }
});

Deno.test("http server: slow headers and slow bodies are cut off while others are served", async () => {
  const calls: string[] = [];
  const s = await serve({ headersTimeoutMs: 300, bodyTimeoutMs: 300 }, calls);
  try {
    const started = performance.now();
    const [headers, body, other] = await Promise.all([
      raw(s.port, "POST /prkdb.v1.KvService/Get HTTP/1.1\r\nHost: x\r\n"),
      raw(
        s.port,
        "POST /prkdb.v1.KvService/Get HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}",
      ),
      fetch(url(s), { method: "POST", body: "{}" }).then((r) => r.text()),
    ]);
    const elapsed = performance.now() - started;
    assertEquals(headers, "", "a request without complete headers is closed without an answer");
    assertMatch(body, /^HTTP\/1\.1 408/);
    assertMatch(body, /"code":"deadline_exceeded"/);
    assertEquals(other, '{"ok":true}');
    assert(elapsed < 3000, `cut off after ${elapsed} ms`);
    assertEquals(calls, ["/prkdb.v1.KvService/Get 2"]);
  } finally {
    await s.close();
  }
});

Deno.test("http server: connections beyond the cap are answered resource_exhausted", async () => {
  const calls: string[] = [];
  const s = await serve({ maxConnections: 2 }, calls);
  const held = [
    await Deno.connect({ hostname: "127.0.0.1", port: s.port }),
    await Deno.connect({ hostname: "127.0.0.1", port: s.port }),
  ];
  try {
    // Both held connections are counted once the server has accepted them.
    const deadline = Date.now() + 5000;
    let answer = "";
    while (Date.now() < deadline) {
      answer = await raw(
        s.port,
        "POST /prkdb.v1.KvService/Get HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
      );
      if (answer.startsWith("HTTP/1.1 429")) break;
    }
    assertMatch(answer, /^HTTP\/1\.1 429/);
    assertMatch(answer, /Too many connections: this node serves at most 2/);
    held.pop()!.close();
    // Once the server has seen that close, there is room again.
    let ok = "";
    while (Date.now() < deadline + 5000 && !ok.startsWith("HTTP/1.1 200")) {
      ok = await raw(
        s.port,
        "POST /prkdb.v1.KvService/Get HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
      );
    }
    assertMatch(ok, /^HTTP\/1\.1 200/);
  } finally {
    for (const c of held) c.close();
    await s.close();
  }
});

Deno.test("https server: a connection that never finishes its TLS handshake is cut off at the header limit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-handshake-" });
  const refused: string[] = [];
  try {
    await initCertificates({ dir, nodes: [1] });
    const read = (f: string) => Deno.readTextFile(join(dir, f));
    const s = await startHttpServer({
      hostname: "127.0.0.1",
      port: 0,
      limits: { headersTimeoutMs: 300 },
      tls: {
        current: {
          ca: await read("ca.pem"),
          cert: await read("node-1.pem"),
          key: await read("node-1.key"),
        },
        onChange() {},
      },
      onRefused: (reason) => refused.push(reason),
      handler: () => new Response("ok"),
    });
    try {
      // A TCP connection that sends nothing: no handshake, no request.
      const started = performance.now();
      const said = await raw(s.port, "", 10_000);
      assertEquals(said, "", "closed without a word");
      const elapsed = performance.now() - started;
      assert(elapsed < 5000, `cut off after ${elapsed} ms`);
      assertEquals(refused, ["timeout"]);
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("http server: a stream that goes silent past the idle limit is cut off, not counted as refused; one that keeps talking is not", async () => {
  const ended: string[] = [];
  const refused: string[] = [];
  const s = await startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    limits: { idleTimeoutMs: 400 },
    onRefused: (reason) => refused.push(reason),
    streamingPaths: new Set(["/stream"]),
    async handler(request) {
      const name = request.headers.get("x-name")!;
      let chunks = 0;
      try {
        for await (const _ of request.body!) chunks++;
        ended.push(`${name} ended ${chunks}`);
      } catch {
        ended.push(`${name} cut off after ${chunks}`);
      }
      return new Response("bye");
    },
  });
  /** A request body that sends a chunk every `everyMs`, `count` times, then goes silent. */
  const open = (name: string, everyMs: number, count: number) => {
    const stop = new AbortController();
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent >= count) return await new Promise<void>(() => {}); // silent from now on
        await new Promise((r) => setTimeout(r, everyMs));
        sent++;
        controller.enqueue(te.encode("x"));
      },
    });
    const done = fetch(url(s, "/stream"), {
      method: "POST",
      headers: { "x-name": name },
      body,
      signal: stop.signal,
      duplex: "half",
    } as RequestInit).then((r) => r.text()).catch(() => "");
    return { stop, done };
  };
  const talker = open("talker", 100, 12); // talks for about 1.2 s, three idle limits
  const quiet = open("quiet", 10, 1);
  try {
    await waitFor("the quiet stream to be cut off", () => ended.some((e) => e.startsWith("quiet")));
    assertEquals(ended.filter((e) => e.startsWith("talker")), [], "still talking, still open");
    await waitFor("the talker to go quiet and be cut off too", () => ended.length === 2);
    assertMatch(ended[1], /^talker cut off after 12$/);
    assertEquals(refused, [], "a quiet stream is no refused request");
  } finally {
    talker.stop.abort();
    quiet.stop.abort();
    await Promise.all([talker.done, quiet.done]);
    await s.close();
  }
});

Deno.test("canonicalPath: the same verdict for a target however often it is asked, also after the table of checked targets turned over", () => {
  const PUT = "/prkdb.v1.KvService/Put";
  const cases: [string, string | undefined][] = [
    [PUT, PUT],
    [`${PUT}?a=1`, PUT],
    [`/x/..${PUT}`, undefined],
    [`/%2e%2e${PUT}`, undefined],
    [`/.${PUT}`, undefined],
    [`${PUT}#a`, undefined],
    [`/x\\..${PUT}`, undefined],
    ["//evil.example/x", undefined],
    ["*", undefined],
    // Long targets are checked every time, not kept.
    [`/${"a".repeat(300)}`, `/${"a".repeat(300)}`],
    [`/${"a".repeat(300)}/..${PUT}`, undefined],
  ];
  for (let pass = 0; pass < 3; pass++) {
    for (const [target, expected] of cases) assertEquals(canonicalPath(target), expected, target);
    // Enough other targets to turn the table over before the next pass.
    for (let i = 0; i < 300; i++) assertEquals(canonicalPath(`/p${pass}/${i}`), `/p${pass}/${i}`);
  }
});
