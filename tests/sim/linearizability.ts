/**
 * A linearizability checker for key-value histories (Wing & Gong's search with Lowe's
 * memoization), run per key: a key-value store is linearizable iff each key's history is
 * (linearizability is compositional, Herlihy & Wing 1990).
 *
 * @module
 */

/** One client operation on one key, as observed from outside. */
export type KvOperation =
  & {
    /** Unique id, for messages. */
    readonly id: number;
    /** The client that issued it. */
    readonly client: number;
    /** When it was invoked (a logical timestamp, unique). */
    readonly call: number;
    /** When it returned; `Infinity` when the outcome is unknown (timeout, crash). */
    readonly ret: number;
  }
  & (
    | { readonly kind: "put"; readonly value: string }
    /** `found` is `undefined` when the outcome is unknown. */
    | { readonly kind: "delete"; readonly found: boolean | undefined }
    /** `value` is what the read returned, `null` for absent. */
    | { readonly kind: "get"; readonly value: string | null }
  );

/** The register a key is: its value, or `null` when absent. */
type State = string | null;

function apply(state: State, op: KvOperation): { ok: boolean; next: State } {
  switch (op.kind) {
    case "put":
      return { ok: true, next: op.value };
    case "delete":
      return { ok: op.found === undefined || op.found === (state !== null), next: null };
    case "get":
      return { ok: op.value === state, next: state };
  }
}

interface Node {
  op: KvOperation;
  isCall: boolean;
  match: Node | undefined; // a call's return node
  prev: Node | undefined;
  next: Node | undefined;
}

/**
 * Checks one key's history.
 *
 * @returns `undefined` when linearizable, else a description of the operations involved.
 */
export function checkKeyHistory(ops: readonly KvOperation[]): string | undefined {
  // Operations with an unknown outcome may take effect at any time after their call, or never.
  // Their return events sort last; reaching one means every completed operation is placed.
  const events: { time: number; isCall: boolean; op: KvOperation }[] = [];
  for (const op of ops) {
    events.push({ time: op.call, isCall: true, op }, { time: op.ret, isCall: false, op });
  }
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Node = {
    op: ops[0],
    isCall: false,
    match: undefined,
    prev: undefined,
    next: undefined,
  };
  let tail = head;
  const calls = new Map<number, Node>();
  for (const e of events) {
    const node: Node = {
      op: e.op,
      isCall: e.isCall,
      match: undefined,
      prev: tail,
      next: undefined,
    };
    tail.next = node;
    tail = node;
    if (e.isCall) calls.set(e.op.id, node);
    else calls.get(e.op.id)!.match = node;
  }
  const lift = (n: Node) => {
    n.prev!.next = n.next;
    if (n.next) n.next.prev = n.prev;
    const m = n.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (n: Node) => {
    const m = n.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    n.prev!.next = n;
    if (n.next) n.next.prev = n;
  };
  const index = new Map(ops.map((op, i) => [op.id, i]));
  const linearized = new Uint32Array(Math.ceil(ops.length / 32));
  const seen = new Set<string>();
  const stack: { node: Node; state: State }[] = [];
  let state: State = null;
  let entry = head.next;
  let deepest = 0;
  while (entry) {
    if (entry.isCall) {
      const { ok, next } = apply(state, entry.op);
      const bit = index.get(entry.op.id)!;
      if (ok) {
        linearized[bit >>> 5] |= 1 << (bit & 31);
        const key = `${linearized.join(",")}|${next}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ node: entry, state });
          deepest = Math.max(deepest, stack.length);
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[bit >>> 5] &= ~(1 << (bit & 31));
      }
      entry = entry.next;
    } else {
      if (entry.op.ret === Infinity) return undefined;
      const top = stack.pop();
      if (!top) return describeFailure(ops, entry.op);
      const bit = index.get(top.node.op.id)!;
      linearized[bit >>> 5] &= ~(1 << (bit & 31));
      state = top.state;
      unlift(top.node);
      entry = top.node.next;
    }
  }
  return undefined;
}

function describeFailure(ops: readonly KvOperation[], stuck: KvOperation): string {
  const fmt = (op: KvOperation) => {
    const r = op.ret === Infinity ? "?" : op.ret;
    const what = op.kind === "put"
      ? `put(${op.value})`
      : op.kind === "delete"
      ? `delete()->${op.found ?? "?"}`
      : `get()->${op.value}`;
    return `  op ${op.id} client ${op.client} [${op.call}, ${r}] ${what}`;
  };
  const window = ops.filter((op) => op.call <= stuck.ret && op.ret >= stuck.call - 500);
  return `no linearization places op ${stuck.id} (${stuck.kind}); overlapping operations:\n${
    window.map(fmt).join("\n")
  }`;
}

/**
 * Checks a whole history, key by key.
 *
 * @returns `undefined` when linearizable, else which key failed and why.
 */
export function checkHistory(ops: ReadonlyMap<string, readonly KvOperation[]>): string | undefined {
  for (const [key, keyOps] of ops) {
    if (keyOps.length === 0) continue;
    const failure = checkKeyHistory(keyOps);
    if (failure) return `key ${JSON.stringify(key)}: ${failure}`;
  }
  return undefined;
}
