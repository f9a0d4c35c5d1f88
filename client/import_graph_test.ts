/**
 * The client stays light: the module graph of `@prkdb/prkdb/client` (and of the root entry
 * point, which re-exports it) holds no OpenTelemetry and no server, runtime, storage or
 * telemetry module. Read from `deno info --json`, which resolves imports the way Deno does.
 */
import { assert, assertEquals } from "@std/assert";

interface Graph {
  /** Local files, relative to the repository root. */
  files: string[];
  /** npm packages, by name, their dependencies included. */
  npm: string[];
}

const root = new URL("../", import.meta.url);

async function graph(entry: string): Promise<Graph> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(entry, root).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { kind?: string; specifier: string; npmPackage?: string }[];
    npmPackages: Record<string, { name: string; dependencies: string[] }>;
  };
  const files = info.modules
    .filter((m) => m.specifier.startsWith(root.href))
    .map((m) => m.specifier.slice(root.href.length));
  // `npmPackages` describes every package the lock file knows; walk only what the graph uses.
  const seen = new Set<string>();
  const walk = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    for (const dep of info.npmPackages[id]?.dependencies ?? []) walk(dep);
  };
  for (const m of info.modules) if (m.npmPackage) walk(m.npmPackage);
  return { files, npm: [...new Set([...seen].map((id) => info.npmPackages[id]?.name ?? id))] };
}

const HEAVY_FOLDERS = ["server/", "runtime/", "storage/", "telemetry/", "async_replicas/"];

function heavy(g: Graph): string[] {
  return [
    ...g.files.filter((f) => HEAVY_FOLDERS.some((d) => f.startsWith(d))),
    ...g.npm.filter((n) => n.startsWith("@opentelemetry/") || n.startsWith("@peculiar/")),
  ];
}

for (const entry of ["client/mod.ts", "mod.ts"]) {
  Deno.test(`import graph: ${entry} loads no OpenTelemetry, server, runtime or storage`, async () => {
    const g = await graph(entry);
    assert(g.files.includes("client/prkdb_client.ts"), `${entry} should load the client`);
    assertEquals(heavy(g), [], `${entry} pulls in heavy modules`);
    assertEquals(g.npm.sort(), [
      "@bufbuild/protobuf",
      "@connectrpc/connect",
      "@connectrpc/connect-web",
    ]);
  });
}

Deno.test("import graph: the check sees heavy modules where they are (the server)", async () => {
  const h = heavy(await graph("server/mod.ts"));
  assert(h.some((m) => m.startsWith("@opentelemetry/")), h.join(", "));
  assert(h.some((m) => m.startsWith("runtime/")), h.join(", "));
});
