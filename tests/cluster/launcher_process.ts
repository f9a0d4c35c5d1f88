/**
 * `cli.ts cluster`, the demo launcher, as a test runs it: on free ports, with fast ticks, in a
 * temporary directory, its console on stdin and its output collected.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { join } from "@std/path";
import { waitFor } from "../support/wait.ts";

const cli = new URL("../../cli.ts", import.meta.url).pathname;

/** A running launcher. */
export class LauncherProcess {
  /** Everything it printed on stdout so far. */
  out = "";
  readonly #child: Deno.ChildProcess;
  readonly #dir: string;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reading: Promise<void>;
  readonly #errors: Promise<string>;

  private constructor(child: Deno.ChildProcess, dir: string) {
    this.#child = child;
    this.#dir = dir;
    this.#stdin = child.stdin.getWriter();
    this.#reading = (async () => {
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        this.out += chunk;
      }
    })();
    this.#errors = new Response(child.stderr).text();
  }

  /**
   * Starts `cli.ts cluster --insecure --base-port 0 --tick-ms 50` with `args`, and waits until
   * it says the cluster is up.
   */
  static async start(args: string[]): Promise<LauncherProcess> {
    const dir = await Deno.makeTempDir({ prefix: "prkdb-launcher-" });
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        cli,
        "cluster",
        "--insecure",
        "--base-port",
        "0",
        "--tick-ms",
        "50",
        "--dir",
        join(dir, "data"),
        ...args,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const launcher = new LauncherProcess(child, dir);
    await waitFor("the cluster to be up", () => launcher.out.includes("Type 'help'"), 60_000, 50);
    return launcher;
  }

  /** The nodes' URLs it printed. */
  get urls(): string[] {
    return /Node URLs: (.*)/.exec(this.out)![1].split(" ");
  }

  /** Types a line on its console. */
  async type(line: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(line + "\n"));
  }

  /** Stops it with SIGTERM, checks it exited cleanly, and removes its directory. */
  async stop(): Promise<void> {
    await this.#stdin.close().catch(() => {});
    this.#child.kill("SIGTERM");
    const status = await this.#child.status;
    await this.#reading;
    await this.#errors;
    await Deno.remove(this.#dir, { recursive: true });
    assertEquals(status.code, 0, this.out);
  }
}
