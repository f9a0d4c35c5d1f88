/**
 * The backup file of `cli.ts snapshot`: a well-formed file reads back; a file of another format
 * or version, a truncated one, a damaged one and one with a wrong count are refused, each with
 * a message that says which.
 */
import { assertEquals, assertRejects } from "@std/assert";
import { createHash } from "node:crypto";
import { join } from "@std/path";
import { readSnapshot, SnapshotFileError } from "../cli/snapshot.ts";

function file(lines: string[], end?: { entries?: number; sha256?: string }): string {
  const body = lines.map((l) => l + "\n").join("");
  const sha256 = createHash("sha256").update(body).digest("hex");
  return body + JSON.stringify({ end: true, entries: lines.length - 1, sha256, ...end }) + "\n";
}

const header = (version = 1, format = "prkdb-snapshot") =>
  JSON.stringify({ format, version, createdAt: "2026-11-30T00:00:00.000Z", partitions: 2 });
const entry = JSON.stringify({ key: btoa("k"), value: btoa("\u00ff\u0000"), version: "7" });

Deno.test("snapshot file: a good file reads back; every kind of bad file is refused by name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prkdb-snap-" });
  try {
    const write = async (name: string, text: string) => {
      await Deno.writeTextFile(join(dir, name), text);
      return join(dir, name);
    };
    const good = await readSnapshot(await write("good", file([header(), entry])));
    assertEquals(good.partitions, 2);
    assertEquals(good.entries, [{
      key: new TextEncoder().encode("k"),
      value: new Uint8Array([255, 0]),
      version: "7",
    }]);
    const cases: [string, string, string][] = [
      ["other", file([header(1, "something-else"), entry]), "is not a PrkDB backup"],
      ["newer", file([header(3), entry]), "format version 3; this program reads versions 1 and 2"],
      ["truncated", [header(), entry].join("\n") + "\n", "is truncated"],
      ["damaged", file([header(), entry]).replace('"7"', '"8"'), "is damaged"],
      ["count", file([header(), entry], { entries: 5 }), "holds 1 entries, its end marker says 5"],
      ["text", "hello\n", "is not JSON"],
    ];
    for (const [name, text, message] of cases) {
      await assertRejects(
        async () => await readSnapshot(await write(name, text)),
        SnapshotFileError,
        message,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
