/**
 * A lean path for the hottest client calls (Put, Get, Delete): it speaks the Connect unary
 * protocol itself, binary and JSON alike, and calls the same service implementation as the
 * Connect router. It skips the router's per-call machinery (a context object, abort plumbing
 * and stream adapters for every request), which costs several times the work of the call itself
 * on a busy node. Anything it does not handle (other content types, compression, a GET, a
 * malformed protocol header) falls through to the router, so the wire protocol is unchanged.
 *
 * @module
 */
import {
  create,
  type DescMessage,
  fromBinary,
  fromJson,
  type MessageInitShape,
  type MessageShape,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJson } from "@connectrpc/connect/protocol-connect";

/** One unary method: its schemas and its implementation. */
export interface FastMethod<I extends DescMessage, O extends DescMessage> {
  readonly input: I;
  readonly output: O;
  readonly call: (
    req: MessageShape<I>,
    ctx: HandlerContext,
  ) => Promise<MessageInitShape<O>> | MessageInitShape<O>;
}

const BINARY = "application/proto";
const JSON_TYPE = "application/json";

/**
 * Builds a request handler for one unary method, or says it cannot take the request (then the
 * router serves it).
 *
 * @param method The method's schemas and implementation.
 * @returns A handler answering a `Response`, or `undefined` for a request it leaves alone.
 *
 * @example Usage
 * ```ts ignore
 * const put = fastUnary({ input: PutRequestSchema, output: PutResponseSchema, call: impl.put });
 * const response = await put(request) ?? await router(request);
 * ```
 */
export function fastUnary<I extends DescMessage, O extends DescMessage>(
  method: FastMethod<I, O>,
): (request: Request) => Promise<Response> | undefined {
  return (request) => {
    const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (request.method !== "POST" || (type !== BINARY && type !== JSON_TYPE)) return undefined;
    if (request.headers.get("content-encoding")) return undefined;
    const version = request.headers.get("connect-protocol-version");
    if (version !== null && version !== "1") return undefined;
    return serve(method, request, type === BINARY);
  };
}

async function serve<I extends DescMessage, O extends DescMessage>(
  method: FastMethod<I, O>,
  request: Request,
  binary: boolean,
): Promise<Response> {
  const responseHeader = new Headers({ "content-type": binary ? BINARY : JSON_TYPE });
  try {
    const body = new Uint8Array(await request.arrayBuffer());
    let input: MessageShape<I>;
    try {
      input = binary ? fromBinary(method.input, body) : fromJson(
        method.input,
        body.length === 0 ? {} : JSON.parse(new TextDecoder().decode(body)),
        {
          ignoreUnknownFields: false,
        },
      );
    } catch (error) {
      throw new ConnectError(
        `cannot decode the request: ${(error as Error).message}`,
        Code.InvalidArgument,
      );
    }
    const timeout = Number(request.headers.get("connect-timeout-ms") ?? 0);
    const signal = timeout > 0
      ? AbortSignal.any([request.signal, AbortSignal.timeout(timeout)])
      : request.signal;
    const ctx = {
      signal,
      requestHeader: request.headers,
      responseHeader,
      responseTrailer: new Headers(),
      timeoutMs: () => (timeout > 0 ? timeout : undefined),
    } as unknown as HandlerContext;
    const output = create(method.output, await method.call(input, ctx));
    const out = binary
      ? toBinary(method.output, output)
      : new TextEncoder().encode(JSON.stringify(toJson(method.output, output)));
    return new Response(out, { status: 200, headers: responseHeader });
  } catch (error) {
    const e = ConnectError.from(error);
    const headers = new Headers({ "content-type": JSON_TYPE });
    e.metadata.forEach((value, key) => headers.set(key, value));
    responseHeader.forEach((value, key) => {
      if (key !== "content-type") headers.set(key, value);
    });
    return new Response(JSON.stringify(errorToJson(e, undefined)), {
      status: codeToHttpStatus(e.code),
      headers,
    });
  }
}
