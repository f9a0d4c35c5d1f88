/**
 * The cluster view in a real browser: a three-node cluster of real processes, `/ui` loaded in
 * headless Chromium, a screenshot taken, and the rendered partitions, leaders and terms checked
 * against `/status.json`. Skips, saying so, when Chromium is not installed.
 */
import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { waitFor } from "../support/wait.ts";
import { onPath } from "./prometheus_server.ts";
import { callJson, ProcessCluster } from "./processes.ts";
import type { ClusterStatusJson } from "../../server/status_document.ts";

const CHROMIUM = onPath("chromium") ?? onPath("chromium-browser");
const SKIP = CHROMIUM
  ? ""
  : " (skipped: the chromium binary is not installed; apt-get install chromium)";

/** Runs headless Chromium on a URL with the given extra flags; returns its stdout. */
async function chromium(profile: string, url: string, flags: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(CHROMIUM!, {
    args: [
      "--headless",
      "--no-sandbox", // tests may run as root, where the sandbox refuses to start
      "--disable-gpu",
      "--no-first-run",
      "--hide-scrollbars",
      `--user-data-dir=${profile}`,
      // Lets the page's timers and fetches run (its first update) before the dump or shot.
      "--virtual-time-budget=4000",
      ...flags,
      url,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(90_000),
  }).output();
  const out = new TextDecoder().decode(stdout);
  assertEquals(code, 0, new TextDecoder().decode(stderr).slice(-2000));
  return out;
}

type Row = { partition: number; leader: number; term: number };

/** The partitions, leaders and terms as the rendered page shows them. */
function rowsOf(dom: string): Row[] {
  return [...dom.matchAll(/data-partition="(\d+)" data-leader="(\d+)" data-term="(\d+)"/g)]
    .map(([, p, l, t]) => ({ partition: +p, leader: +l, term: +t }));
}

/** The same from the document: the newest term any replica reports, with its leader. */
function rowsFromDoc(doc: ClusterStatusJson): Row[] {
  const rows: Row[] = [];
  for (let p = 0; p < doc.partitions; p++) {
    const replicas = doc.nodes.flatMap((n) => n.status?.replicas ?? []).filter((r) =>
      r.partition === p
    );
    const term = Math.max(...replicas.map((r) => r.term));
    const leaders = new Set(replicas.filter((r) => r.term === term).map((r) => r.leader));
    leaders.delete(0);
    rows.push({ partition: p, leader: leaders.size === 1 ? [...leaders][0] : -1, term });
  }
  return rows;
}

Deno.test({
  name: `cluster view: headless Chromium renders /ui to match /status.json${SKIP}`,
  ignore: SKIP !== "",
  async fn() {
    const c = await ProcessCluster.start(3, { partitions: 6, extraArgs: ["--demo-actions"] });
    const profile = await Deno.makeTempDir({ prefix: "prkdb-chromium-" });
    try {
      const url = c.urls.get(2)!;
      const put = await callJson(url, "Put", { key: btoa("hello"), value: btoa("world") });
      assertEquals(put.status, 200, JSON.stringify(put.json));
      const status = async () =>
        await (await fetch(`${url}/status.json`)).json() as ClusterStatusJson;

      // Leaders may move while the browser loads (leader balancing): compare with documents
      // taken just before and just after the page, and retry until both agree.
      const { dom, expected } = await waitFor(
        "a page rendered from a steady cluster",
        async () => {
          const before = rowsFromDoc(await status());
          const dom = await chromium(profile, `${url}/ui`, ["--dump-dom"]);
          const after = rowsFromDoc(await status());
          const steady = JSON.stringify(before) === JSON.stringify(after) &&
            before.every((r) => r.leader > 0);
          return steady ? { dom, expected: after } : undefined;
        },
        120_000,
        100,
      );
      assertEquals(rowsOf(dom), expected);
      assertEquals(expected.length, 6);
      assert(dom.includes("3 nodes, 6 partitions, served by node 2"), "the summary line");
      for (const id of [1, 2, 3]) {
        assert(new RegExp(`data-node="${id}"><td>${id}</td>.*?healthy`).test(dom), `node ${id}`);
      }
      // The leader's cell in each row says L, and its term.
      for (const { partition, leader, term } of expected) {
        const row = dom.match(new RegExp(`<tr data-partition="${partition}".*?</tr>`))![0];
        const cells = [
          ...row.matchAll(/<td class="cell (\w+)"[^>]*><span class="role">(\w)<\/span>t(\d+)/g),
        ];
        assertEquals(cells.length, 3, row);
        assertEquals(cells[leader - 1][2], "L", row);
        assertEquals(Number(cells[leader - 1][3]), term, row);
      }
      assert(/started an election for term \d+/.test(dom), "recent elections are listed");
      assert(!dom.includes('id="demo" hidden'), "the demo actions are offered");

      const shot = Deno.env.get("PRKDB_UI_SCREENSHOT") ?? join(profile, "ui.png");
      await chromium(profile, `${url}/ui`, [`--screenshot=${shot}`, "--window-size=1280,900"]);
      const png = await Deno.readFile(shot);
      assertEquals([...png.slice(1, 4)], [0x50, 0x4e, 0x47], "a PNG");
      assert(png.length > 20_000, `a screenshot with content (${png.length} bytes)`);

      // Demo action: hand partition 0 to a follower; every node learns the new leader.
      const doc = await status();
      const leader0 = rowsFromDoc(doc)[0].leader;
      const target = doc.nodes.find((n) => n.id !== leader0)!.id;
      const askedAt = new Date().toISOString();
      const asked = await fetch(`${c.urls.get(target)!}/demo/transfer-leader`, {
        method: "POST",
        body: JSON.stringify({ partition: 0, to: target }),
      });
      assertEquals(await asked.json(), { started: true, leader: leader0 });
      await waitFor(`partition 0's transfer to node ${target} in the document`, async () => {
        const events = (await status()).nodes.flatMap((n) => n.status?.events ?? [])
          .filter((e) => e.time >= askedAt);
        return events.some((e) =>
          e.partition === 0 && e.kind === "transfer" && e.node === target
        ) && events.some((e) => e.partition === 0 && e.kind === "leader" && e.node === target);
      }, 15_000);
    } finally {
      await c.stop();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
});
