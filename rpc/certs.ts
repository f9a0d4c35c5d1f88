/**
 * Development certificates for a cluster: a CA, one certificate per node (SAN URI
 * `prkdb-node-<id>`, usable as server and client), client certificates for each role, and a
 * token file. Made with the `openssl` command, which must be installed (Debian: `apt-get
 * install openssl`); EC P-256 keys.
 *
 * @module
 */
import { join } from "@std/path";

/** Thrown when certificates cannot be made. */
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

/** Options for {@linkcode initCertificates} and {@linkcode renewCertificates}. */
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

/** The client certificates made, by file stem, with the role each carries (its OU). */
export const CLIENT_CERTS: Readonly<Record<string, string>> = {
  "client-rw": "read-write",
  "client-ro": "read-only",
  "replica": "replica",
};

async function openssl(args: string[], cwd: string): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
      .output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CertificateError(
        "the openssl command is required (Debian/Ubuntu: apt-get install openssl)",
      );
    }
    throw error;
  }
  if (!out.success) {
    throw new CertificateError(
      `openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

const IP = /^(\d{1,3}\.){3}\d{1,3}$|:/;

async function issue(
  dir: string,
  stem: string,
  subject: string,
  ext: string[],
  days: number,
): Promise<void> {
  await openssl(
    ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${stem}.key`],
    dir,
  );
  await Deno.chmod(join(dir, `${stem}.key`), 0o600);
  await openssl(
    ["req", "-new", "-key", `${stem}.key`, "-subj", subject, "-out", `${stem}.csr`],
    dir,
  );
  await Deno.writeTextFile(join(dir, `${stem}.ext`), ext.join("\n") + "\n");
  await openssl([
    "x509",
    "-req",
    "-in",
    `${stem}.csr`,
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    String(days),
    "-out",
    `${stem}.pem`,
    "-extfile",
    `${stem}.ext`,
  ], dir);
  await Deno.remove(join(dir, `${stem}.csr`));
  await Deno.remove(join(dir, `${stem}.ext`));
}

/**
 * Issues (or reissues) every node and client certificate with the existing CA in `dir`. Running
 * nodes pick the new files up on SIGHUP or within their reload interval.
 *
 * @param options Where, for which nodes and hosts.
 * @returns The files written.
 * @throws {CertificateError} When there is no CA or openssl is missing or fails.
 *
 * @example Usage
 * ```ts ignore
 * import { renewCertificates } from "@prkdb/prkdb/server";
 * await renewCertificates({ dir: "certs", nodes: [1, 2, 3] });
 * ```
 */
export async function renewCertificates(options: CertOptions): Promise<string[]> {
  const { dir } = options;
  const days = options.days ?? 365;
  const hosts = options.hosts ?? ["127.0.0.1", "localhost"];
  try {
    await Deno.stat(join(dir, "ca.key"));
  } catch {
    throw new CertificateError(`no CA in ${dir}; run 'certs init' first`);
  }
  const sans = hosts.map((h) => IP.test(h) ? `IP:${h}` : `DNS:${h}`);
  const written: string[] = [];
  for (const id of options.nodes) {
    const stem = `node-${id}`;
    await issue(dir, stem, `/O=PrkDB/CN=prkdb-node-${id}`, [
      `subjectAltName=URI:prkdb-node-${id},${sans.join(",")}`,
      "extendedKeyUsage=serverAuth,clientAuth",
      "keyUsage=critical,digitalSignature",
    ], days);
    written.push(`${stem}.pem`, `${stem}.key`);
  }
  for (const [stem, role] of Object.entries(CLIENT_CERTS)) {
    await issue(dir, stem, `/O=PrkDB/OU=${role}/CN=prkdb-${stem}`, [
      `subjectAltName=URI:prkdb-${stem}`,
      "extendedKeyUsage=clientAuth",
      "keyUsage=critical,digitalSignature",
    ], days);
    written.push(`${stem}.pem`, `${stem}.key`);
  }
  return written;
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_");
}

/**
 * Creates a development CA, every node and client certificate, and `tokens.txt` (one
 * read-write and one read-only bearer token). Refuses to replace an existing CA.
 *
 * @param options Where, for which nodes and hosts.
 * @returns The files written.
 * @throws {CertificateError} When a CA exists already or openssl is missing or fails.
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
  await openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"], dir);
  await Deno.chmod(join(dir, "ca.key"), 0o600);
  await openssl([
    "req",
    "-x509",
    "-new",
    "-key",
    "ca.key",
    "-subj",
    "/O=PrkDB/CN=PrkDB development CA",
    "-days",
    String(options.days ?? 365),
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-out",
    "ca.pem",
  ], dir);
  const written = ["ca.pem", "ca.key", ...await renewCertificates(options)];
  await Deno.writeTextFile(
    join(dir, "tokens.txt"),
    `# <role> <token>: clients send "Authorization: Bearer <token>"\n` +
      `read-write ${randomToken()}\nread-only ${randomToken()}\n`,
    { mode: 0o600 },
  );
  return [...written, "tokens.txt"];
}
