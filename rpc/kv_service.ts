/**
 * The client-facing KvService. Any node accepts any request: writes and linearizable reads go
 * to the partition's leader (forwarded once if this node is not it), follower and stale reads
 * are served by any replica. Failures become Connect codes with messages that say what to do.
 *
 * @module
 */
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type HandlerContext,
  type ServiceImpl,
} from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { NodeId } from "../raft/types.ts";
import { InvalidCommandError, MAX_KEY_BYTES, MAX_VALUE_BYTES } from "../partition/command.ts";
import { PartitionError, TimeoutError, WrongNodeError } from "../partition/errors.ts";
import type { MultiRaftHost, ReadMode as HostReadMode } from "../partition/multi_raft_host.ts";
import { KvService, ReadMode } from "./gen/prkdb/v1/kv_pb.ts";

/** Header marking a request a node already forwarded, so it is never forwarded twice. */
export const FORWARDED_HEADER = "prkdb-forwarded";
/** Response header naming the partition's leader, so clients can route straight to it. */
export const LEADER_HEADER = "prkdb-leader";

const MODES: Record<ReadMode, HostReadMode> = {
  [ReadMode.LINEARIZABLE]: "linearizable",
  [ReadMode.FOLLOWER]: "follower",
  [ReadMode.STALE]: "stale",
};

/** Maps a host error to a Connect error. */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof InvalidCommandError) {
    return new ConnectError(error.message, Code.InvalidArgument);
  }
  if (error instanceof TimeoutError) return new ConnectError(error.message, Code.DeadlineExceeded);
  if (error instanceof PartitionError) return new ConnectError(error.message, Code.Unavailable);
  if (error instanceof DOMException && error.name === "AbortError") {
    return new ConnectError("The request was cancelled", Code.Canceled);
  }
  return new ConnectError(error instanceof Error ? error.message : String(error), Code.Internal);
}

function checkKey(key: Uint8Array): void {
  if (key.length === 0) throw new ConnectError("key is empty", Code.InvalidArgument);
  if (key.length > MAX_KEY_BYTES) {
    throw new ConnectError(
      `key is ${key.length} bytes, the limit is ${MAX_KEY_BYTES}`,
      Code.InvalidArgument,
    );
  }
}

/**
 * Builds the KvService implementation for a node.
 *
 * @param host The node's Multi-Raft host.
 * @param nodes Every member's base URL.
 * @param options `fetch` for forwarding to other nodes (mutual TLS between members).
 * @returns The service implementation.
 */
export function createKvService(
  host: MultiRaftHost,
  nodes: ReadonlyMap<NodeId, string>,
  options: { fetch?: typeof fetch } = {},
): ServiceImpl<typeof KvService> {
  const clients = new Map<NodeId, Client<typeof KvService>>();
  const clientFor = (id: NodeId) => {
    let c = clients.get(id);
    if (!c) {
      const url = nodes.get(id);
      if (!url) throw new ConnectError(`Node ${id} is not a member`, Code.Internal);
      clients.set(
        id,
        c = createClient(
          KvService,
          createConnectTransport({ baseUrl: url, useBinaryFormat: true, fetch: options.fetch }),
        ),
      );
    }
    return c;
  };

  /** Where to send a request this node cannot serve, or an Unavailable error. */
  const forwardTarget = (partition: number, ctx: HandlerContext, why: string): NodeId => {
    if (ctx.requestHeader.get(FORWARDED_HEADER)) {
      throw new ConnectError(
        `Partition ${partition}: ${why} here either (leaders just changed); retry`,
        Code.Unavailable,
      );
    }
    const target = host.isReplica(partition)
      ? host.leaderOf(partition)
      : host.map.replicas(partition)[0];
    if (!target || target === host.nodeId) {
      throw new ConnectError(
        `Partition ${partition} has no leader yet; retry shortly`,
        Code.Unavailable,
      );
    }
    ctx.responseHeader.set(LEADER_HEADER, String(target));
    return target;
  };
  // A forwarded call never outlives the client's, nor waits long on a paused leader.
  const forwardOptions = (ctx: HandlerContext) => ({
    signal: ctx.signal,
    timeoutMs: 2000,
    headers: { [FORWARDED_HEADER]: String(host.nodeId) },
  });

  /** Runs locally, or forwards once when this node is the wrong one. */
  const leaderCall = async <T>(
    partition: number,
    ctx: HandlerContext,
    local: () => Promise<T>,
    remote: (target: NodeId) => Promise<T>,
  ): Promise<T> => {
    if (host.isReplica(partition) && host.leaderOf(partition) === host.nodeId) {
      try {
        return await local();
      } catch (error) {
        if (!(error instanceof WrongNodeError)) throw toConnectError(error);
      }
    }
    return await remote(forwardTarget(partition, ctx, "this node is not the leader")).catch((e) => {
      throw toConnectError(e);
    });
  };

  return {
    async put(req, ctx) {
      checkKey(req.key);
      if (req.value.length > MAX_VALUE_BYTES) {
        throw new ConnectError(
          `value is ${req.value.length} bytes, the limit is ${MAX_VALUE_BYTES}`,
          Code.InvalidArgument,
        );
      }
      const partition = host.map.partitionOf(req.key);
      return await leaderCall(
        partition,
        ctx,
        async () => {
          const r = await host.put(req.key, req.value, ctx.signal);
          return { partition: r.partition, index: BigInt(r.index) };
        },
        (target) => clientFor(target).put(req, forwardOptions(ctx)),
      );
    },

    async delete(req, ctx) {
      checkKey(req.key);
      const partition = host.map.partitionOf(req.key);
      return await leaderCall(
        partition,
        ctx,
        async () => ({ found: (await host.delete(req.key, ctx.signal)).found }),
        (target) => clientFor(target).delete(req, forwardOptions(ctx)),
      );
    },

    async get(req, ctx) {
      checkKey(req.key);
      const mode = MODES[req.readMode];
      if (mode === undefined) {
        throw new ConnectError(`read_mode ${req.readMode} is not a ReadMode`, Code.InvalidArgument);
      }
      const partition = host.map.partitionOf(req.key);
      const answer = (value: Uint8Array | undefined) => ({
        found: value !== undefined,
        value: value ?? new Uint8Array(),
      });
      if (mode === "linearizable") {
        return await leaderCall(
          partition,
          ctx,
          async () => answer(await host.get(req.key, "linearizable", ctx.signal)),
          (target) => clientFor(target).get(req, forwardOptions(ctx)),
        );
      }
      // Follower and stale reads: any replica serves them, this one if it is one.
      if (host.isReplica(partition)) {
        try {
          return answer(await host.get(req.key, mode, ctx.signal));
        } catch (error) {
          throw toConnectError(error);
        }
      }
      const target = forwardTarget(partition, ctx, "this node is not a replica");
      return await clientFor(target).get(req, forwardOptions(ctx)).catch((e) => {
        throw toConnectError(e);
      });
    },

    clusterInfo() {
      const status = new Map(host.status().map((s) => [s.partition, s.raft]));
      return {
        node: host.nodeId,
        nodes: [...nodes].map(([id, address]) => ({ id, address })),
        partitions: Array.from({ length: host.map.partitions }, (_, p) => {
          const raft = status.get(p);
          return {
            partition: p,
            replicas: host.map.replicas(p),
            leader: raft?.leaderId ?? 0,
            term: BigInt(raft?.term ?? 0),
            commitIndex: BigInt(raft?.commitIndex ?? 0),
          };
        }),
      };
    },
  };
}
