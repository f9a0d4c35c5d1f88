/**
 * Command-line values shared by `serve` and the operator commands: integers, `host:port`
 * addresses and `--peers` lists, each refused with a message naming the flag.
 *
 * @module
 */
import { UsageError } from "./connection.ts";

/**
 * A non-negative integer flag.
 *
 * @param value The flag's text, if given.
 * @param flag Its name, for messages.
 * @param fallback The value when not given; without it the flag is required.
 * @returns The integer.
 * @throws {UsageError} When it is missing or not a non-negative integer.
 */
export function int(value: string | undefined, flag: string, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new UsageError(`${flag} is required`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new UsageError(`${flag} must be a non-negative integer, got "${value}"`);
  }
  return n;
}

/**
 * A `host:port` flag.
 *
 * @param value The flag's text.
 * @param flag Its name, for messages.
 * @returns The address as given.
 * @throws {UsageError} When it is not `host:port` with a valid port.
 */
export function hostPort(value: string, flag: string): string {
  const match = /^([^:\s]+):(\d{1,5})$/.exec(value);
  if (!match || Number(match[2]) > 65535) {
    throw new UsageError(`${flag} must look like 127.0.0.1:8081, got "${value}"`);
  }
  return value;
}

/**
 * Parses `--peers 1=127.0.0.1:8081,2=...`.
 *
 * @param value The flag's text.
 * @returns The addresses, by node id.
 * @throws {UsageError} When it is missing or malformed.
 */
export function parsePeers(value: string | undefined): Map<number, string> {
  if (!value) {
    throw new UsageError(
      "--peers is required, for example --peers 1=127.0.0.1:8081,2=127.0.0.1:8082",
    );
  }
  const peers = new Map<number, string>();
  for (const part of value.split(",")) {
    const [id, address] = part.split("=");
    const n = int(id, "--peers id");
    if (n === 0) throw new UsageError("--peers ids must be positive");
    if (!address) throw new UsageError(`--peers entry "${part}" must look like 1=127.0.0.1:8081`);
    if (peers.has(n)) throw new UsageError(`--peers names node ${n} twice`);
    peers.set(n, hostPort(address, "--peers address"));
  }
  return peers;
}
