import { assertEquals } from "@std/assert";
import { DISCARDED_HEADERS, HeaderMap } from "./header_map.ts";

Deno.test("HeaderMap keeps what a Headers object would, names in lower case", () => {
  const mine = new HeaderMap({ "content-type": "application/json" });
  const web = new Headers({ "content-type": "application/json" });
  for (const h of [mine, web]) {
    h.set("Prkdb-Leader", "2");
    h.append("Vary", "a");
    h.append("vary", "b");
    h.set("X-Gone", "1");
    h.delete("x-GONE");
  }
  const seen: [string, string][] = [];
  mine.forEach((value, name) => seen.push([name, value]));
  assertEquals(Object.fromEntries(seen), Object.fromEntries(web.entries()));
  assertEquals({ ...mine.record() }, Object.fromEntries(web.entries()));
  assertEquals([mine.get("PRKDB-LEADER"), mine.has("vary"), mine.get("x-gone")], ["2", true, null]);
});

Deno.test("HeaderMap takes headers named like Object's own properties as plain headers", () => {
  const h = new HeaderMap();
  assertEquals([h.get("constructor"), h.has("toString")], [null, false]);
  h.append("constructor", "x");
  h.set("__proto__", "y");
  assertEquals([h.get("constructor"), h.get("__proto__")], ["x", "y"]);
  assertEquals(Object.keys(h.record()), ["constructor", "__proto__"]);
});

Deno.test("DISCARDED_HEADERS keeps nothing a handler sets, so calls sharing it see none of it", () => {
  DISCARDED_HEADERS.set("x-trailer", "1");
  DISCARDED_HEADERS.append("x-trailer", "2");
  assertEquals(DISCARDED_HEADERS.get("x-trailer"), null);
  assertEquals(DISCARDED_HEADERS.has("x-trailer"), false);
  const seen: string[] = [];
  DISCARDED_HEADERS.forEach((_v, k) => seen.push(k));
  assertEquals(seen, []);
});
