import { assert, assertEquals, assertThrows } from "@std/assert";
import { accessFor, authorize, callerFromCertificate, TokenFileError, TokenStore } from "./auth.ts";

Deno.test("auth: a verified certificate names a member or a client role; an unverified one no one", () => {
  assertEquals(callerFromCertificate({ authorized: true, uris: ["prkdb-node-3"] })?.node, 3);
  assertEquals(
    callerFromCertificate({ authorized: true, ou: "read-only", cn: "c", uris: [] })?.role,
    "read-only",
  );
  assertEquals(callerFromCertificate({ authorized: false, uris: ["prkdb-node-3"] }), undefined);
  assertEquals(callerFromCertificate({ authorized: true, ou: "admin", uris: [] }), undefined);
  assertEquals(callerFromCertificate({ authorized: true, uris: ["prkdb-node-0"] }), undefined);
});

Deno.test("auth: tokens map to their roles, unknown and near-miss tokens to no one", () => {
  const t = TokenStore.parse(
    "# comment\nread-write rw-token-0123456789abcdef\nread-only ro-token-0123456789abcdef\n",
  );
  assertEquals(t.size, 2);
  assertEquals(t.check("rw-token-0123456789abcdef")?.role, "read-write");
  assertEquals(t.check("ro-token-0123456789abcdef")?.role, "read-only");
  assertEquals(t.check("ro-token-0123456789abcdeF"), undefined);
  assertEquals(t.check(""), undefined);
});

Deno.test("auth: a bad token file is refused with the line at fault", () => {
  assertThrows(() => TokenStore.parse("superuser x-0123456789abcdef"), TokenFileError, "line 1");
  assertThrows(() => TokenStore.parse("\nread-only short"), TokenFileError, "line 2");
});

Deno.test("auth: Raft, unknown paths and the change feed are out of reach of plain clients", () => {
  assertEquals(accessFor("/prkdb.v1.RaftService/AppendEntries"), ["node"]);
  assertEquals(accessFor("/prkdb.v1.AdminService/SomethingNew"), ["node"]);
  assertEquals(accessFor("/prkdb.v1.ReplicationService/GetPartitionChanges"), ["node", "replica"]);
  assertEquals(accessFor("/prkdb.v1.KvService/Put"), ["node", "read-write"]);
  // Every call that appends to the log is for writers only.
  for (const method of ["Atomic", "OpenSession", "Delete"]) {
    assertEquals(accessFor(`/prkdb.v1.KvService/${method}`), ["node", "read-write"], method);
  }
  // Every read is open to every client role.
  for (const method of ["Get", "GetMany", "List", "Watch", "ClusterInfo"]) {
    const access = accessFor(`/prkdb.v1.KvService/${method}`);
    assert(
      access !== "open" && access.includes("read-only") && access.includes("read-write"),
      method,
    );
  }
  assertEquals(accessFor("/health"), "open");
});

Deno.test("authorize: TLS needs a caller whose role the path admits", () => {
  const tokens = TokenStore.parse("read-only ro-token-0123456789abcdef\n");
  const put = accessFor("/prkdb.v1.KvService/Put");
  const tls = { secure: true, tokens };
  assertEquals(authorize({ access: put }, tls), {
    ok: false,
    code: "unauthenticated",
    message: "Present a client certificate signed by the cluster CA or a bearer token",
  });
  const ro = authorize({ access: put, authorization: "Bearer ro-token-0123456789abcdef" }, tls);
  assertEquals(ro.ok ? "ok" : ro.code, "permission_denied");
  const node = { role: "node" as const, node: 2, name: "cert:prkdb-node-2" };
  assertEquals(authorize({ access: put, certificate: node }, tls), { ok: true, caller: node });
  const bad = authorize({ access: put, authorization: "Bearer guess-0123456789abcdef" }, tls);
  assertEquals(bad.ok ? "ok" : bad.code, "unauthenticated");
});

Deno.test("authorize: open paths ignore credentials, even wrong ones", () => {
  const tokens = TokenStore.parse("read-only ro-token-0123456789abcdef\n");
  const d = authorize({ access: "open", authorization: "Bearer wrong" }, { secure: true, tokens });
  assertEquals(d, { ok: true, caller: undefined });
});

Deno.test("authorize: insecure with tokens guards client paths only; without tokens nothing", () => {
  const tokens = TokenStore.parse("read-write rw-token-0123456789abcdef\n");
  const raft = accessFor("/prkdb.v1.RaftService/Vote");
  const get = accessFor("/prkdb.v1.KvService/Get");
  assertEquals(authorize({ access: raft }, { secure: false, tokens }).ok, true);
  assertEquals(authorize({ access: get }, { secure: false, tokens }).ok, false);
  assertEquals(
    authorize({ access: get, authorization: "Bearer rw-token-0123456789abcdef" }, {
      secure: false,
      tokens,
    }).ok,
    true,
  );
  assertEquals(authorize({ access: get }, { secure: false }).ok, true);
});
