// The Worker starts in workerd, and configuration mistakes come back as typed errors from
// `tidb_connect::workers::connect(&env)` — checked through the error's kind, not only its text.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { call, database, isNotBuilt, startWorkers, trustTestCa, withQuery } from "./harness.mjs";

let run;

before(async () => {
  const db = database();
  trustTestCa(db.ca);
  run = await startWorkers({
    // The first Worker is Miniflare's entry; each Worker differs only in its environment.
    no_url: {},
    bad_url: { bindings: { TIDB_URL: "postgres://u:p@127.0.0.1:5432/db" } },
    bad_param: { bindings: { TIDB_URL: withQuery(db.url, "ssl-mode=sometimes") } },
    vpc_without_binding: { bindings: { TIDB_URL: "relay+vpc://u:p@TIDB_RELAY/test" } },
    hyperdrive_without_binding: { bindings: { TIDB_URL: "hyperdrive://HYPERDRIVE" } },
  });
});

after(async () => {
  await run?.mf.dispose();
});

test("the Worker starts in workerd and answers without a database", async () => {
  const { status, body } = await call(run.worker("no_url"), "GET", "/");
  assert.equal(status, 200);
  assert.ok(body.routes.includes("POST /sql"), JSON.stringify(body));
});

test("a malformed request is refused before any database call", async () => {
  const { status, body } = await call(run.worker("no_url"), "POST", "/sql", { nope: 1 });
  assert.equal(status, 400);
  assert.equal(body.error.bad_request, true);
  const unknown = await call(run.worker("no_url"), "GET", "/nowhere");
  assert.equal(unknown.status, 404);
});

test("missing TIDB_URL is a config error naming TIDB_URL", async () => {
  const { status, body } = await call(run.worker("no_url"), "POST", "/sql", { sql: "SELECT 1" });
  assert.equal(status, 500);
  const e = body.error;
  assert.equal(e.step, "connect");
  assert.equal(e.is_config, true, JSON.stringify(e));
  assert.equal(e.is_unsupported, false, JSON.stringify(e));
  assert.equal(e.is_connect, false);
  assert.equal(e.errno, null);
  assert.match(e.message, /TIDB_URL/);
});

test("a URL with an unknown scheme is a config error", async () => {
  const { body } = await call(run.worker("bad_url"), "GET", "/version");
  const e = body.error;
  assert.equal(e.step, "connect");
  assert.equal(e.is_config, true, JSON.stringify(e));
  assert.equal(e.is_unsupported, false, JSON.stringify(e));
  assert.match(e.message, /postgres/);
});

test("an unknown ssl-mode is a config error naming the accepted values", async () => {
  const { body } = await call(run.worker("bad_param"), "POST", "/exec", { sql: "DO 1" });
  const e = body.error;
  assert.equal(e.is_config, true, JSON.stringify(e));
  assert.equal(e.is_unsupported, false, JSON.stringify(e));
  assert.match(e.message, /ssl-mode/);
  assert.match(e.message, /verify_identity/);
  // The password of the URL never shows in an error.
  assert.doesNotMatch(e.message, /p@ss|p%40ss/);
});

// A URL that names a binding the Worker does not have must say which binding is missing. Until
// the backends exist, the library answers "not built" first; the tests then skip, saying so.
for (const [worker, binding] of [
  ["vpc_without_binding", "TIDB_RELAY"],
  ["hyperdrive_without_binding", "HYPERDRIVE"],
]) {
  test(`${worker}: a missing binding is a config error naming ${binding}`, async (t) => {
    const { body } = await call(run.worker(worker), "POST", "/sql", { sql: "SELECT 1" });
    const e = body.error;
    assert.ok(e, JSON.stringify(body));
    assert.equal(e.step, "connect");
    assert.equal(e.is_config, true, JSON.stringify(e));
    if (isNotBuilt(body)) {
      t.skip(`the backend is not built into this release yet: ${e.message}`);
      return;
    }
    assert.equal(e.is_unsupported, false, JSON.stringify(e));
    assert.match(e.message, new RegExp(binding));
  });
}
