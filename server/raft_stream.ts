/**
 * The receiving end of a peer's Raft stream (`RaftService/Stream`), on a lean path: it reads
 * Connect frames straight off the request body (on the lean HTTP/1.1 lane, off the connection's
 * bytes) and hands each batch over as soon as it is whole,
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
import { END_STREAM, EnvelopeError, frame, FrameReader } from "../rpc/connect_envelope.ts";
import type { StreamSink } from "./lean_http1.ts";
import type { UnaryAnswer } from "./unary_fast_path.ts";

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
 * Serves a peer's stream as its body arrives, frame by frame: on the lean lane straight from the
 * connection's bytes ([lean_http1.ts](./lean_http1.ts)), or from a fetch `Request`'s body
 * ({@linkcode receiveRaftStream}).
 *
 * @param accept Takes one batch; throws a `ConnectError` to refuse it (and end the stream).
 * @param maxBytes The largest batch.
 * @returns The sink: its answer is an acknowledgement once the stream ends, or the error that
 *   ended it.
 *
 * @example Usage
 * ```ts
 * import { frame } from "../rpc/connect_envelope.ts";
 * import { encodeRaftBatch } from "../rpc/raft_wire.ts";
 * import { raftStreamSink } from "./raft_stream.ts";
 * let batches = 0;
 * const sink = raftStreamSink(() => batches++, 1 << 20);
 * sink.push(frame(encodeRaftBatch(2, new TextEncoder().encode("c1"), [])));
 * console.log(batches, sink.end().status); // 1 200
 * ```
 */
export function raftStreamSink(
  accept: (batch: ReceivedBatch) => void,
  maxBytes: number,
): StreamSink {
  const frames = new FrameReader(maxBytes);
  const take = (flags: number, message: Uint8Array) => {
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
  };
  return {
    push(piece) {
      try {
        frames.push(piece, take);
        return undefined;
      } catch (error) {
        return endedBy(error);
      }
    },
    end() {
      try {
        frames.end();
      } catch (error) {
        return endedBy(error);
      }
      return { status: 200, headers: { "content-type": RAFT_STREAM_TYPE }, body: ENDED_CLEANLY };
    },
  };
}

/** The answer to a stream that `error` ended: its end-of-stream message names the error. */
function endedBy(error: unknown): UnaryAnswer {
  const e = error instanceof EnvelopeError
    ? new ConnectError(
      error.message,
      error.code === "resource_exhausted" ? Code.ResourceExhausted : Code.InvalidArgument,
    )
    : ConnectError.from(error);
  const end = new TextEncoder().encode(JSON.stringify({ error: errorToJson(e, undefined) }));
  return {
    status: 200,
    headers: { "content-type": RAFT_STREAM_TYPE },
    body: frame(end, END_STREAM),
  };
}

/**
 * Reads a peer's stream from a fetch `Request` to its end (see {@linkcode raftStreamSink}).
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
  const sink = raftStreamSink(accept, maxBytes);
  let answer: UnaryAnswer | undefined;
  try {
    for await (const chunk of request.body ?? []) {
      answer = sink.push(chunk);
      if (answer) break;
    }
  } catch (error) {
    answer = endedBy(error);
  }
  answer ??= sink.end();
  return new Response(answer.body as Uint8Array<ArrayBuffer>, {
    status: answer.status,
    headers: answer.headers,
  });
}
