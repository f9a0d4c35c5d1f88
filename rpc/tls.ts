/**
 * TLS material for a node or a client: the cluster CA, a certificate and its key, read from
 * PEM files and reloaded when they change (on SIGHUP, or when a periodic check sees a new
 * modification time), so certificates can be rotated without a restart.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";

/**
 * Where a node's or a client's TLS files are.
 *
 * @example Usage
 * ```ts
 * import type { TlsFiles } from "@prkdb/prkdb/server";
 * const files: TlsFiles = { caFile: "certs/ca.pem", certFile: "certs/node-1.pem", keyFile: "certs/node-1.key" };
 * ```
 */
export interface TlsFiles {
  /** The cluster CA certificate (PEM) that signs every member's and client's certificate. */
  caFile: string;
  /** This party's certificate (PEM). */
  certFile: string;
  /** This party's private key (PEM). */
  keyFile: string;
}

/**
 * The contents of {@linkcode TlsFiles}.
 *
 * @example Usage
 * ```ts
 * import type { TlsMaterial } from "@prkdb/prkdb/server";
 * const m: TlsMaterial = { ca: "-----BEGIN CERTIFICATE-----...", cert: "...", key: "..." };
 * ```
 */
export interface TlsMaterial {
  /** The CA certificate, PEM. */
  readonly ca: string;
  /** The certificate, PEM. */
  readonly cert: string;
  /** The private key, PEM. */
  readonly key: string;
}

/**
 * Thrown when TLS files are missing or do not hold what they should.
 *
 * @example Usage
 * ```ts
 * import { TlsConfigError } from "@prkdb/prkdb/server";
 * console.log(new TlsConfigError("cannot read ca.pem").message);
 * ```
 */
export class TlsConfigError extends Error {
  /**
   * Creates the error.
   *
   * @param detail What is wrong.
   */
  constructor(detail: string) {
    super(`TLS configuration: ${detail}`);
    this.name = "TlsConfigError";
  }
}

async function readPem(path: string, kind: "CERTIFICATE" | "PRIVATE KEY"): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new TlsConfigError(`cannot read ${path}: ${(error as Error).message}`);
  }
  const looksRight = kind === "CERTIFICATE"
    ? text.includes("-----BEGIN CERTIFICATE-----")
    : /-----BEGIN (EC |RSA )?PRIVATE KEY-----/.test(text);
  if (!looksRight) throw new TlsConfigError(`${path} does not hold a PEM ${kind.toLowerCase()}`);
  return text;
}

/**
 * Reads TLS files.
 *
 * @param files The CA, certificate and key paths.
 * @returns Their contents.
 * @throws {TlsConfigError} When a file is missing or not PEM, the key does not belong to the
 *   certificate, or the CA did not sign it.
 *
 * @example Usage
 * ```ts ignore
 * import { loadTlsFiles } from "@prkdb/prkdb/server";
 * const tls = await loadTlsFiles({ caFile: "certs/ca.pem", certFile: "certs/node-1.pem", keyFile: "certs/node-1.key" });
 * ```
 */
export async function loadTlsFiles(files: TlsFiles): Promise<TlsMaterial> {
  // One after the other, so the first missing file is the one reported.
  const ca = await readPem(files.caFile, "CERTIFICATE");
  const cert = await readPem(files.certFile, "CERTIFICATE");
  const key = await readPem(files.keyFile, "PRIVATE KEY");
  checkMaterial({ ca, cert, key }, files);
  return { ca, cert, key };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The key must belong to the certificate, and one of the CAs must have signed it. */
function checkMaterial(m: TlsMaterial, files: TlsFiles): void {
  let cert: X509Certificate;
  let same: boolean;
  try {
    cert = new X509Certificate(m.cert);
    const spki = (k: KeyObject) => k.export({ type: "spki", format: "der" });
    same = Buffer.compare(spki(cert.publicKey), spki(createPublicKey(createPrivateKey(m.key)))) ===
      0;
  } catch (error) {
    throw new TlsConfigError(
      `${files.certFile} and ${files.keyFile} cannot be read: ${(error as Error).message}`,
    );
  }
  if (!same) {
    throw new TlsConfigError(`the key in ${files.keyFile} does not belong to ${files.certFile}`);
  }
  const signed = (m.ca.match(PEM_CERT) ?? []).some((pem) => {
    try {
      return cert.verify(new X509Certificate(pem).publicKey);
    } catch {
      return false;
    }
  });
  if (!signed) {
    throw new TlsConfigError(`${files.certFile} is not signed by the CA in ${files.caFile}`);
  }
}

async function stamp(files: TlsFiles): Promise<string> {
  const times = await Promise.all(
    [files.caFile, files.certFile, files.keyFile].map((f) =>
      Deno.stat(f).then((s) => `${s.mtime?.getTime()}:${s.size}`, () => "missing")
    ),
  );
  return times.join("|");
}

/**
 * Holds the current TLS material and reloads it from disk on SIGHUP and when the files change.
 * A reload that fails (a half-written file) keeps the previous material and reports the error.
 *
 * @example Rotate on SIGHUP
 * ```ts ignore
 * import { TlsReloader } from "@prkdb/prkdb/server";
 * const tls = await TlsReloader.open({ caFile: "ca.pem", certFile: "n1.pem", keyFile: "n1.key" });
 * tls.onChange((m) => console.log("new certificate", m.cert.length));
 * tls.watch(10_000);
 * ```
 */
export class TlsReloader {
  readonly #files: TlsFiles;
  #material: TlsMaterial;
  #stamp: string;
  readonly #listeners: ((m: TlsMaterial) => void)[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #signal: (() => void) | undefined;

  private constructor(files: TlsFiles, material: TlsMaterial, stamp: string) {
    this.#files = files;
    this.#material = material;
    this.#stamp = stamp;
  }

  /**
   * Loads the files once.
   *
   * @param files Where they are.
   * @returns A reloader holding their contents.
   * @throws {TlsConfigError} When a file is missing or not PEM.
   */
  static async open(files: TlsFiles): Promise<TlsReloader> {
    const s = await stamp(files);
    return new TlsReloader(files, await loadTlsFiles(files), s);
  }

  /** The material in use. */
  get current(): TlsMaterial {
    return this.#material;
  }

  /**
   * Calls `listener` with the new material after each successful reload that changed it.
   *
   * @param listener Called with the new material.
   */
  onChange(listener: (m: TlsMaterial) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Reads the files again if they changed since the last load.
   *
   * @param force Read them even if their times and sizes look the same.
   * @returns Whether the material changed.
   * @throws {TlsConfigError} When the new files cannot be used (the old material stays).
   */
  async reload(force = false): Promise<boolean> {
    const s = await stamp(this.#files);
    if (!force && s === this.#stamp) return false;
    const next = await loadTlsFiles(this.#files);
    this.#stamp = s;
    const m = this.#material;
    if (next.ca === m.ca && next.cert === m.cert && next.key === m.key) return false;
    this.#material = next;
    for (const l of this.#listeners) l(next);
    return true;
  }

  /**
   * Reloads on SIGHUP and every `intervalMs`.
   *
   * @param intervalMs How often to look at the files' modification times (0: only on SIGHUP).
   * @param onError Told about a reload that failed.
   */
  watch(intervalMs: number, onError?: (error: Error) => void): void {
    const run = (force: boolean) => this.reload(force).catch((e) => onError?.(e as Error));
    if (intervalMs > 0) this.#timer = setInterval(() => run(false), intervalMs);
    if (Deno.build.os !== "windows") {
      this.#signal = () => void run(true);
      Deno.addSignalListener("SIGHUP", this.#signal);
    }
  }

  /** Stops watching. */
  close(): void {
    clearInterval(this.#timer);
    if (this.#signal) Deno.removeSignalListener("SIGHUP", this.#signal);
    this.#signal = undefined;
  }
}

/**
 * A `fetch` over TLS, and a way to release its connections.
 *
 * @example Usage
 * ```ts
 * import { type TlsHttp, tlsHttp } from "@prkdb/prkdb/server";
 * const http: TlsHttp = tlsHttp({ current: { ca: "-----BEGIN CERTIFICATE-----..." } });
 * http.close();
 * ```
 */
export interface TlsHttp {
  /** Like the global `fetch`, with the TLS material applied. */
  readonly fetch: typeof fetch;
  /** Closes its HTTP clients. */
  close(): void;
}

/**
 * A `fetch` that speaks TLS with the reloader's current material: it trusts only the cluster
 * CA and presents the certificate (when there is one). After a rotation new requests use the
 * new certificate; the previous HTTP client is kept until the next rotation, so requests in
 * flight can finish.
 *
 * @param tls The material to use.
 * @returns A `fetch` for Connect transports, and `close`.
 *
 * @example Usage
 * ```ts ignore
 * import { createConnectTransport } from "@connectrpc/connect-web";
 * import { TlsReloader, tlsHttp } from "@prkdb/prkdb/server";
 * const tls = await TlsReloader.open({ caFile: "ca.pem", certFile: "n1.pem", keyFile: "n1.key" });
 * const http = tlsHttp(tls);
 * const transport = createConnectTransport({ baseUrl: "https://127.0.0.1:8081", fetch: http.fetch });
 * ```
 */
export function tlsHttp(
  tls: { readonly current: { ca: string; cert?: string; key?: string } },
): TlsHttp {
  let material: { ca: string; cert?: string; key?: string } | undefined;
  let client: Deno.HttpClient | undefined;
  let retired: Deno.HttpClient | undefined;
  return {
    fetch: (input, init) => {
      if (tls.current !== material) {
        retired?.close();
        retired = client;
        material = tls.current;
        client = Deno.createHttpClient({
          // One entry per certificate: a bundle in one string would yield only its first CA.
          caCerts: material.ca.match(PEM_CERT) ?? [material.ca],
          ...(material.cert && material.key ? { cert: material.cert, key: material.key } : {}),
        });
      }
      return fetch(input, { ...init, client });
    },
    close() {
      retired?.close();
      client?.close();
      retired = client = undefined;
      material = undefined;
    },
  };
}
