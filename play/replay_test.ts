import { assert, assertEquals } from "@std/assert";
import { ScriptReplay } from "./replay.ts";
import { viewOf } from "./view.ts";

const GOLDEN = new URL("../tests/golden/", import.meta.url);

Deno.test("replay: every golden script gives its recorded output, block by block", () => {
  const names = [...Deno.readDirSync(GOLDEN)].map((e) => e.name).filter((n) => n.endsWith(".txt"));
  assert(names.length > 5, "the golden scripts are there");
  for (const name of names) {
    const replay = new ScriptReplay(Deno.readTextFileSync(new URL(name, GOLDEN)));
    while (!replay.done) {
      const result = replay.next()!;
      assert(result.matches, `${name}:${result.block.lineNumber} ${result.block.line}`);
    }
    assertEquals(replay.next(), undefined);
  }
});

Deno.test("replay: the view follows the script (figure 8's final state)", () => {
  const replay = new ScriptReplay(Deno.readTextFileSync(new URL("figure8.txt", GOLDEN)));
  while (!replay.done) replay.next();
  const nodes = viewOf(replay.env).nodes;
  assertEquals(nodes.map((n) => `${n.id}:${n.role}@${n.term}`), [
    "1:Leader@3",
    "2:Follower@4",
    "3:Follower@4",
    "4:Follower@4",
    "5:Leader@4",
  ]);
  assertEquals(nodes[0].isolated, true);
  // Node 1 still holds 2@1 uncommitted: the entry figure 8 is about.
  assertEquals(nodes[0].log.map((e) => `${e.index}@${e.term}`), ["1@1", "2@1", "3@3"]);
  assertEquals(nodes[0].commitIndex, 1);
  assertEquals(nodes[2].log.map((e) => `${e.index}@${e.term}`), ["1@1", "2@2", "3@4"]);
});

Deno.test("replay: a block whose output differs is reported, not thrown", () => {
  const replay = new ScriptReplay("add-nodes 3\n----\n2 nodes: [1, 2]\n");
  const result = replay.next()!;
  assertEquals(result.matches, false);
  assertEquals(result.output, ["3 nodes: [1, 2, 3]"]);
});
