/**
 * A page in a real headless Chromium, driven over the DevTools protocol (a WebSocket, no
 * libraries): evaluate JavaScript in it, collect its console errors and uncaught exceptions,
 * take screenshots. Chromium is found on the PATH (`apt-get install chromium`).
 *
 * @module
 */
import { join } from "@std/path";
import { onPath } from "../cluster/prometheus_server.ts";
import { waitFor } from "./wait.ts";

/** The Chromium binary, when installed. */
export const CHROMIUM: string | undefined = onPath("chromium") ?? onPath("chromium-browser");

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** One browser tab and the browser process behind it. */
export class BrowserPage {
  /** Console errors and uncaught exceptions seen so far, as text. */
  readonly errors: string[] = [];
  readonly #process: Deno.ChildProcess;
  readonly #profile: string;
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;

  private constructor(process: Deno.ChildProcess, profile: string, socket: WebSocket) {
    this.#process = process;
    this.#profile = profile;
    this.#socket = socket;
    socket.onmessage = (event) => this.#receive(JSON.parse(event.data));
  }

  /**
   * Starts headless Chromium, opens `url` in it and waits for the load event.
   *
   * @returns The page.
   */
  static async open(url: string, options: { width?: number; height?: number } = {}) {
    if (!CHROMIUM) throw new Error("Chromium is not installed");
    const profile = await Deno.makeTempDir({ prefix: "prkdb-chromium-" });
    const process = new Deno.Command(CHROMIUM, {
      args: [
        "--headless",
        "--no-sandbox", // tests may run as root, where the sandbox refuses to start
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        `--window-size=${options.width ?? 1280},${options.height ?? 1000}`,
        `--user-data-dir=${profile}`,
        "--remote-debugging-port=0", // Chromium writes the port it picked to DevToolsActivePort
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const port = await waitFor("Chromium's DevTools port", async () => {
        const text = await Deno.readTextFile(join(profile, "DevToolsActivePort"));
        return text.split("\n")[0].trim();
      }, 30_000);
      const targets: { type: string; webSocketDebuggerUrl: string }[] = await waitFor(
        "a page target",
        async () => {
          const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
          return list.some((t: { type: string }) => t.type === "page") ? list : undefined;
        },
      );
      const socket = new WebSocket(targets.find((t) => t.type === "page")!.webSocketDebuggerUrl);
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = reject;
      });
      const page = new BrowserPage(process, profile, socket);
      await page.send("Runtime.enable");
      await page.send("Log.enable");
      await page.send("Page.enable");
      await page.send("Page.navigate", { url });
      await waitFor("the page to load", () =>
        page.evaluate(
          `location.href === ${JSON.stringify(url)} && document.readyState === "complete"`,
        ));
      return page;
    } catch (error) {
      process.kill();
      await process.status;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      throw error;
    }
  }

  /** Sends a DevTools command; resolves with its result. */
  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.#nextId;
    this.#socket.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject }));
  }

  /**
   * Evaluates an expression in the page (awaiting it if it is a promise).
   *
   * @returns Its value, which must be JSON-serializable.
   */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const reply = await this.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    }) as { result: { value: T }; exceptionDetails?: { text: string } };
    if (reply.exceptionDetails) {
      throw new Error(`In the page: ${JSON.stringify(reply.exceptionDetails)}`);
    }
    return reply.result.value;
  }

  /** Saves a PNG of the page's viewport. */
  async screenshot(path: string): Promise<void> {
    const { data } = await this.send("Page.captureScreenshot", { format: "png" }) as {
      data: string;
    };
    await Deno.writeFile(path, Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
  }

  /** Closes the connection, stops Chromium and removes its profile. */
  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.#socket.onclose = resolve);
    this.#socket.close();
    await closed;
    this.#process.kill();
    await this.#process.status;
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }

  #receive(msg: {
    id?: number;
    result?: unknown;
    error?: { message: string };
    method?: string;
    params?: Record<string, unknown>;
  }): void {
    if (msg.id !== undefined) {
      const pending = this.#pending.get(msg.id);
      this.#pending.delete(msg.id);
      if (msg.error) pending?.reject(new Error(msg.error.message));
      else pending?.resolve(msg.result);
      return;
    }
    const p = msg.params ?? {};
    if (msg.method === "Runtime.exceptionThrown") {
      this.errors.push(`exception: ${JSON.stringify(p.exceptionDetails)}`);
    } else if (msg.method === "Runtime.consoleAPICalled" && p.type === "error") {
      this.errors.push(`console.error: ${JSON.stringify(p.args)}`);
    } else if (msg.method === "Log.entryAdded") {
      const entry = p.entry as { level: string; text: string; url?: string };
      if (entry.level === "error") this.errors.push(`log: ${entry.text} ${entry.url ?? ""}`);
    }
  }
}
