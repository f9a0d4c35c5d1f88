/**
 * The receiving end of a peer's Raft stream (`RaftService/Stream`), on a lean path: it reads
 * Connect frames straight off the request body and hands each batch over as soon as it is whole,
 * without the per-message machinery a generic streaming handler runs, read by
 * [raft_read.ts](../rpc/raft_read.ts) straight into the Raft core's messages. Binary streams only; a
 * JSON stream goes to the Connect router, which serves the same method.
 *
 * The stream ends, with the error in its end-of-stream message, at the first batch that must be
 * refused; the peer opens a new stream for its next batch.
 *
 * @module
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorToJson } from "@connectrpc/connect/protocol-connect";
import { RaftAckSchema, RaftService } from "../rpc/gen/prkdb/v1/raft_pb.ts";
import { readRaftBatch, type ReceivedBatch } from "../rpc/raft_read.ts";
import { END_STREAM, EnvelopeError, frame, readFrames } from "../rpc/connect_envelope.ts";

/** The path of a peer's Raft stream (`RaftService/Stream`). */
export const RAFT_STREAM_PATH = `/${RaftService.typeName}/Stream`;

/** The content type this path serves; others go to the router. */
export const RAFT_STREAM_TYPE = "application/connect+proto";

/** The answer to a stream that ended cleanly: an acknowledgement, then an empty end-of-stream. */
const ENDED_CLEANLY = (() => {
  const ack = frame(toBinary(RaftAckSchema, create(RaftAckSchema)));
  const end = frame(new TextEncoder().encode("{}"), END_STREAM);
  const body = new Uint8Array(ack.length + end.length);
  body.set(ack);
  body.set(end, ack.length);
  return body;
})();

/**
 * Reads a peer's stream to its end.
 *
 * @param request The stream's request; its body is read as it arrives.
 * @param accept Takes one batch; throws a `ConnectError` to refuse it (and end the stream).
 * @param maxBytes The largest batch.
 * @returns The answer once the stream ends: an acknowledgement, or the error that ended it.
 *
 * @example Usage
 * ```ts ignore
 * if (path === RAFT_STREAM_PATH) return receiveRaftStream(request, accept, 16 << 20);
 * ```
 */
export async function receiveRaftStream(
  request: Request,
  accept: (batch: ReceivedBatch) => void,
  maxBytes: number,
): Promise<Response> {
  const headers = { "content-type": RAFT_STREAM_TYPE };
  try {
    for await (const { flags, message } of readFrames(request.body ?? [], maxBytes)) {
      if (flags !== 0) {
        throw new ConnectError(
          `stream message flags ${flags} are not supported`,
          Code.InvalidArgument,
        );
      }
      let batch: ReceivedBatch;
      try {
        batch = readRaftBatch(message);
      } catch (error) {
        throw new ConnectError(
          `cannot decode a batch: ${(error as Error).message}`,
          Code.InvalidArgument,
        );
      }
      accept(batch);
    }
  } catch (error) {
    const e = error instanceof EnvelopeError
      ? new ConnectError(
        error.message,
        error.code === "resource_exhausted" ? Code.ResourceExhausted : Code.InvalidArgument,
      )
      : ConnectError.from(error);
    const end = new TextEncoder().encode(JSON.stringify({ error: errorToJson(e, undefined) }));
    return new Response(frame(end, END_STREAM), { status: 200, headers });
  }
  return new Response(ENDED_CLEANLY, { status: 200, headers });
}
