/**
 * The playground in a real browser: `deno task play`'s command on port 0, the page opened in
 * headless Chromium, no console errors, and `tests/golden/figure8.txt` replayed block by block
 * in the page with the same output as the golden file, the node cards agreeing with each
 * `raft-state` block and the log table with each `raft-log` block. Then free play: a leader is
 * elected, a proposal commits everywhere, the leader crashes and another takes over, the ring
 * shows the messages the table lists, and a message is dropped and another delayed.
 *
 * Screenshots go to `$PRKDB_PLAY_SCREENSHOTS` or a temporary directory, printed at the end.
 * Skips, saying so, when Chromium is not installed.
 */
// deno-lint-ignore-file no-console -- says where the screenshots are
import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { parseScript } from "../../interaction/mod.ts";
import { BrowserPage, CHROMIUM } from "../support/browser.ts";
import { waitFor } from "../support/wait.ts";

const SKIP = CHROMIUM
  ? ""
  : " (skipped: the chromium binary is not installed; apt-get install chromium)";
const ROOT = new URL("../../", import.meta.url);

/** Starts the `play` task's command from deno.json with `--port 0`; returns its URL. */
async function startPlay(): Promise<{ url: string; stop: () => Promise<void> }> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const [deno, ...args] = (config.tasks.play as string).split(" ");
  assertEquals(deno, "deno");
  const child = new Deno.Command(Deno.execPath(), {
    args: [...args, "--port", "0"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let printed = "";
  const url = await waitFor(
    "the playground's URL",
    async () => {
      const { value, done } = await lines.read();
      if (done) throw new Error(`the play server exited: ${printed}`);
      printed += value;
      return printed.match(/PrkDB playground: (http:\/\/127\.0\.0\.1:\d+\/)/)?.[1];
    },
    60_000,
    0,
  );
  return {
    url,
    stop: async () => {
      child.kill();
      await lines.cancel();
      await child.status;
    },
  };
}

Deno.test({
  name: `playground: headless Chromium replays figure8.txt as the golden file says${SKIP}`,
  ignore: SKIP !== "",
  async fn() {
    const shots = Deno.env.get("PRKDB_PLAY_SCREENSHOTS") ??
      await Deno.makeTempDir({ prefix: "prkdb-play-shots-" });
    const play = await startPlay();
    const page = await BrowserPage.open(play.url).catch(async (e) => {
      await play.stop();
      throw e;
    });
    try {
      await waitFor(
        "the script list",
        () =>
          page.evaluate<boolean>(`[...document.querySelectorAll("#scripts option")]
          .some((o) => o.value === "figure8.txt")`),
      );
      assert(await page.evaluate(`document.querySelectorAll(".node").length === 5`));
      await page.screenshot(join(shots, "free_play_start.png"));

      const golden = await Deno.readTextFile(new URL("tests/golden/figure8.txt", ROOT));
      await replayInPage(page, golden, shots);
      await freePlay(page);
      await page.screenshot(join(shots, "free_play_after_crash.png"));
      assertEquals(page.errors, [], "no console errors or exceptions in the page");
    } finally {
      await page.close();
      await play.stop();
    }
    console.log(`playground screenshots: ${shots}`);
  },
});

/** Loads a golden script in the page and checks every block against the file. */
async function replayInPage(page: BrowserPage, golden: string, shots: string): Promise<void> {
  await page.evaluate(`document.getElementById("scripts").value = "figure8.txt";
    document.getElementById("load").click()`);
  await waitFor(
    "the script to load",
    () =>
      page.evaluate<boolean>(`document.getElementById("status").textContent
      .startsWith("Golden script figure8.txt: block 0 of")`),
  );
  const blocks = parseScript(golden);
  const shown: string[] = [];
  for (const [i, block] of blocks.entries()) {
    await page.evaluate(`document.getElementById("step").click()`);
    const text = await waitFor(
      `block ${i + 1} in the page`,
      () =>
        page.evaluate<string | undefined>(`(() => {
        const verdict = document.getElementById("verdict");
        if (verdict.dataset.block !== "${i}") return undefined;
        return verdict.textContent + "\\n" + document.getElementById("trace").textContent;
      })()`),
    );
    const [verdict, ...lines] = text.split("\n");
    assertEquals(
      lines.join("\n"),
      [...block.comments, block.line, "----", ...block.expected].join("\n"),
      `figure8.txt:${block.lineNumber} "${block.line}"`,
    );
    assertEquals(verdict, "Same output as the golden file.");
    shown.push(lines.join("\n"));
    if (block.line === "raft-state") await checkNodeCards(page, block.expected);
    if (block.line.startsWith("raft-log ")) await checkLogRow(page, block.expected[0]);
    if (block.line === "raft-state") {
      await page.screenshot(join(shots, `figure8_line${block.lineNumber}.png`));
    }
  }
  // Block by block, the page showed the whole golden file.
  assertEquals(shown.join("\n\n") + "\n", golden);
}

/** `1: Leader term=3 leader=1 commit=1 last=3@3 (isolated)` against the node cards. */
async function checkNodeCards(page: BrowserPage, expected: readonly string[]): Promise<void> {
  const cards = await page.evaluate<string[]>(`[...document.querySelectorAll(".node")].map((n) =>
    n.dataset.node + ": " + n.dataset.role + " term=" + n.dataset.term + " commit=" +
    n.dataset.commit + (n.classList.contains("isolated") ? " (isolated)" : ""))`);
  assertEquals(
    cards,
    expected.map((line) => line.replace(/ leader=\d+/, "").replace(/ last=\S+/, "")),
  );
}

/** `3: [1@1 noop, 2@2 noop, 3@4 noop]` against node 3's row of the log table. */
async function checkLogRow(page: BrowserPage, expected: string): Promise<void> {
  const [, node, list] = expected.match(/^(\d+): \[(.*)\]$/)!;
  const cells = await page.evaluate<string[]>(`[...document.querySelectorAll(
    '.logs tr[data-node="${node}"] td.entry')].map((c) => c.dataset.index + "@" + c.dataset.term)`);
  assertEquals(cells, [...list.matchAll(/(\d+@\d+)/g)].map((m) => m[1]));
}

/** Steps (by clicking) until the page satisfies `condition`, a JavaScript expression. */
async function stepUntil(page: BrowserPage, what: string, condition: string): Promise<void> {
  await waitFor(
    what,
    async () => {
      if (await page.evaluate<boolean>(condition)) return true;
      await page.evaluate(`for (let i = 0; i < 20; i++) document.getElementById("step").click()`);
      return false;
    },
    60_000,
    0,
  );
}

const LEADER = `document.querySelector('.node[data-role="Leader"]')?.dataset.node`;

/** Free play: elect, propose and commit, crash the leader, elect again. */
async function freePlay(page: BrowserPage): Promise<void> {
  await page.evaluate(`document.getElementById("free").click();
    document.getElementById("seed").value = "7"; document.getElementById("reset").click()`);
  await stepUntil(page, "a leader", `${LEADER} !== undefined`);
  await page.evaluate(`document.getElementById("command").value = "x=42";
    document.getElementById("propose").click()`);
  assert(
    await page.evaluate<boolean>(`document.getElementById("trace").textContent
      .startsWith("proposed at ")`),
    "the leader took the proposal",
  );
  const committedEverywhere = `[...document.querySelectorAll(".logs tr[data-node]")].every((row) =>
    [...row.querySelectorAll("td.entry.committed")].some((c) => c.title.includes("x=42")))`;
  await stepUntil(page, "x=42 committed on every node", committedEverywhere);
  const leader = await page.evaluate<string>(LEADER);
  await page.evaluate(`document.querySelector('.node[data-node="${leader}"] [data-action=crash]')
    .click()`);
  assertEquals(
    await page.evaluate(`document.querySelector('.node[data-node="${leader}"]').dataset.role`),
    "Crashed",
  );
  await stepUntil(page, "a new leader", `(${LEADER} ?? "${leader}") !== "${leader}"`);

  // The ring draws what the message table lists; a message's buttons act on it.
  await stepUntil(
    page,
    "messages on the wire",
    `document.querySelectorAll(
    ".messages tr[data-message]").length >= 2`,
  );
  const ids = () =>
    page.evaluate<string[]>(`[...document.querySelectorAll(".messages tr[data-message]")]
      .map((r) => r.dataset.message)`);
  const dots = await page.evaluate<string[]>(`[...document.querySelectorAll(
    ".ring circle[data-message]")].map((c) => c.dataset.message)`);
  const [first, second] = await ids();
  assertEquals(dots, await ids());
  await page.evaluate(`document.querySelector('tr[data-message="${first}"] [data-action=drop]')
    .click()`);
  assertEquals((await ids()).includes(first), false, "a dropped message leaves the wire");
  await page.evaluate(`document.querySelector('tr[data-message="${second}"] [data-action=delay]')
    .click()`);
  assert(
    await page.evaluate<boolean>(`document.querySelector('tr[data-message="${second}"]')
      .textContent.includes("held until tick")`),
    "a delayed message says until when",
  );
}
