/**
 * Development certificates for a cluster: a CA, one certificate per node (SAN URI
 * `prkdb-node-<id>`, usable as server and client), client certificates for each role, and a
 * token file. Made in-process with WebCrypto (EC P-256, ECDSA with SHA-256) and
 * `@peculiar/x509` to write the certificates; nothing else needs to be installed.
 *
 * @module
 */
import { join } from "@std/path";

/**
 * Thrown when certificates cannot be made.
 *
 * @example Usage
 * ```ts
 * import { CertificateError } from "@prkdb/prkdb/server";
 * console.log(new CertificateError("no CA in certs").message);
 * ```
 */
export class CertificateError extends Error {
  /**
   * Creates the error.
   *
   * @param detail What went wrong.
   */
  constructor(detail: string) {
    super(`Certificates: ${detail}`);
    this.name = "CertificateError";
  }
}

/**
 * Options for {@linkcode initCertificates} and {@linkcode renewCertificates}.
 *
 * @example Usage
 * ```ts
 * import type { CertOptions } from "@prkdb/prkdb/server";
 * const o: CertOptions = { dir: "certs", nodes: [1, 2, 3], hosts: ["127.0.0.1", "db1.internal"] };
 * ```
 */
export interface CertOptions {
  /** Where the files go. */
  dir: string;
  /** Node ids to issue certificates for. */
  nodes: readonly number[];
  /** Host names and IP addresses the nodes answer on. Default `127.0.0.1`, `localhost`. */
  hosts?: readonly string[];
  /** Days the certificates are valid. Default 365. */
  days?: number;
}

/**
 * The client certificates made, by file stem, with the role each carries (its OU).
 *
 * @example Usage
 * ```ts
 * import { CLIENT_CERTS } from "@prkdb/prkdb/server";
 * console.log(CLIENT_CERTS["client-ro"]); // "read-only"
 * ```
 */
export const CLIENT_CERTS: Readonly<Record<string, string>> = {
  "client-rw": "read-write",
  "client-ro": "read-only",
  "replica": "replica",
};

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const IPV4 = /^(\d{1,3}\.){3}\d{1,3}$/;

/** The X.509 library, loaded only when certificates are made (it needs a Reflect polyfill). */
async function x509() {
  await import("reflect-metadata");
  const lib = await import("@peculiar/x509");
  lib.cryptoProvider.set(crypto);
  return lib;
}

type X509 = Awaited<ReturnType<typeof x509>>;

function serial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f; // positive
  bytes[0] |= 0x10; // no leading zero byte
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function writeKey(lib: X509, path: string, key: CryptoKey): Promise<void> {
  const der = await crypto.subtle.exportKey("pkcs8", key);
  await Deno.writeTextFile(path, lib.PemConverter.encode(der, "PRIVATE KEY"), { mode: 0o600 });
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  // A minute in the past, so a clock slightly behind still accepts a fresh certificate.
  const notBefore = new Date(Date.now() - 60_000);
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * 86_400_000) };
}

async function loadCa(
  lib: X509,
  dir: string,
): Promise<{ cert: InstanceType<X509["X509Certificate"]>; key: CryptoKey }> {
  let pemCert: string, pemKey: string;
  try {
    [pemCert, pemKey] = await Promise.all([
      Deno.readTextFile(join(dir, "ca.pem")),
      Deno.readTextFile(join(dir, "ca.key")),
    ]);
  } catch {
    throw new CertificateError(`no CA in ${dir}; run 'certs init' first`);
  }
  try {
    const cert = new lib.X509Certificate(pemCert);
    const der = lib.PemConverter.decodeFirst(pemKey);
    const key = await crypto.subtle.importKey("pkcs8", der, ALG, false, ["sign"]);
    return { cert, key };
  } catch (error) {
    throw new CertificateError(
      `${dir}/ca.pem and ca.key must be an EC P-256 certificate and PKCS#8 key: ${
        (error as Error).message
      }`,
    );
  }
}

/**
 * Issues (or reissues) every node and client certificate with the existing CA in `dir`. Running
 * nodes pick the new files up on SIGHUP or within their reload interval.
 *
 * @param options Where, for which nodes and hosts.
 * @returns The files written.
 * @throws {CertificateError} When there is no usable CA.
 *
 * @example Usage
 * ```ts ignore
 * import { renewCertificates } from "@prkdb/prkdb/server";
 * await renewCertificates({ dir: "certs", nodes: [1, 2, 3] });
 * ```
 */
export async function renewCertificates(options: CertOptions): Promise<string[]> {
  const lib = await x509();
  const { dir } = options;
  const ca = await loadCa(lib, dir);
  const hosts = options.hosts ?? ["127.0.0.1", "localhost"];
  const days = options.days ?? 365;
  const issue = async (
    stem: string,
    subject: string,
    names: { type: "url" | "ip" | "dns"; value: string }[],
    usages: string[],
  ) => {
    const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
    const cert = await lib.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject,
      issuer: ca.cert.subject,
      ...validity(days),
      signingAlgorithm: ALG,
      publicKey: keys.publicKey,
      signingKey: ca.key,
      extensions: [
        new lib.BasicConstraintsExtension(false, undefined, true),
        new lib.KeyUsagesExtension(lib.KeyUsageFlags.digitalSignature, true),
        new lib.ExtendedKeyUsageExtension(usages),
        new lib.SubjectAlternativeNameExtension(names),
        await lib.AuthorityKeyIdentifierExtension.create(ca.cert),
      ],
    });
    // Key first: a node reloading between the two writes sees a mismatch and keeps the old pair.
    await writeKey(lib, join(dir, `${stem}.key`), keys.privateKey);
    await Deno.writeTextFile(join(dir, `${stem}.pem`), cert.toString("pem"));
    return [`${stem}.pem`, `${stem}.key`];
  };
  const hostNames = hosts.map((h) => ({
    type: IPV4.test(h) || h.includes(":") ? "ip" as const : "dns" as const,
    value: h,
  }));
  const written: string[] = [];
  for (const id of options.nodes) {
    written.push(
      ...await issue(
        `node-${id}`,
        `O=PrkDB, CN=prkdb-node-${id}`,
        [{ type: "url", value: `prkdb-node-${id}` }, ...hostNames],
        [SERVER_AUTH, CLIENT_AUTH],
      ),
    );
  }
  for (const [stem, role] of Object.entries(CLIENT_CERTS)) {
    written.push(
      ...await issue(
        stem,
        `O=PrkDB, OU=${role}, CN=prkdb-${stem}`,
        [{ type: "url", value: `prkdb-${stem}` }],
        [CLIENT_AUTH],
      ),
    );
  }
  return written;
}

/**
 * A bearer token: 24 random bytes in base64url, after a fixed `prk_` prefix, so the token never
 * starts with "-" (a command line would read it as an option: `--token -x...`).
 */
function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return "prk_" + btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_");
}

/**
 * Creates a development CA, every node and client certificate, and `tokens.txt` (one
 * read-write and one read-only bearer token). Refuses to replace an existing CA.
 *
 * @param options Where, for which nodes and hosts.
 * @returns The files written.
 * @throws {CertificateError} When a CA exists already.
 *
 * @example Usage
 * ```ts ignore
 * import { initCertificates } from "@prkdb/prkdb/server";
 * await initCertificates({ dir: "certs", nodes: [1, 2, 3] });
 * ```
 */
export async function initCertificates(options: CertOptions): Promise<string[]> {
  const { dir } = options;
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const exists = await Deno.stat(join(dir, "ca.key")).then(() => true, () => false);
  if (exists) {
    throw new CertificateError(
      `${dir}/ca.key exists; use 'certs renew' to reissue certificates, or remove ${dir}`,
    );
  }
  const lib = await x509();
  const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const ca = await lib.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    // A distinct name per CA: during a CA rotation both sit in one bundle, and verifiers pick
    // the issuer by name.
    name: `O=PrkDB, CN=PrkDB development CA ${new Date().toISOString().slice(0, 10)} ${
      serial().slice(0, 8)
    }`,
    ...validity(options.days ?? 365),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new lib.BasicConstraintsExtension(true, 0, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.keyCertSign | lib.KeyUsageFlags.cRLSign, true),
      await lib.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  await writeKey(lib, join(dir, "ca.key"), keys.privateKey);
  await Deno.writeTextFile(join(dir, "ca.pem"), ca.toString("pem"));
  const written = ["ca.pem", "ca.key", ...await renewCertificates(options)];
  await Deno.writeTextFile(
    join(dir, "tokens.txt"),
    `# <role> <token>: clients send "Authorization: Bearer <token>"\n` +
      `read-write ${randomToken()}\nread-only ${randomToken()}\n`,
    { mode: 0o600 },
  );
  return [...written, "tokens.txt"];
}
