/**
 * Who may call what. A caller is identified by its TLS certificate (signed by the cluster CA)
 * or by a bearer token; each has one role, and each API path names the roles it admits.
 *
 * | Role         | Identified by                                          | May call                                  |
 * | ------------ | ------------------------------------------------------ | ----------------------------------------- |
 * | `node`       | certificate with SAN URI `prkdb-node-<id>`             | everything (Raft, forwarding, change feed) |
 * | `read-write` | certificate with OU `read-write`, or a read-write token | KvService, AdminService reads             |
 * | `read-only`  | certificate with OU `read-only`, or a read-only token   | KvService reads (Get, GetMany, List, Watch, ClusterInfo), Admin reads |
 * | `replica`    | certificate with OU `replica`, or a replica token       | ReplicationService, and what read-only may |
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { NodeId } from "../raft/types.ts";

/**
 * The request header that carries the member id a verified certificate names. The server sets it
 * and removes any a caller sent, so a handler may trust it.
 *
 * @example Usage
 * ```ts
 * import { VERIFIED_NODE } from "@prkdb/prkdb/server";
 * console.log(VERIFIED_NODE); // "prkdb-verified-node"
 * ```
 */
export const VERIFIED_NODE = "prkdb-verified-node";

/**
 * What a caller may do.
 *
 * @example Usage
 * ```ts
 * import type { Role } from "@prkdb/prkdb/server";
 * const role: Role = "read-only";
 * ```
 */
export type Role = "node" | "read-write" | "read-only" | "replica";

/**
 * An authenticated caller.
 *
 * @example Usage
 * ```ts
 * import type { Caller } from "@prkdb/prkdb/server";
 * const c: Caller = { role: "node", node: 2, name: "cert:prkdb-node-2" };
 * ```
 */
export interface Caller {
  /** Its role. */
  readonly role: Role;
  /** For `node`: which member it is. */
  readonly node?: NodeId;
  /** How it identified itself, for logs: `cert:prkdb-node-2`, `token:read-only`. */
  readonly name: string;
}

/**
 * What the server learned about a connection's certificate.
 *
 * @example Usage
 * ```ts
 * import type { PeerCertificate } from "@prkdb/prkdb/server";
 * const cert: PeerCertificate = { authorized: true, ou: "read-write", uris: [] };
 * ```
 */
export interface PeerCertificate {
  /** Whether it chains to the cluster CA. */
  readonly authorized: boolean;
  /** The subject's common name. */
  readonly cn?: string;
  /** The subject's organizational unit (a client's role). */
  readonly ou?: string;
  /** URIs among the subject alternative names. */
  readonly uris: readonly string[];
}

const CLIENT_ROLES: readonly Role[] = ["read-write", "read-only", "replica"];
const NODE_URI = /^prkdb-node-([1-9][0-9]{0,8})$/;

/**
 * The caller a verified certificate stands for: a member (SAN URI `prkdb-node-<id>`) or a
 * client whose OU names its role. An unverified certificate stands for no one.
 *
 * @param cert What the TLS layer saw.
 * @returns The caller, or `undefined`.
 *
 * @example Usage
 * ```ts
 * import { callerFromCertificate } from "@prkdb/prkdb/server";
 * const c = callerFromCertificate({ authorized: true, uris: ["prkdb-node-2"] });
 * console.log(c?.node); // 2
 * ```
 */
export function callerFromCertificate(cert: PeerCertificate): Caller | undefined {
  if (!cert.authorized) return undefined;
  for (const uri of cert.uris) {
    const m = NODE_URI.exec(uri);
    if (m) return { role: "node", node: Number(m[1]), name: `cert:${uri}` };
  }
  const role = CLIENT_ROLES.find((r) => r === cert.ou);
  return role ? { role, name: `cert:${cert.cn ?? "client"}` } : undefined;
}

/**
 * Thrown for a token file that cannot be used.
 *
 * @example Usage
 * ```ts
 * import { TokenFileError } from "@prkdb/prkdb/server";
 * console.log(new TokenFileError("line 3 is wrong").message);
 * ```
 */
export class TokenFileError extends Error {
  /**
   * Creates the error.
   *
   * @param detail What is wrong.
   */
  constructor(detail: string) {
    super(`Token file: ${detail}`);
    this.name = "TokenFileError";
  }
}

const digest = (token: string) => createHash("sha256").update(token).digest();

/**
 * Bearer tokens and their roles. A presented token is hashed and compared with every known
 * token's hash in constant time, so neither the comparison nor the position of a match leaks
 * how much of a guess was right.
 *
 * @example Usage
 * ```ts
 * import { TokenStore } from "@prkdb/prkdb/server";
 * const tokens = TokenStore.parse("read-only s3cret-reader-token-0001\n");
 * console.log(tokens.check("s3cret-reader-token-0001")?.role); // "read-only"
 * ```
 */
export class TokenStore {
  readonly #entries: { hash: Uint8Array; role: Role; name: string }[];

  private constructor(entries: { hash: Uint8Array; role: Role; name: string }[]) {
    this.#entries = entries;
  }

  /**
   * Parses lines of `<role> <token>` (`#` starts a comment). Roles: read-write, read-only,
   * replica. Tokens must be at least 16 characters.
   *
   * @param text The file's contents.
   * @returns The store.
   * @throws {TokenFileError} With the line that is wrong.
   */
  static parse(text: string): TokenStore {
    const entries: { hash: Uint8Array; role: Role; name: string }[] = [];
    text.split("\n").forEach((raw, i) => {
      const line = raw.replace(/#.*/, "").trim();
      if (!line) return;
      const [role, token, extra] = line.split(/\s+/);
      if (!CLIENT_ROLES.includes(role as Role) || !token || extra !== undefined) {
        throw new TokenFileError(
          `line ${i + 1} must be "<read-write|read-only|replica> <token>"`,
        );
      }
      if (token.length < 16) {
        throw new TokenFileError(`line ${i + 1}: a token must be at least 16 characters`);
      }
      entries.push({ hash: digest(token), role: role as Role, name: `token:${role}#${i + 1}` });
    });
    return new TokenStore(entries);
  }

  /**
   * Reads and parses a token file.
   *
   * @param path The file.
   * @returns The store.
   * @throws {TokenFileError} When it cannot be read or parsed.
   */
  static async load(path: string): Promise<TokenStore> {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      throw new TokenFileError(`cannot read ${path}: ${(error as Error).message}`);
    }
    return TokenStore.parse(text);
  }

  /** How many tokens it holds. */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * The caller a token stands for.
   *
   * @param token The presented token.
   * @returns The caller, or `undefined` for an unknown token.
   */
  check(token: string): Caller | undefined {
    const h = digest(token);
    let found: Caller | undefined;
    for (const e of this.#entries) {
      // Every entry is compared, match or not.
      if (timingSafeEqual(h, e.hash) && !found) found = { role: e.role, name: e.name };
    }
    return found;
  }
}

/**
 * Who may call a path: `open` for anyone, else the roles admitted.
 *
 * @example Usage
 * ```ts
 * import type { Access } from "@prkdb/prkdb/server";
 * const a: Access = ["node", "replica"];
 * ```
 */
export type Access = "open" | readonly Role[];

const READERS: readonly Role[] = ["node", "read-write", "read-only", "replica"];
const POLICY: Record<string, Access> = {
  "/health": "open",
  "/metrics": "open",
  // The cluster view and its document: roles, terms and indexes, never keys or values.
  "/ui": "open",
  "/favicon.ico": "open",
  "/status.json": "open",
  // Served only with --demo-actions.
  "/demo/transfer-leader": ["node", "read-write"],
  "/demo/node": ["node", "read-write"],
  "/demo/nodes": ["node", "read-write"],
  "/prkdb.v1.KvService/Put": ["node", "read-write"],
  "/prkdb.v1.KvService/Delete": ["node", "read-write"],
  "/prkdb.v1.KvService/Atomic": ["node", "read-write"],
  // Opening a session appends to the log: writers only.
  "/prkdb.v1.KvService/OpenSession": ["node", "read-write"],
  "/prkdb.v1.KvService/Get": READERS,
  "/prkdb.v1.KvService/GetMany": READERS,
  "/prkdb.v1.KvService/List": READERS,
  "/prkdb.v1.KvService/Watch": READERS,
  "/prkdb.v1.KvService/ClusterInfo": READERS,
  // A consistent copy of a partition, for backups: what a list of every key shows.
  "/admin/partition-snapshot": READERS,
  "/prkdb.v1.AdminService/Health": READERS,
  "/prkdb.v1.AdminService/State": READERS,
  "/prkdb.v1.ReplicationService/GetPartitionChanges": ["node", "replica"],
  "/prkdb.v1.ReplicationService/GetChanges": ["node", "replica"],
};

/**
 * Who may call a path. RaftService, and any path not listed, is for members only.
 *
 * @param path The request path.
 * @returns The access rule.
 *
 * @example Usage
 * ```ts
 * import { accessFor } from "@prkdb/prkdb/server";
 * console.log(accessFor("/prkdb.v1.RaftService/AppendEntries")); // ["node"]
 * ```
 */
export function accessFor(path: string): Access {
  return POLICY[path] ?? ["node"];
}

/** The outcome of {@linkcode authorize}: a caller (undefined when none is needed), or a refusal. */
export type Decision =
  | { readonly ok: true; readonly caller: Caller | undefined }
  | {
    readonly ok: false;
    readonly code: "unauthenticated" | "permission_denied";
    readonly message: string;
  };

const BEARER = /^Bearer\s+(\S+)$/i;

/**
 * Decides whether a request may go on, before its body is read.
 *
 * - Open paths (`/health`, `/metrics`, `/status.json`, `/ui`) are open to anyone; credentials are not even looked at.
 * - A verified certificate decides who the caller is; otherwise a bearer token does.
 * - With TLS, a caller is required and its role must be admitted by the path.
 * - Without TLS (`--insecure`) and without tokens, everything is open. Without TLS but with
 *   tokens, client paths need a token, and members' paths stay open (nothing tells a member
 *   from a stranger without certificates).
 *
 * @param request The path's access rule, the certificate's caller, the Authorization header.
 * @param server Whether TLS is on, and the known tokens.
 * @returns The decision.
 *
 * @example Usage
 * ```ts
 * import { accessFor, authorize } from "@prkdb/prkdb/server";
 * const d = authorize({ access: accessFor("/prkdb.v1.KvService/Put") }, { secure: true });
 * console.log(d.ok ? "go on" : d.code); // "unauthenticated"
 * ```
 */
export function authorize(
  request: { access: Access; certificate?: Caller; authorization?: string },
  server: { secure: boolean; tokens?: TokenStore },
): Decision {
  const { access } = request;
  if (access === "open") return { ok: true, caller: undefined };
  let caller = request.certificate;
  if (!caller && request.authorization && server.tokens) {
    const m = BEARER.exec(request.authorization);
    caller = m ? server.tokens.check(m[1]) : undefined;
    if (!caller) {
      return { ok: false, code: "unauthenticated", message: "The bearer token is not valid" };
    }
  }
  if (!caller) {
    if (!server.secure && (!server.tokens || (access.length === 1 && access[0] === "node"))) {
      return { ok: true, caller: undefined };
    }
    return {
      ok: false,
      code: "unauthenticated",
      message: server.secure
        ? "Present a client certificate signed by the cluster CA or a bearer token"
        : "Present a bearer token (Authorization: Bearer <token>)",
    };
  }
  if (!access.includes(caller.role)) {
    return {
      ok: false,
      code: "permission_denied",
      message: `${caller.name} (${caller.role}) may not call this`,
    };
  }
  return { ok: true, caller };
}
