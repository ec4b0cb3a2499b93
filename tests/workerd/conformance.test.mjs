// The conformance suite (tests/conformance/mod.rs) as far as it maps onto the example Worker's
// JSON routes, run in workerd against local servers through two paths:
//
// * hyperdrive: TIDB_URL=hyperdrive://HYPERDRIVE, Miniflare's Hyperdrive stand-in in front of
//   a plaintext server (see hyperdriveOrigin() in harness.mjs for why not the TLS one);
// * direct: TIDB_URL=mysql://…@127.0.0.1:PORT/test?ssl-mode=verify_ca, StartTLS from the Worker
//   (workerd trusts the test CA through NODE_EXTRA_CA_CERTS).
//
// Same SQL, same expected values as the Rust suite. Cases that need what a JSON route cannot
// carry (decoding into Rust types, dropping a transaction, several connections at once, the
// server's general log, a second server, a cutting proxy, 16 MiB values) stay in the Rust suite.
//
// A path whose backend answers "not built into this release" is skipped, with the library's
// message as the reason; that is found out at run time by asking the Worker.

import assert from "node:assert/strict";
import { after, describe, test } from "node:test";

import {
  call,
  database,
  hyperdriveOrigin,
  startRelay,
  skipUnlessBuilt,
  startWorkers,
  trustTestCa,
  v,
  withQuery,
} from "./harness.mjs";

const db = database();
trustTestCa(db.ca);

const origin = hyperdriveOrigin().url;
const directUrl = withQuery(db.url, "ssl-mode=verify_ca");

// The relay in front of the TLS-only server, reached through a service binding: Miniflare's
// external service stands in for the Workers VPC service (which needs a Cloudflare account).
const relay = await startRelay(db.url);
const relaySqlMode = await startRelay(`${db.url}&sql-mode=`);
after(() => {
  relay.stop();
  relaySqlMode.stop();
});
const relayUrl = (binding) => `relay+vpc://${relay.user}:${relay.password}@${binding}/${relay.database}`;
const vpc = (port) => ({ external: { address: `127.0.0.1:${port}`, http: {} } });

// Each Worker's Hyperdrive binding has its own name: Miniflare keys its local Hyperdrive proxies
// by binding name, and a second one of the same name would never be closed (the test process
// would not end).
const run = await startWorkers({
  hyperdrive: {
    bindings: { TIDB_URL: "hyperdrive://HYPERDRIVE" },
    hyperdrives: { HYPERDRIVE: origin },
  },
  hyperdrive_sql_mode: {
    bindings: { TIDB_URL: "hyperdrive://HYPERDRIVE_SQL_MODE?sql-mode=" },
    hyperdrives: { HYPERDRIVE_SQL_MODE: origin },
  },
  hyperdrive_no_backslash: {
    bindings: { TIDB_URL: "hyperdrive://HYPERDRIVE_NBE?sql-mode=NO_BACKSLASH_ESCAPES" },
    hyperdrives: { HYPERDRIVE_NBE: origin },
  },
  direct: { bindings: { TIDB_URL: directUrl } },
  direct_sql_mode: { bindings: { TIDB_URL: `${directUrl}&sql-mode=` } },
  relay: {
    bindings: { TIDB_URL: relayUrl("TIDB_RELAY") },
    serviceBindings: { TIDB_RELAY: vpc(relay.port) },
  },
  relay_sql_mode: {
    bindings: { TIDB_URL: relayUrl("TIDB_RELAY_SQL_MODE") },
    serviceBindings: { TIDB_RELAY_SQL_MODE: vpc(relaySqlMode.port) },
  },
});
after(() => run.mf.dispose());

const TARGETS = ["hyperdrive", "direct", "relay"];
const skip = {};
for (const name of TARGETS) {
  skip[name] = await skipUnlessBuilt(run.worker(name), name);
}

// ---------------------------------------------------------------- helpers

/** A successful answer's body; fails the test with the error otherwise. */
async function ok(worker, method, route, body) {
  const res = await call(worker, method, route, body);
  assert.equal(res.status, 200, `${route} ${JSON.stringify(body)?.slice(0, 300)}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A failed answer's error object; fails the test if the call succeeded. */
async function fails(worker, route, body) {
  const res = await call(worker, "POST", route, body);
  assert.equal(res.status, 500, `${route} should fail: ${JSON.stringify(res.body).slice(0, 300)}`);
  return res.body.error;
}

const sql = (w, text, params = []) => ok(w, "POST", "/sql", { sql: text, params });
const exec = (w, text, params = []) => ok(w, "POST", "/exec", { sql: text, params });
const st = (text, params = []) => ({ sql: text, params });

async function recreate(w, table, columns) {
  await exec(w, `DROP TABLE IF EXISTS ${table}`);
  await exec(w, `CREATE TABLE ${table} (${columns})`);
}

/** The integer in a cell of any integer-like kind (what `try_get::<i64>` / `<u64>` accept). */
function integer(cell) {
  assert.ok(cell && ["int", "uint", "decimal"].includes(cell.type), JSON.stringify(cell));
  return BigInt(cell.value);
}

async function count(w, text, params = []) {
  const rs = await sql(w, text, params);
  return Number(integer(rs.rows[0][0]));
}

/** JSON comes back as JSON (TiDB, MySQL) or as text (MariaDB's LONGTEXT): same document. */
function assertSame(column, got, want) {
  if (want?.type === "json") {
    assert.ok(["json", "text"].includes(got?.type), `column ${column}: ${JSON.stringify(got)}`);
    assert.deepEqual(JSON.parse(got.value), JSON.parse(want.value), `column ${column}`);
  } else if (typeof want?.value === "string" && want.value.length > 200) {
    assert.equal(got?.type, want.type, `column ${column}`);
    assert.ok(
      got.value === want.value,
      `column ${column}: long value differs (len ${got.value.length} vs ${want.value.length})`,
    );
  } else {
    assert.deepEqual(got, want, `column ${column}`);
  }
}

function assertRows(rs, want) {
  assert.equal(rs.rows.length, want.length);
  rs.rows.forEach((row, r) =>
    row.forEach((cell, c) => assertSame(rs.columns[c].name, cell, want[r][c])),
  );
}

const U64_MAX = "18446744073709551615";

// ------------------------------------------------------------------ cases

const TYPE_COLUMNS =
  "id INT PRIMARY KEY, ti TINYINT, si SMALLINT, mi MEDIUMINT, i INT, " +
  "bi BIGINT, ubi BIGINT UNSIGNED, uti TINYINT UNSIGNED, de DECIMAL(65,30), f FLOAT, d DOUBLE, " +
  "vc VARCHAR(100), txt MEDIUMTEXT, vb VARBINARY(300), bl LONGBLOB, dt DATE, tm TIME(6), " +
  "dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, yr YEAR, bt BIT(64), js JSON, " +
  "en ENUM('a','b')";

function typeRows() {
  const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const bigText = "héllo 🦀 ".repeat(100_000);
  const bigBlob = Buffer.alloc(2_000_000);
  for (let i = 0; i < bigBlob.length; i++) bigBlob[i] = i % 251;
  return [
    [
      v.int(1),
      v.int(-128),
      v.int(-32768),
      v.int(-8388608),
      v.int(-2147483648),
      v.int("-9223372036854775808"),
      v.uint(U64_MAX),
      v.uint(255),
      v.decimal("-12345678901234567890123456789012345.123456789012345678901234567890"),
      v.float(1.5),
      v.double(Math.PI),
      v.text("héllo wörld 🦀 中文 \u0000'\"\\"),
      v.text(bigText),
      v.bytes(allBytes),
      v.bytes(bigBlob),
      v.date("2024-02-29"),
      v.time("-838:59:59"),
      v.datetime("9999-12-31 23:59:59.999999"),
      v.datetime("2038-01-19 03:14:07.999999"),
      v.year(2155),
      v.bit(U64_MAX),
      v.json('{"a": [1, 2, {"b": null}], "n": 12345678901234567890}'),
      v.text("b"),
    ],
    [
      v.int(2),
      v.int(127),
      v.int(32767),
      v.int(8388607),
      v.int(2147483647),
      v.int("9223372036854775807"),
      v.uint(0),
      v.uint(0),
      v.decimal("0.000000000000000000000000000001"),
      v.float(-0.25),
      v.double(-1.0e300),
      v.text(""),
      v.text(""),
      v.bytes([]),
      v.bytes([]),
      v.date("1000-01-01"),
      v.time("12:34:56.789012"),
      v.datetime("1000-01-01 00:00:00"),
      v.datetime("1970-01-02 00:00:00.000001"),
      v.year(1901),
      v.bit(0),
      v.json("[]"),
      v.text("a"),
    ],
    [v.int(3), ...Array(22).fill(null)],
  ];
}

const cases = {
  async types_round_trip_in_both_protocols(w, table) {
    await recreate(w, table, TYPE_COLUMNS);
    const rows = typeRows();
    const placeholders = rows[0].map(() => "?").join(", ");
    for (const row of rows) {
      await exec(w, `INSERT INTO ${table} VALUES (${placeholders})`, row);
    }
    // Without parameters: text protocol. With one: binary protocol where the backend binds
    // on the server. Both must give the same values.
    const text = await sql(w, `SELECT * FROM ${table} ORDER BY id`);
    assertRows(text, rows);
    for (const want of rows) {
      const bin = await sql(w, `SELECT * FROM ${table} WHERE id = ?`, [want[0]]);
      assertRows(bin, [want]);
    }
    const col = (n) => text.columns.find((c) => c.name === n);
    assert.equal(col("ubi").unsigned, true);
    assert.equal(col("bi").unsigned, false);
    assert.equal(col("vb").binary, true);
    assert.equal(col("vc").binary, false);
    assert.equal(col("dtm").decimals, 6);
    assert.equal(col("id").column_type, "Long");
  },

  async parameters_of_every_kind(w, table) {
    const rs = await sql(w, "SELECT ? AS a, ? AS b, ? AS c, ? AS d, ? AS e, ? AS f", [
      v.int(-5),
      v.uint(U64_MAX),
      v.text('it\'s a "quote" \\ 🦀'),
      null,
      v.double(2.5),
      v.text(""),
    ]);
    const [a, b, c, d, e, f] = rs.rows[0];
    assert.equal(integer(a), -5n);
    assert.equal(integer(b), BigInt(U64_MAX));
    assert.deepEqual(c, v.text('it\'s a "quote" \\ 🦀'));
    assert.equal(d, null);
    assert.ok(["double", "float", "decimal"].includes(e.type) && Number(e.value) === 2.5, JSON.stringify(e));
    assert.deepEqual(f, v.text(""));

    // Parameters are data, never SQL.
    await recreate(w, table, "id INT PRIMARY KEY, s VARCHAR(100)");
    const hostile = "x'); DROP TABLE nope; -- ";
    await exec(w, `INSERT INTO ${table} VALUES (?, ?)`, [v.int(1), v.text(hostile)]);
    const back = await sql(w, `SELECT s FROM ${table} WHERE s = ?`, [v.text(hostile)]);
    assert.deepEqual(back.rows[0][0], v.text(hostile));

    // Wrong parameter counts: a clear error, nothing sent.
    let err = await fails(w, "/sql", st(`SELECT * FROM ${table} WHERE id = ? AND s = ?`, [v.int(1)]));
    assert.match(err.message, /2 placeholders but 1 parameter was given/);
    err = await fails(w, "/sql", st("SELECT ?"));
    assert.match(err.message, /1 placeholder but 0 parameters/);
    // A `?` inside a literal is not a placeholder.
    const q = await sql(w, "SELECT '?' AS q");
    assert.deepEqual(q.rows[0][0], v.text("?"));
  },

  async execute_reports_changes(w, table) {
    await recreate(w, table, "id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, v INT UNIQUE");
    let r = await exec(w, `INSERT INTO ${table} (v) VALUES (?), (?), (?)`, [1, 2, 3]);
    assert.equal(r.affected_rows, "3");
    assert.equal(r.last_insert_id, "1");
    r = await exec(w, `INSERT INTO ${table} (v) VALUES (10)`);
    assert.equal(r.last_insert_id, "4");
    r = await exec(w, `UPDATE ${table} SET v = v + 100 WHERE v < ?`, [3]);
    assert.equal(r.affected_rows, "2");
    assert.equal(r.last_insert_id, null);
    // A duplicate under INSERT IGNORE is a warning, not an error.
    r = await exec(w, `INSERT IGNORE INTO ${table} (v) VALUES (10)`);
    assert.deepEqual([r.affected_rows, r.warnings], ["0", 1]);
  },

  async batch_is_atomic(w, table) {
    await recreate(w, table, "id INT PRIMARY KEY, s VARCHAR(10)");
    const done = await ok(w, "POST", "/batch", {
      statements: [
        st(`INSERT INTO ${table} VALUES (?, ?)`, [1, "a"]),
        st(`INSERT INTO ${table} VALUES (?, ?)`, [2, "b"]),
        st(`SELECT COUNT(*) FROM ${table}`),
      ],
    });
    assert.equal(done.results.length, 3);
    assert.equal(done.results[0].affected_rows, "1");
    assert.equal(integer(done.results[2].rows[0][0]), 2n);

    const e = await fails(w, "/batch", {
      statements: [
        st(`INSERT INTO ${table} VALUES (?, ?)`, [3, "c"]),
        st(`UPDATE ${table} SET s = 'z'`),
        st(`INSERT INTO ${table} VALUES (?, ?)`, [1, "dup"]),
      ],
    });
    assert.equal(e.batch_index, 2);
    assert.equal(e.errno, 1062);
    assert.equal(e.sqlstate, "23000");
    // Nothing of the failed batch is visible, and the Worker still answers.
    assert.equal(await count(w, `SELECT COUNT(*) FROM ${table}`), 2);
    assert.equal(await count(w, `SELECT COUNT(*) FROM ${table} WHERE s = 'z'`), 0);
    assert.equal(await count(w, "SELECT 1"), 1);
  },

  async transactions_commit_and_roll_back(w, table) {
    await recreate(w, table, "id INT PRIMARY KEY");
    const tx = await ok(w, "POST", "/tx", {
      on_error: "continue",
      statements: [
        st(`INSERT INTO ${table} VALUES (?)`, [1]),
        st(`SELECT COUNT(*) FROM ${table}`),
        // A failing statement leaves the transaction usable.
        st(`INSERT INTO ${table} VALUES (?)`, [1]),
      ],
    });
    assert.equal(tx.ended, "commit");
    assert.equal(integer(tx.results[1].rows[0][0]), 1n, "visible inside the transaction");
    assert.equal(tx.results[2].error?.is_duplicate_key, true, JSON.stringify(tx.results[2]));
    assert.equal(await count(w, `SELECT COUNT(*) FROM ${table}`), 1);

    const rolled = await ok(w, "POST", "/tx", {
      end: "rollback",
      statements: [st(`INSERT INTO ${table} VALUES (2)`)],
    });
    assert.equal(rolled.ended, "rollback");
    assert.equal(await count(w, `SELECT COUNT(*) FROM ${table}`), 1);
  },

  async statements_that_end_a_transaction_are_caught(w, table) {
    await recreate(w, table, "id INT PRIMARY KEY");
    const res = await call(w, "POST", "/tx", {
      on_error: "continue",
      end: "rollback",
      statements: [
        st(`INSERT INTO ${table} VALUES (1)`),
        // BEGIN inside would commit silently: refused before sending, the transaction goes on.
        st("BEGIN"),
        st("COMMIT"),
        st(`INSERT INTO ${table} VALUES (2)`),
      ],
    });
    assert.equal(res.status, 500, JSON.stringify(res.body));
    const [, begin, commit, second] = res.body.results;
    assert.match(begin.error?.message ?? "", /would commit it/, JSON.stringify(begin));
    assert.equal(commit.error, undefined, JSON.stringify(commit));
    assert.match(second.error?.message ?? "", /ended the transaction/, JSON.stringify(second));
    assert.equal(second.error.is_retryable, false);
    // rollback() does not pretend either.
    assert.equal(res.body.error.step, "rollback");
    assert.match(res.body.error.message, /ended the transaction/);
    const ids = await sql(w, `SELECT id FROM ${table} ORDER BY id`);
    assert.deepEqual(ids.rows, [[v.int(1)]], "row 1 was committed by the COMMIT, row 2 never ran");

    // The same inside a batch: the batch stops and says so.
    const e = await fails(w, "/batch", {
      statements: [st(`INSERT INTO ${table} VALUES (10)`), st("COMMIT"), st(`INSERT INTO ${table} VALUES (11)`)],
    });
    assert.equal(e.batch_index, 1, JSON.stringify(e));
    assert.equal(await count(w, `SELECT COUNT(*) FROM ${table} WHERE id = 11`), 0);
  },

  async isolation_levels(w, table) {
    await recreate(w, table, "id INT PRIMARY KEY");
    // The ids are the Rust enum's discriminants (`level as i32`), as in the Rust case.
    for (const [level, id] of [
      ["READ COMMITTED", 1],
      ["REPEATABLE READ", 2],
    ]) {
      await ok(w, "POST", "/tx", {
        isolation: level,
        statements: [st(`INSERT INTO ${table} VALUES (?)`, [id])],
      });
    }
    assert.equal(await count(w, `SELECT COUNT(*) FROM ${table}`), 2);

    // A read-only transaction refuses writes with the server's error.
    const ro = await ok(w, "POST", "/tx", {
      read_only: true,
      on_error: "continue",
      end: "rollback",
      statements: [st(`INSERT INTO ${table} VALUES (99)`)],
    });
    assert.equal(ro.results[0].error?.errno, 1792, JSON.stringify(ro.results[0]));
  },

  async server_errors_keep_errno_and_sqlstate(w, table) {
    let e = await fails(w, "/sql", st("SELEC 1"));
    assert.equal(e.errno, 1064, JSON.stringify(e));
    assert.equal(e.sqlstate, "42000");
    assert.match(e.server_message, /SELEC 1/);
    assert.equal(e.is_retryable, false);

    e = await fails(w, "/sql", st("SELECT * FROM table_that_does_not_exist_anywhere"));
    assert.equal(e.errno, 1146);
    assert.equal(e.sqlstate, "42S02");

    await recreate(w, table, "id INT PRIMARY KEY");
    await exec(w, `INSERT INTO ${table} VALUES (1)`);
    e = await fails(w, "/exec", st(`INSERT INTO ${table} VALUES (?)`, [1]));
    assert.equal(e.is_duplicate_key, true);
    assert.deepEqual([e.errno, e.sqlstate], [1062, "23000"]);
    assert.ok(e.message.startsWith("server error 1062 (23000)"), e.message);
  },

  async multi_statement_text_is_reported(w, table) {
    await recreate(w, table, "id INT PRIMARY KEY");
    const e = await fails(w, "/sql", st(`INSERT INTO ${table} VALUES (1); INSERT INTO ${table} VALUES (2)`));
    assert.equal(e.is_unsupported, true, JSON.stringify(e));
    const ran = await count(w, `SELECT COUNT(*) FROM ${table}`);
    if (ran === 2) assert.match(e.message, /which all ran/);
    else if (ran === 0) assert.doesNotMatch(e.message, /ran/);
    else assert.fail(`${ran} of 2 statements ran`);
    assert.equal(await count(w, "SELECT 3"), 3);

    // A compound statement is one statement, and a procedure's rows come back from CALL.
    const one = `${table}_one`;
    const two = `${table}_two`;
    for (const [name, body] of [
      [one, "SELECT 7 AS n;"],
      [two, "SELECT 1; SELECT 2;"],
    ]) {
      await exec(w, `DROP PROCEDURE IF EXISTS ${name}`);
      await exec(w, `CREATE PROCEDURE ${name}() BEGIN ${body} END`);
    }
    assert.equal(await count(w, `CALL ${one}()`), 7);
    const e2 = await fails(w, "/sql", st(`CALL ${two}()`));
    assert.match(e2.message, /returned 2 result sets/);
  },

  async server_version_is_parsed(w) {
    const version = await ok(w, "GET", "/version");
    assert.equal(version.flavor, "MariaDB", JSON.stringify(version));
    assert.ok(version.version[0] >= 10, JSON.stringify(version));
  },

  async c08_utf8mb4_is_negotiated(w) {
    const rs = await sql(w, "SELECT @@character_set_client, @@collation_connection, @@character_set_results");
    const [client, conn, results] = rs.rows[0].map((c) => c.value);
    assert.equal(client, "utf8mb4");
    assert.ok(conn.startsWith("utf8mb4_"), conn);
    assert.equal(results, "utf8mb4");
  },

  async c10_text_and_bytes_by_charset(w, table) {
    await recreate(
      w,
      table,
      "a VARCHAR(20) COLLATE utf8mb4_bin, b VARBINARY(20), c VARCHAR(20) COLLATE utf8mb4_general_ci",
    );
    await exec(w, `INSERT INTO ${table} VALUES ('héllo', x'00FF', 'Ünï')`);
    const want = [v.text("héllo"), v.bytes([0x00, 0xff]), v.text("Ünï")];
    const text = await sql(w, `SELECT a, b, c FROM ${table}`);
    assert.deepEqual(text.rows[0], want);
    const binary = await sql(w, `SELECT a, b, c FROM ${table} WHERE 1 = ?`, [1]);
    assert.deepEqual(binary.rows[0], want);
  },

  // Runs on the `…_sql_mode` Worker: sql-mode= (empty) for its connections, as the case asks.
  async c11_zero_and_partial_dates(w, table) {
    await exec(w, `DROP TABLE IF EXISTS ${table}`);
    await exec(
      w,
      `CREATE TABLE ${table} (id INT PRIMARY KEY, d DATE NOT NULL, dt DATETIME NOT NULL, dn DATETIME NULL)`,
    );
    await exec(
      w,
      `INSERT INTO ${table} VALUES (1,'0000-00-00','0000-00-00 00:00:00',NULL), ` +
        `(2,'2016-07-00','2016-07-00 10:00:00','0000-00-00 00:00:00')`,
    );
    const want = [
      [v.int(1), v.date("0000-00-00"), v.datetime("0000-00-00 00:00:00"), null],
      [v.int(2), v.date("2016-07-00"), v.datetime("2016-07-00 10:00:00"), v.datetime("0000-00-00 00:00:00")],
    ];
    const text = await sql(w, `SELECT * FROM ${table} ORDER BY id`);
    const binary = await sql(w, `SELECT * FROM ${table} WHERE id > ? ORDER BY id`, [0]);
    assert.deepEqual(text.rows, want);
    assert.deepEqual(binary.rows, want);

    // The values round-trip as parameters.
    await exec(w, `INSERT INTO ${table} VALUES (?, ?, ?, ?)`, [v.int(3), ...want[1].slice(1)]);
    const back = await sql(w, `SELECT d, dt, dn FROM ${table} WHERE id = 3`);
    assert.deepEqual(back.rows[0], want[1].slice(1));
  },

  async c12_integer_parameters(w, table) {
    await recreate(w, table, "id INT PRIMARY KEY");
    await exec(w, `INSERT INTO ${table} VALUES (1), (2), (3)`);
    for (const limit of [v.int(1), v.uint(1)]) {
      const rs = await sql(w, `SELECT id FROM ${table} ORDER BY id LIMIT ?`, [limit]);
      assert.equal(rs.rows.length, 1);
    }
    const rs = await sql(w, "SELECT ? + 0", [v.int("9223372036854775807")]);
    assert.equal(integer(rs.rows[0][0]), 9223372036854775807n);
    assert.ok(["int", "decimal"].includes(rs.rows[0][0].type), JSON.stringify(rs.rows[0][0]));
  },
};

for (const target of TARGETS) {
  describe(target, () => {
    for (const [name, body] of Object.entries(cases)) {
      const worker = name.startsWith("c11_") ? `${target}_sql_mode` : target;
      test(name, { skip: skip[target] }, () =>
        body(run.worker(worker), `wd_${target}_${name.split("_").slice(0, 2).join("_")}`),
      );
    }
  });
}

// The same rows written through each path read back identically through all three, values and
// column metadata alike, with only TIDB_URL changed. (Hyperdrive reaches a second server of the
// same version; see harness.mjs.)
test(
  "hyperdrive, direct and relay return the same rows",
  { skip: skip.hyperdrive || skip.direct || skip.relay },
  async () => {
    const table = "wd_both_paths";
    const rows = typeRows().map((row) =>
      row.map((c) => (typeof c?.value === "string" && c.value.length > 200 ? null : c)),
    );
    const placeholders = rows[0].map(() => "?").join(", ");
    const answers = {};
    for (const name of ["direct", "hyperdrive", "relay"]) {
      const w = run.worker(name);
      await recreate(w, table, TYPE_COLUMNS);
      for (const row of rows) {
        await exec(w, `INSERT INTO ${table} VALUES (${placeholders})`, row);
      }
      answers[name] = [
        await sql(w, `SELECT * FROM ${table} ORDER BY id`),
        await sql(w, `SELECT * FROM ${table} WHERE id >= ? ORDER BY id`, [v.int(1)]),
      ];
    }
    for (const [i, direct] of answers.direct.entries()) {
      assertRows(direct, rows);
      const meta = (rs) => rs.columns.map((c) => [c.name, c.column_type, c.unsigned, c.binary, c.decimals]);
      for (const other of ["hyperdrive", "relay"]) {
        assert.deepEqual(answers[other][i].rows, direct.rows, other);
        assert.deepEqual(meta(answers[other][i]), meta(direct), other);
      }
    }
  },
);

// Field case C09 in workerd: what Hyperdrive refuses is refused before sending, typed, and the
// connection stays usable.
test("c09: statements Hyperdrive refuses are refused on the hyperdrive path", { skip: skip.hyperdrive }, async () => {
  const w = run.worker("hyperdrive");
  for (const text of ["USE other_db", "SELECT 1; SELECT 2", "PREPARE s FROM 'SELECT ?'"]) {
    const e = await fails(w, "/sql", { sql: text });
    assert.ok(e.is_unsupported, `${text}: ${JSON.stringify(e)}`);
    assert.match(e.message, /hyperdrive/, text);
  }
  const rs = await sql(w, "SELECT ? + 1", [v.int(41)]);
  assert.equal(integer(rs.rows[0][0]), 42n);
});

// Field case C13 in workerd: client-side binding (the Hyperdrive path's only way to pass
// parameters) writes every awkward string and every byte value so that the server reads it
// back exactly, with backslash escapes and under NO_BACKSLASH_ESCAPES.
for (const worker of ["hyperdrive", "hyperdrive_no_backslash"]) {
  test(`c13: strings and all byte values round-trip through client-side binding (${worker})`, { skip: skip.hyperdrive }, async () => {
    const w = run.worker(worker);
    const table = `wd_c13_${worker === "hyperdrive" ? "default" : "nbe"}`;
    await recreate(w, table, "id INT PRIMARY KEY, t LONGTEXT COLLATE utf8mb4_bin, b LONGBLOB");
    const texts = [
      "it's", "back\\slash", "trailing\\", "\\'", "nul\0inside", "line\nfeed\rreturn",
      "ctrl-z\x1a", 'double"quote', "multibyte é 😀 中文", "?", "-- not a comment",
      Array.from({ length: 256 }, (_, i) => String.fromCodePoint(i)).join(""),
    ];
    const bytes = [Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.alloc(0)];
    const values = [...texts.map((t) => [v.text(t), null]), ...bytes.map((b) => [null, v.bytes(b)])];
    for (const [id, [t, b]] of values.entries()) {
      await exec(w, `INSERT INTO ${table} VALUES (?, ?, ?)`, [v.int(id), t, b]);
      const rs = await sql(w, `SELECT t, b, t <=> ?, b <=> ? FROM ${table} WHERE id = ?`, [t, b, v.int(id)]);
      const [gotT, gotB, sameT, sameB] = rs.rows[0];
      assert.deepEqual(gotT, t, `row ${id} text`);
      assert.deepEqual(gotB, b, `row ${id} bytes`);
      assert.equal(integer(sameT), 1n, `row ${id}: the server compares the bound text equal`);
      assert.equal(integer(sameB), 1n, `row ${id}: the server compares the bound bytes equal`);
    }
  });
}
