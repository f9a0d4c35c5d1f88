/**
 * Runs every golden interaction script in `tests/golden/` and compares each command's trace
 * with the expected one under its `----`. `deno task golden:update` rewrites the expectations;
 * review the diff like code.
 */
import { assertEquals } from "@std/assert";
import {
  type Block,
  InteractionEnv,
  parseCommand,
  parseScript,
  printScript,
} from "../../interaction/mod.ts";

const dir = new URL("../golden/", import.meta.url);
const update = Deno.env.get("UPDATE_GOLDEN") === "1";

for (
  const file of [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".txt"))
    .sort()
) {
  Deno.test(`golden: ${file}`, () => {
    const url = new URL(file, dir);
    const blocks: Block[] = parseScript(Deno.readTextFileSync(url));
    const env = new InteractionEnv();
    const outputs = blocks.map((b) => {
      const out = env.run(parseCommand(b.line));
      return out.length > 0 ? out : ["ok"];
    });
    if (update) {
      Deno.writeTextFileSync(url, printScript(blocks, outputs));
      return;
    }
    blocks.forEach((b, i) => {
      assertEquals(
        outputs[i].join("\n"),
        b.expected.join("\n"),
        `${file}:${b.lineNumber} "${b.line}" (run \`deno task golden:update\` to accept a change)`,
      );
    });
  });
}
