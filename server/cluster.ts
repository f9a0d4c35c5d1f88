/**
 * `deno task cluster`: a local demo cluster of `serve` processes on 127.0.0.1. It refuses ports
 * already in use, waits until every partition has a leader on its own nodes, and prints where
 * to look. When a node dies the others keep running: it says so, shows partitions failing over,
 * and `restart <n>` on its console starts the node again. Ctrl-C stops every node it started
 * (and only those).
 *
 * @module
 */
// deno-lint-ignore-file no-console -- a command-line program: printing is its job
import { serveNodeActions } from "./demo_control.ts";
import { fillNode } from "../cli/membership.ts";
import { httpFor } from "../cli/connection.ts";
import { join } from "@std/path";
import { delay } from "@std/async";
import type { StorageKind } from "./node.ts";
import { initCertificates, renewCertificates } from "./certs.ts";
import { tlsHttp } from "../rpc/tls.ts";
import {
  NodeSupervisor,
  ownHealth,
  portIsFree,
  readConsole,
  reportLeaders,
} from "./cluster_console.ts";

/** Options of the demo cluster. */
export interface ClusterOptions {
  nodes: number;
  partitions: number;
  storage: StorageKind;
  dir: string;
  basePort: number;
  tickMs: number;
  prometheusFile?: string;
  /** Directory of certificates and tokens (made there if missing); undefined runs insecure. */
  certs?: string;
  /** The CLI module to run for each node. */
  cli: string;
  /** Start the nodes with `--demo-actions`. */
  demoActions?: boolean;
}

/** The demo cluster could not start (a port in use, a node that exited): exit code 1. */
export class ClusterStartError extends Error {}

/** Runs the cluster until SIGINT or SIGTERM. */
export async function runCluster(o: ClusterOptions): Promise<void> {
  const ids = Array.from({ length: o.nodes }, (_, i) => i + 1);
  const ports = o.basePort === 0 ? freePorts(o.nodes) : ids.map((id) => o.basePort + id - 1);
  for (const id of ids) {
    if (ports[id - 1] > 65535) {
      throw new ClusterStartError(`--base-port ${o.basePort} leaves node ${id} no valid port`);
    }
    if (!portIsFree(ports[id - 1])) {
      throw new ClusterStartError(
        `port ${ports[id - 1]} (node ${id}) is already in use on 127.0.0.1: stop what holds it ` +
          `(another cluster?), or pass --base-port <n> or --base-port 0 for free ports`,
      );
    }
  }
  const address = (id: number) => `127.0.0.1:${ports[id - 1]}`;
  const scheme = o.certs ? "https" : "http";
  const urls = ids.map((id) => `${scheme}://${address(id)}`);
  const peers = ids.map((id) => `${id}=${address(id)}`).join(",");
  await Deno.mkdir(o.dir, { recursive: true });
  let security = ["--insecure"];
  let get: typeof fetch = fetch;
  let closeHttp = () => {};
  if (o.certs) {
    await ensureCertificates(o.certs, ids);
    security = ["--tls-dir", o.certs, "--tokens", join(o.certs, "tokens.txt")];
    const http = tlsHttp({ current: { ca: await Deno.readTextFile(join(o.certs, "ca.pem")) } });
    get = http.fetch;
    closeHttp = http.close;
  } else {
    console.error(
      "WARNING: --insecure: plain HTTP and no authentication; anyone who can reach these ports " +
        "can read and write every key.",
    );
  }
  console.log(
    `Starting ${o.nodes} PrkDB nodes (${o.partitions} partitions, ${o.storage} storage) in ${o.dir}/ ...`,
  );
  const supervisor: NodeSupervisor = new NodeSupervisor(o.dir, (id): string[] => [
    "run",
    "-A",
    o.cli,
    "serve",
    "--id",
    String(id),
    // A node added later joins through node 1; on a restart its data dir knows the members.
    ...(id <= o.nodes ? ["--peers", peers] : ["--join", urls[0], "--listen", address(id)]),
    "--data-dir",
    join(o.dir, `node-${id}`),
    "--partitions",
    String(o.partitions),
    "--storage",
    o.storage,
    "--tick-ms",
    String(o.tickMs),
    ...security,
    ...(o.demoActions ? ["--demo-actions", "--demo-control", control!.url] : []),
  ]);
  // With demo actions the page can also pause, kill and restart nodes: this launcher runs them.
  const control = o.demoActions
    ? serveNodeActions(supervisor, () => ids, (done) => console.log(`[cluster view] ${done}`))
    : undefined;
  const watching = new AbortController();
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    watching.abort();
    console.log("\nStopping every node...");
    supervisor.stopAll().then(() => {
      closeHttp();
      control?.close();
      console.log("All nodes stopped.");
      Deno.exit(0);
    });
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  for (const id of ids) await supervisor.start(id);

  const deadline = Date.now() + 60_000;
  let led = 0;
  while (true) {
    // Only this launcher's own nodes count: running, and answering as the node they should be.
    const views = await ownHealth(urls, supervisor, get);
    const leaders = new Map<number, number>();
    for (const v of views) {
      for (const p of v?.partitions ?? []) if (p.leader) leaders.set(p.partition, p.leader);
    }
    if (leaders.size !== led) {
      led = leaders.size;
      console.log(`  ${led} of ${o.partitions} partitions have a leader`);
    }
    if (views.every((v) => v?.healthy) && leaders.size === o.partitions) {
      printSummary(o, urls, leaders);
      console.log(
        ids.map((id) => `  node ${id} pid ${supervisor.pid(id)}`).join("\n") +
          "\nType 'help' for console commands (restart <n>, kill <n>, pause <n>, stop <n>, add-node, status).",
      );
      break;
    }
    const down = ids.filter((id) => !supervisor.running(id));
    if (Date.now() > deadline || stopping || down.length > 0) {
      if (!stopping) {
        console.error(
          down.length > 0
            ? `Node ${down.join(", ")} exited while starting; see ${
              down.map((id) => supervisor.logOf(id)).join(" ")
            }`
            : `The cluster did not elect every leader within 60 s; see the logs in ${o.dir}/`,
        );
      }
      stopping = true;
      watching.abort();
      await supervisor.stopAll();
      closeHttp();
      control?.close();
      throw new ClusterStartError("the cluster did not start");
    }
    await delay(200);
  }
  if (o.prometheusFile) {
    const targets = ids.map((id) => `'${address(id)}'`).join(", ");
    await Deno.writeTextFile(
      o.prometheusFile,
      `scrape_configs:\n  - job_name: prkdb\n    scrape_interval: 5s\n    static_configs:\n      - targets: [${targets}]\n`,
    );
    console.log(`Prometheus scrape config written to ${o.prometheusFile}`);
  }
  reportLeaders(urls, supervisor, get, watching.signal);
  readConsole(() => ids, supervisor, {
    "add-node": async () => {
      if (o.certs) {
        return console.log(
          "add-node runs on --insecure demo clusters (a new node needs a certificate)",
        );
      }
      const id = ids.length + 1;
      ports.push(freePorts(1)[0]);
      ids.push(id);
      urls.push(`${scheme}://${address(id)}`);
      console.log(`Starting node ${id} on ${address(id)}; it joins through node 1 ...`);
      await supervisor.start(id);
      await waitFor(async () => (await ownHealth(urls, supervisor, get))[id - 1] !== undefined);
      console.log(
        `Node ${id} joined. Moving replicas onto it (learner, then voter, then the old replica leaves):`,
      );
      const c = { endpoints: urls, timeoutMs: 5000 };
      const http = httpFor(c);
      try {
        const moved = await fillNode(c, http, id);
        console.log(
          `Node ${id} took ${moved} replica(s); watch ${
            urls[0]
          }/ui, or: deno run -A ${o.cli} member list --endpoints ${urls.join(",")} --insecure`,
        );
      } catch (error) {
        console.log(`Moving replicas failed: ${(error as Error).message}`);
      } finally {
        http.close();
      }
    },
  }).catch(() => {});
  await new Promise(() => {}); // run until a signal
}

/** Waits (up to 30 s) until `check` holds. */
async function waitFor(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await delay(200);
  }
}

/**
 * Ports the system says are free, all different: each is held open until every one is picked,
 * then released for its node (another program could take one in between; the node would then
 * fail to start and say so).
 */
function freePorts(n: number): number[] {
  const listeners = Array.from(
    { length: n },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  return ports;
}

/** Makes the CA, certificates and tokens if the directory lacks them. */
async function ensureCertificates(dir: string, ids: number[]): Promise<void> {
  const has = (f: string) => Deno.stat(join(dir, f)).then(() => true, () => false);
  if (!(await has("ca.key"))) {
    await initCertificates({ dir, nodes: ids });
    console.log(`Created a development CA, certificates and tokens in ${dir}/`);
    return;
  }
  const missing = [];
  for (const id of ids) if (!(await has(`node-${id}.pem`))) missing.push(id);
  if (missing.length > 0) {
    await renewCertificates({ dir, nodes: ids });
    console.log(`Issued certificates for nodes ${missing.join(", ")} in ${dir}/`);
  }
}

function curlAuth(o: ClusterOptions, who: "client-rw" | "client-ro"): string {
  if (!o.certs) return "";
  const c = o.certs;
  return `--cacert ${c}/ca.pem --cert ${c}/${who}.pem --key ${c}/${who}.key `;
}

function cliAuth(o: ClusterOptions): string {
  if (!o.certs) return "--insecure";
  const c = o.certs;
  return `--cacert ${c}/ca.pem --cert ${c}/client-rw.pem --key ${c}/client-rw.key`;
}

function printSummary(o: ClusterOptions, urls: string[], leaders: Map<number, number>): void {
  const leadersLine = [...leaders].sort(([a], [b]) => a - b).map(([p, id]) => `p${p}→${id}`).join(
    " ",
  );
  const key = btoa("hello"), value = btoa("world");
  console.log(`
PrkDB is up: ${o.nodes} nodes, ${o.partitions} partitions, ${o.storage} storage.

${
    urls.map((u, i) =>
      `  node ${i + 1}  ${u}   health: ${u}/health   metrics: ${u}/metrics   log: ${
        join(o.dir, `node-${i + 1}.log`)
      }`
    ).join("\n")
  }

  partition leaders: ${leadersLine}

Watch the cluster live (every node serves it): ${urls[0]}/ui${
    o.demoActions
      ? "\n  (demo actions on: the page can transfer leaders, write keys, and pause, kill or restart nodes)"
      : ""
  }

Write and read with curl (keys and values are base64 in Connect JSON; any node accepts any request):
  curl -s ${
    curlAuth(o, "client-rw")
  }-H 'Content-Type: application/json' -d '{"key":"${key}","value":"${value}"}' ${
    urls[0]
  }/prkdb.v1.KvService/Put
  curl -s ${curlAuth(o, "client-ro")}-H 'Content-Type: application/json' -d '{"key":"${key}"}' ${
    urls.at(-1)
  }/prkdb.v1.KvService/Get
  curl -s ${
    curlAuth(o, "client-ro")
  }-H 'Content-Type: application/json' -d '{"key":"${key}","readMode":"READ_MODE_STALE"}' ${
    urls.at(-1)
  }/prkdb.v1.KvService/Get
  curl -s ${curlAuth(o, "client-ro")}-H 'Content-Type: application/json' -d '{}' ${
    urls[0]
  }/prkdb.v1.KvService/ClusterInfo${
    o.certs
      ? `

Or with a bearer token instead of a client certificate (tokens are in ${o.certs}/tokens.txt):
  curl -s --cacert ${o.certs}/ca.pem -H "Authorization: Bearer $(awk '/^read-write/{print $2}' ${o.certs}/tokens.txt)" \\
    -H 'Content-Type: application/json' -d '{"key":"${key}","value":"${value}"}' ${
        urls[0]
      }/prkdb.v1.KvService/Put`
      : ""
  }

Or from Deno:
  import { PrkDbClient } from "jsr:@prkdb/prkdb/client";
  const db = await PrkDbClient.connect(${JSON.stringify(urls)}${
    o.certs
      ? `, {\n    tls: {\n      ca: await Deno.readTextFile("${o.certs}/ca.pem"),\n      cert: await Deno.readTextFile("${o.certs}/client-rw.pem"),\n      key: await Deno.readTextFile("${o.certs}/client-rw.key"),\n    },\n  }`
      : ""
  });
  await db.put("hello", "world");
  console.log(await db.getText("hello"));

Or with the operator CLI (plain-text keys and values; see docs/operations.md):
  export PRKDB_ENDPOINTS=${urls.join(",")}
  deno run -A cli.ts put hello world ${cliAuth(o)}
  deno run -A cli.ts get hello ${cliAuth(o)}
  deno run -A cli.ts status ${cliAuth(o)}

Node URLs: ${urls.join(" ")}
Press Ctrl-C to stop every node.`);
}
