import { assert, assertEquals } from "@std/assert";
import { servePlayground } from "./server.ts";

Deno.test("play server: the page, its bundled script and the golden scripts, on 127.0.0.1", async () => {
  const server = await servePlayground({ port: 0 });
  try {
    assert(/^http:\/\/127\.0\.0\.1:\d+\/$/.test(server.url), server.url);
    const get = (path: string) => fetch(new URL(path, server.url));
    const page = await get("");
    assertEquals(page.headers.get("content-type"), "text/html; charset=utf-8");
    assert((await page.text()).includes('<script type="module" src="app.js">'));
    const app = await (await get("app.js")).text();
    assert(app.includes("var RaftNode = class"), "the real core is in the bundle");
    assert(!/\bDeno\./.test(app), "nothing in the bundle needs Deno");
    const names: string[] = await (await get("golden/")).json();
    assert(names.includes("figure8.txt"), names.join());
    const figure8 = await (await get("golden/figure8.txt")).text();
    assertEquals(
      figure8,
      await Deno.readTextFile(new URL("../tests/golden/figure8.txt", import.meta.url)),
    );
    for (const path of ["golden/nope.txt", "golden/..%2Fdeno.json", "deno.json"]) {
      const res = await get(path);
      await res.body?.cancel();
      assertEquals(res.status, 404, path);
    }
    const post = await fetch(server.url, { method: "POST" });
    await post.body?.cancel();
    assertEquals(post.status, 405);
  } finally {
    await server.shutdown();
  }
});
