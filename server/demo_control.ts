/**
 * The demo cluster's node actions: pause, resume, kill and restart a node. The launcher
 * (`cli.ts cluster`) owns the node processes, so it runs them, from its console or from the
 * cluster view's buttons. For the page, it serves them on a control endpoint bound to
 * 127.0.0.1 under an unguessable path, which only nodes started with `--demo-actions` are told;
 * a node passes the page's `POST /demo/node` through to it.
 *
 * @module
 */
import type { NodeSupervisor } from "./cluster_console.ts";

/** What can be done to a node of the demo cluster. */
export type NodeAction = "pause" | "resume" | "kill" | "restart";

const ACTIONS: readonly NodeAction[] = ["pause", "resume", "kill", "restart"];

/**
 * Runs one action on node `id` and says what happened, in a sentence for a person.
 *
 * @param supervisor The launcher's nodes.
 * @param id The node.
 * @param action What to do.
 * @returns What was done.
 * @throws {Error} When the action does not apply (a stopped node cannot be paused).
 *
 * @example Usage
 * ```ts ignore
 * console.log(await runNodeAction(supervisor, 2, "pause")); // "Node 2 paused (SIGSTOP)."
 * ```
 */
export async function runNodeAction(
  supervisor: NodeSupervisor,
  id: number,
  action: NodeAction,
): Promise<string> {
  switch (action) {
    case "pause":
      if (supervisor.paused(id)) return `Node ${id} is already paused.`;
      supervisor.pause(id);
      return `Node ${id} paused (SIGSTOP): it neither answers nor ticks until resumed.`;
    case "resume":
      if (!supervisor.paused(id)) return `Node ${id} is not paused.`;
      supervisor.resume(id);
      return `Node ${id} resumed (SIGCONT).`;
    case "kill":
      await supervisor.kill(id);
      return `Node ${id} killed (SIGKILL); its partitions fail over.`;
    case "restart":
      await supervisor.stop(id);
      await supervisor.start(id);
      return `Node ${id} restarted (pid ${supervisor.pid(id)}).`;
  }
}

/**
 * Serves the node actions for the nodes to pass the page's requests to:
 * `POST <url>/node` with `{"node": id, "action": "pause" | "resume" | "kill" | "restart"}`,
 * and `GET <url>/nodes` for which nodes run and which are paused.
 *
 * @param supervisor The launcher's nodes.
 * @param ids The nodes' ids now (the launcher may add nodes).
 * @param report Told what each action did (the launcher prints it).
 * @returns The control URL (secret path included) and how to close the server.
 *
 * @example Usage
 * ```ts ignore
 * const control = serveNodeActions(supervisor, () => [1, 2, 3], (done) => console.log(done));
 * // start nodes with --demo-actions --demo-control control.url
 * ```
 */
export function serveNodeActions(
  supervisor: NodeSupervisor,
  ids: () => readonly number[],
  report: (done: string) => void = () => {},
): { url: string; close(): Promise<void> } {
  const secret = crypto.randomUUID();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === `/${secret}/nodes` && req.method === "GET") {
      return Response.json(
        ids().map((id) => ({
          id,
          running: supervisor.running(id),
          paused: supervisor.paused(id),
        })),
      );
    }
    if (path !== `/${secret}/node` || req.method !== "POST") {
      return Response.json({ error: "not found" }, { status: 404 });
    }
    let body: { node?: unknown; action?: unknown };
    try {
      body = await req.json();
    } catch {
      return Response.json({ error: 'The body must be JSON: {"node": 2, "action": "kill"}' }, {
        status: 400,
      });
    }
    const { node, action } = body;
    if (!ids().includes(node as number)) {
      return Response.json({ error: `node must be one of ${ids().join(", ")}` }, { status: 400 });
    }
    if (!ACTIONS.includes(action as NodeAction)) {
      return Response.json({ error: `action must be one of ${ACTIONS.join(", ")}` }, {
        status: 400,
      });
    }
    try {
      const done = await runNodeAction(supervisor, node as number, action as NodeAction);
      report(done);
      return Response.json({ node, action, done });
    } catch (error) {
      return Response.json({ error: (error as Error).message }, { status: 409 });
    }
  });
  const { port } = server.addr as Deno.NetAddr;
  return { url: `http://127.0.0.1:${port}/${secret}`, close: () => server.shutdown() };
}

/**
 * Handles the node's `/demo/node` (POST) and `/demo/nodes` (GET) by passing them to the
 * launcher's control endpoint.
 *
 * @param request The page's request.
 * @param control The control URL the launcher gave this node.
 * @returns The launcher's answer, or 503 when it does not answer.
 *
 * @example Usage
 * ```ts ignore
 * if (path === "/demo/node") return relayNodeAction(request, controlUrl);
 * ```
 */
export async function relayNodeAction(request: Request, control: string): Promise<Response> {
  const path = new URL(request.url).pathname === "/demo/nodes" ? "nodes" : "node";
  try {
    const r = await fetch(`${control}/${path}`, {
      method: request.method,
      headers: { "content-type": "application/json" },
      body: request.method === "POST" ? await request.text() : undefined,
      signal: AbortSignal.timeout(15_000),
    });
    return new Response(r.body, { status: r.status, headers: r.headers });
  } catch (error) {
    return Response.json({ error: `the launcher does not answer: ${(error as Error).message}` }, {
      status: 503,
    });
  }
}
