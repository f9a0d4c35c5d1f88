/**
 * The cluster view's node actions in a demo cluster: `cli.ts cluster --demo-actions` started as
 * a learner would, `/ui` opened in headless Chromium, and the page's own buttons used to kill
 * partition 0's leader (the page then shows another leader), restart it, and pause and resume a
 * node. The page logs no errors. Skips, saying so, when Chromium is not installed.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { BrowserPage, CHROMIUM } from "../support/browser.ts";
import { waitFor } from "../support/wait.ts";
import { LauncherProcess } from "./launcher_process.ts";

const SKIP = CHROMIUM
  ? ""
  : " (skipped: the chromium binary is not installed; apt-get install chromium)";

Deno.test({
  name:
    `cluster view: the page kills a leader (a new one shows), restarts, pauses and resumes nodes${SKIP}`,
  ignore: SKIP !== "",
  async fn() {
    const launcher = await LauncherProcess.start(["--demo-actions", "--partitions", "3"]);
    let page: BrowserPage | undefined;
    try {
      assertStringIncludes(launcher.out, "pause, kill or restart nodes");
      const urls = launcher.urls;
      // Open the page on a node that does not lead partition 0: that leader is the victim.
      const leaderOf0 = async () => {
        const doc = await (await fetch(`${urls[0]}/status.json`)).json();
        const replicas = doc.nodes.flatMap((n: { status?: { replicas: unknown[] } }) =>
          n.status?.replicas ?? []
        ) as { partition: number; role: string; leader: number }[];
        return replicas.find((r) => r.partition === 0 && r.role === "Leader")?.leader;
      };
      const victim = await waitFor("partition 0 to have a leader", leaderOf0, 20_000);
      const viewer = victim === 1 ? 2 : 1;
      page = await BrowserPage.open(`${urls[viewer - 1]}/ui`, { width: 1280, height: 900 });
      /** Partition 0's leader as the page shows it (0 while none). */
      const shownLeader = () =>
        page!.evaluate<number>(
          `Number(document.querySelector('tr[data-partition="0"]')?.dataset.leader ?? 0)`,
        );
      const click = (action: string, node: number) =>
        page!.evaluate(
          `document.querySelector('button[data-act="${action}"][data-id="${node}"]').click()`,
        );
      const said = () =>
        page!.evaluate<string>(`document.getElementById("node-action").textContent`);

      await waitFor("the page to show partition 0's leader", shownLeader, 20_000);
      const buttons = await page.evaluate<number>(
        `document.querySelectorAll("button[data-act]").length`,
      );
      assertEquals(buttons, 3 * 4, "pause, resume, kill and restart for each of the 3 nodes");

      const killedAt = Date.now();
      await click("kill", victim);
      await waitFor("the page to report the kill", async () => (await said()).includes("killed"));
      await waitFor(
        "the launcher to report the death",
        () => launcher.out.includes(`Node ${victim} exited`),
      );
      const next = await waitFor(
        "the page to show a new leader for partition 0",
        async () => {
          const shown = await shownLeader();
          return shown !== 0 && shown !== victim ? shown : undefined;
        },
        20_000,
        100,
      );
      assert(next !== victim);
      // Two election timeouts (2 x 20 ticks of 50 ms) plus the page's one-second refresh.
      assert(Date.now() - killedAt < 10_000, `the new leader took ${Date.now() - killedAt} ms`);
      await waitFor(
        `the page to show node ${victim} unreachable`,
        () =>
          page!.evaluate<boolean>(
            `document.querySelector('tr[data-node="${victim}"]').textContent.includes("unreachable")`,
          ),
      );

      await click("restart", victim);
      await waitFor(
        "the page to report the restart",
        async () => (await said()).includes("restarted"),
      );
      await waitFor(
        `the page to show node ${victim} healthy again`,
        () =>
          page!.evaluate<boolean>(
            `/healthy/.test(document.querySelector('tr[data-node="${victim}"]').textContent)`,
          ),
        30_000,
      );

      const other = [1, 2, 3].find((id) => id !== viewer && id !== victim)!;
      await click("pause", other);
      await waitFor("the page to report the pause", async () => (await said()).includes("paused"));
      await waitFor(
        `the page to show node ${other} unreachable while paused`,
        () =>
          page!.evaluate<boolean>(
            `document.querySelector('tr[data-node="${other}"]').textContent.includes("unreachable")`,
          ),
        15_000,
      );
      await click("resume", other);
      await waitFor(
        "the page to report the resume",
        async () => (await said()).includes("resumed"),
      );
      await waitFor(
        `node ${other} to be healthy again`,
        () =>
          page!.evaluate<boolean>(
            `/healthy/.test(document.querySelector('tr[data-node="${other}"]').textContent)`,
          ),
        30_000,
      );
      assertEquals(page.errors, [], "the page logged no errors");
    } finally {
      await page?.close();
      await launcher.stop();
    }
  },
});
