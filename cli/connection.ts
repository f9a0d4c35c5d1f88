/**
 * How the operator commands reach a cluster: `--endpoints`, TLS files (`--cacert`, `--cert`,
 * `--key`) or a bearer token (`--token`), or `--insecure` for plain HTTP. The same choices as
 * the client's `tls` and `token` options.
 *
 * @module
 */
import { PrkDbClient } from "../client/mod.ts";

/** A command-line mistake: printed with the command's usage hint, exit code 2. */
export class UsageError extends Error {}

/** The flags every operator command takes, for `parseArgs`. */
export const CONNECTION_FLAGS = {
  endpoints: { type: "string" },
  cacert: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  token: { type: "string" },
  insecure: { type: "boolean" },
  "timeout-ms": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Help text for the connection flags, shared by every operator command. */
export const CONNECTION_HELP = `Connection (every operator command):
  --endpoints <urls>    Comma-separated node URLs (default $PRKDB_ENDPOINTS, else
                        https://127.0.0.1:8081). Any node will do; more are tried in turn.
  --cacert <file>       The cluster CA to trust (required for https://; e.g. certs/ca.pem).
  --cert, --key <file>  A client certificate and its key (e.g. certs/client-rw.pem and .key).
  --token <token>       Or a bearer token (default $PRKDB_TOKEN).
  --insecure            Allow plain http:// endpoints (no TLS, no authentication of the nodes).
  --timeout-ms <n>      Time allowed for each call, retries included (default 5000).
  -h, --help            Show this help.`;

/** Where and how to connect, parsed from the connection flags. */
export interface Connection {
  /** Node URLs. */
  readonly endpoints: string[];
  /** TLS material as PEM text, for https endpoints. */
  readonly tls?: { ca: string; cert?: string; key?: string };
  /** A bearer token. */
  readonly token?: string;
  /** Time per call. */
  readonly timeoutMs: number;
}

/** The connection flags' values as `parseArgs` returns them. */
export interface ConnectionValues {
  endpoints?: string;
  cacert?: string;
  cert?: string;
  key?: string;
  token?: string;
  insecure?: boolean;
  "timeout-ms"?: string;
}

async function readPem(file: string, flag: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    throw new UsageError(`${flag} ${file}: ${(error as Error).message}`);
  }
}

/**
 * Checks the connection flags and reads the files they name.
 *
 * @param values The parsed flags.
 * @returns The connection.
 */
export async function connection(values: ConnectionValues): Promise<Connection> {
  const raw = values.endpoints ?? Deno.env.get("PRKDB_ENDPOINTS") ?? "https://127.0.0.1:8081";
  const endpoints = raw.split(",").map((e) => e.trim()).filter(Boolean).map((e) =>
    e.replace(/\/+$/, "")
  );
  if (endpoints.length === 0) throw new UsageError("--endpoints names no URL");
  for (const e of endpoints) {
    if (!/^https?:\/\/[^/\s]+$/.test(e)) {
      throw new UsageError(`--endpoints: "${e}" must look like https://127.0.0.1:8081`);
    }
  }
  const https = endpoints.filter((e) => e.startsWith("https://"));
  if (https.length > 0 && https.length < endpoints.length) {
    throw new UsageError("--endpoints mixes http:// and https:// URLs");
  }
  const token = values.token ?? Deno.env.get("PRKDB_TOKEN");
  if ((values.cert === undefined) !== (values.key === undefined)) {
    throw new UsageError("--cert and --key go together");
  }
  const timeoutMs = values["timeout-ms"] === undefined ? 5000 : Number(values["timeout-ms"]);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new UsageError(`--timeout-ms must be a positive integer, got "${values["timeout-ms"]}"`);
  }
  if (https.length === 0) {
    if (!values.insecure) {
      throw new UsageError(
        `${endpoints[0]} is plain HTTP: pass --insecure to use it (or an https:// endpoint)`,
      );
    }
    if (values.cacert || values.cert) {
      throw new UsageError("--cacert, --cert and --key need https:// endpoints");
    }
    return { endpoints, token, timeoutMs };
  }
  if (values.insecure) throw new UsageError("--insecure is for http:// endpoints only");
  if (!values.cacert) {
    throw new UsageError("https:// endpoints need --cacert (the cluster CA, e.g. certs/ca.pem)");
  }
  const tls = {
    ca: await readPem(values.cacert, "--cacert"),
    ...(values.cert && values.key
      ? { cert: await readPem(values.cert, "--cert"), key: await readPem(values.key, "--key") }
      : {}),
  };
  return { endpoints, tls, token, timeoutMs };
}

/**
 * Connects a client.
 *
 * @param c The connection.
 * @returns The client; close it when done.
 */
export function connect(c: Connection): Promise<PrkDbClient> {
  return PrkDbClient.connect(c.endpoints, {
    timeoutMs: c.timeoutMs,
    ...(c.tls ? { tls: c.tls } : {}),
    ...(c.token ? { token: c.token } : {}),
  });
}

/** A `fetch` for plain HTTP endpoints of the nodes (`/health`, `/admin/...`), and `close`. */
export function httpFor(c: Connection): { fetch: typeof fetch; close(): void } {
  const client = c.tls
    ? Deno.createHttpClient({
      caCerts: c.tls.ca.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ??
        [c.tls.ca],
      ...(c.tls.cert && c.tls.key ? { cert: c.tls.cert, key: c.tls.key } : {}),
    })
    : undefined;
  return {
    fetch: (input, init) => {
      const headers = new Headers(init?.headers);
      if (c.token) headers.set("authorization", `Bearer ${c.token}`);
      return fetch(input, { ...init, headers, ...(client ? { client } : {}) });
    },
    close: () => client?.close(),
  };
}
