// The runtime the Rust Worker depends on, checked with a small JavaScript probe
// (probe-worker.mjs) against the same TLS-only server: these pass independently of the
// library's backends, and tell a failing conformance run apart from a broken environment.

import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import {
  COMPATIBILITY_DATE,
  database,
  hyperdriveOrigin,
  loadMiniflare,
  trustTestCa,
} from "./harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
let mf;
let server;

before(async () => {
  const db = database();
  trustTestCa(db.ca);
  const url = new URL(db.url);
  server = {
    host: "127.0.0.1",
    port: db.port,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: url.pathname.slice(1),
  };
  const { Miniflare } = await loadMiniflare();
  mf = new Miniflare({
    modules: true,
    scriptPath: path.join(here, "probe-worker.mjs"),
    modulesRoot: here,
    compatibilityDate: COMPATIBILITY_DATE,
    cf: false,
    hyperdrives: { HYPERDRIVE: hyperdriveOrigin().url },
  });
  await mf.ready;
});

after(async () => {
  await mf?.dispose();
});

async function probe(query) {
  const res = await mf.dispatchFetch("http://probe.test/", {
    method: "POST",
    body: JSON.stringify(query),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

test("the server refuses a login without TLS (it is TLS-only)", async () => {
  const { greeting, result } = await probe({ ...server, tls: false });
  assert.equal(greeting.protocol, 10);
  assert.equal(greeting.ssl, true);
  // The same credentials that log in over StartTLS below are refused here.
  assert.equal(result.ok, false, JSON.stringify(result));
  assert.equal(result.errno, 1045, JSON.stringify(result));
});

test("StartTLS from workerd to the server, trusting the test CA, then a login", async () => {
  const { greeting, result } = await probe({ ...server, tls: true });
  assert.match(greeting.version, /MariaDB/);
  assert.equal(greeting.plugin, "mysql_native_password");
  assert.deepEqual(result, { ok: true });
});

test("StartTLS with a wrong password reaches the server's access-denied error", async () => {
  const { result } = await probe({ ...server, password: "wrong", tls: true });
  assert.equal(result.errno, 1045, JSON.stringify(result));
});

test("Miniflare's Hyperdrive binding: its fields, and a login through it", async () => {
  const { binding, greeting, result } = await probe({ via: "hyperdrive" });
  // What workers-rs's env.hyperdrive() checks, and what the library reads.
  assert.equal(binding.constructor, "Hyperdrive");
  assert.match(binding.host, /\.hyperdrive\.local$/);
  assert.equal(binding.port, 3306);
  assert.equal(binding.user, server.user);
  assert.equal(binding.password, server.password);
  assert.equal(binding.database, server.database);
  assert.match(greeting.version, /MariaDB/);
  assert.deepEqual(result, { ok: true });
});
