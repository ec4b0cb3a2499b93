// The official TiDB Cloud serverless driver (@tidbcloud/serverless, pinned in package.json)
// against our relay: the relay must look like TiDB Cloud's HTTP endpoint to it.
//
// Needs TIDB_TEST_MAIN_URL (the TLS-only local server's mysql:// URL, as scripts/test.sh
// exports it) and the relay binary (TIDB_RELAY_BIN, default ../../target/debug/...).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { connect, DatabaseError } from '@tidbcloud/serverless';

const here = path.dirname(fileURLToPath(import.meta.url));
const relayBin = process.env.TIDB_RELAY_BIN ?? path.join(here, '../../target/debug/tidb-connect-relay');
const mainUrl = process.env.TIDB_TEST_MAIN_URL;
if (!mainUrl) {
  throw new Error('TIDB_TEST_MAIN_URL is not set; run scripts/test.sh');
}

const server = new URL(mainUrl);
const username = decodeURIComponent(server.username);
const password = decodeURIComponent(server.password);
const database = decodeURIComponent(server.pathname.slice(1));
const upstream = `mysql://${server.host}${server.pathname}${server.search}`;

let relay;
let relayPort;
const requests = [];

before(async () => {
  relay = spawn(relayBin, ['--listen', '127.0.0.1:0', '--upstream', upstream], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  relayPort = await new Promise((resolve, reject) => {
    let out = '';
    relay.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    relay.on('exit', (code) => reject(new Error(`relay exited with ${code}`)));
  });
});

after(() => {
  relay?.kill('SIGTERM');
});

// The driver always builds https://http-<host>/v1beta/sql; this fetch sends it to the relay
// over plain HTTP on loopback, as a VPC service binding would, and records what was sent.
function relayFetch(url, init) {
  const u = new URL(url);
  requests.push({ path: u.pathname, headers: { ...init.headers }, body: init.body });
  return fetch(`http://127.0.0.1:${relayPort}${u.pathname}`, init);
}

function db(options = {}) {
  return connect({
    host: 'relay.internal',
    username,
    password,
    database,
    fetch: relayFetch,
    ...options,
  });
}

test('typed select over every type', async () => {
  const conn = db();
  await conn.execute('DROP TABLE IF EXISTS js_types');
  await conn.execute(`CREATE TABLE js_types (
    id INT PRIMARY KEY, ti TINYINT, uti TINYINT UNSIGNED, si SMALLINT, usi SMALLINT UNSIGNED,
    mi MEDIUMINT, umi MEDIUMINT UNSIGNED, i INT, ui INT UNSIGNED, bi BIGINT, ubi BIGINT UNSIGNED,
    de DECIMAL(65,30), f FLOAT, d DOUBLE, c CHAR(3), vc VARCHAR(20), b BINARY(2),
    vb VARBINARY(10), tt TINYTEXT, t TEXT, mt MEDIUMTEXT, lt LONGTEXT, tb TINYBLOB, bl BLOB,
    mb MEDIUMBLOB, lb LONGBLOB, dt DATE, tm TIME(6), dtm DATETIME(6), ts TIMESTAMP(6) NULL,
    yr YEAR, bt BIT(16), js JSON, en ENUM('a','b'), st SET('x','y'), nn INT NULL)`);
  await conn.execute(
    `INSERT INTO js_types VALUES (1, -128, 255, -32768, 65535, -8388608, 16777215,
      -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
      '-12345678901234567890123456789012345.123456789012345678901234567890', 1.5, ?, 'abc', ?,
      x'00ff', x'0001feff', 'tiny', 'text', 'medium', 'long', x'01', x'02', x'03', x'04',
      '2024-02-29', '-838:59:59.000001', '9999-12-31 23:59:59.999999',
      '2038-01-19 03:14:07.999999', 2155, b'1010101010101010', '{"a": [1, null]}', 'b', 'x,y',
      NULL)`,
    [Math.PI, "héllo 🦀 'q' \\ \"dq\""],
  );

  const full = await conn.execute('SELECT * FROM js_types', null, { fullResult: true });
  assert.deepEqual(full.types, {
    id: 'INT', ti: 'TINYINT', uti: 'UNSIGNED TINYINT', si: 'SMALLINT', usi: 'UNSIGNED SMALLINT',
    mi: 'MEDIUMINT', umi: 'UNSIGNED MEDIUMINT', i: 'INT', ui: 'UNSIGNED INT', bi: 'BIGINT',
    ubi: 'UNSIGNED BIGINT', de: 'DECIMAL', f: 'FLOAT', d: 'DOUBLE', c: 'CHAR', vc: 'VARCHAR',
    b: 'BINARY', vb: 'VARBINARY', tt: 'TINYTEXT', t: 'TEXT', mt: 'MEDIUMTEXT', lt: 'LONGTEXT',
    tb: 'TINYBLOB', bl: 'BLOB', mb: 'MEDIUMBLOB', lb: 'LONGBLOB', dt: 'DATE', tm: 'TIME',
    dtm: 'DATETIME', ts: 'TIMESTAMP', yr: 'YEAR', bt: 'BIT',
    // MariaDB stores JSON as LONGTEXT (TiDB reports JSON).
    js: 'LONGTEXT', en: 'ENUM', st: 'SET', nn: 'INT',
  });
  const [row] = full.rows;
  assert.equal(row.ti, -128);
  assert.equal(row.uti, 255);
  assert.equal(row.usi, 65535);
  assert.equal(row.umi, 16777215);
  assert.equal(row.ui, 4294967295);
  assert.equal(row.bi, '-9223372036854775808');
  assert.equal(row.ubi, '18446744073709551615');
  assert.equal(row.de, '-12345678901234567890123456789012345.123456789012345678901234567890');
  assert.equal(row.f, 1.5);
  assert.equal(row.d, Math.PI);
  assert.equal(row.c, 'abc');
  assert.equal(row.vc, "héllo 🦀 'q' \\ \"dq\"");
  assert.deepEqual(row.b, new Uint8Array([0x00, 0xff]));
  assert.deepEqual(row.vb, new Uint8Array([0x00, 0x01, 0xfe, 0xff]));
  assert.equal(row.tt, 'tiny');
  assert.equal(row.lt, 'long');
  assert.deepEqual(row.lb, new Uint8Array([4]));
  assert.equal(row.dt, '2024-02-29');
  assert.equal(row.tm, '-838:59:59.000001');
  assert.equal(row.dtm, '9999-12-31 23:59:59.999999');
  assert.equal(row.ts, '2038-01-19 03:14:07.999999');
  assert.equal(row.yr, 2155);
  assert.deepEqual(row.bt, new Uint8Array([0xaa, 0xaa]));
  assert.deepEqual(JSON.parse(row.js), { a: [1, null] });
  assert.equal(row.en, 'b');
  assert.equal(row.st, 'x,y');
  assert.equal(row.nn, null);
  assert.equal(full.rowCount, 1);

  // Array mode and a client-side bound parameter.
  const rows = await conn.execute('SELECT id, ubi FROM js_types WHERE vc = ?', ["héllo 🦀 'q' \\ \"dq\""], { arrayMode: true });
  assert.deepEqual(rows, [[1, '18446744073709551615']]);
});

test('insert with fullResult reports rows affected and the last insert id', async () => {
  const conn = db();
  await conn.execute('DROP TABLE IF EXISTS js_insert');
  await conn.execute('CREATE TABLE js_insert (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, s VARCHAR(10))');
  const r = await conn.execute('INSERT INTO js_insert (s) VALUES (?), (?)', ['a', 'b'], { fullResult: true });
  assert.equal(r.rowsAffected, 2);
  assert.equal(r.lastInsertId, '1');
  assert.equal(r.rowCount, 0);
  const u = await conn.execute("UPDATE js_insert SET s = 'z'", null, { fullResult: true });
  assert.equal(u.rowsAffected, 2);
});

test('transactions commit and roll back', async () => {
  const conn = db();
  await conn.execute('DROP TABLE IF EXISTS js_tx');
  await conn.execute('CREATE TABLE js_tx (id INT PRIMARY KEY)');

  const tx = await conn.begin({ isolation: 'READ COMMITTED' });
  await tx.execute('INSERT INTO js_tx VALUES (1)');
  // Invisible outside until committed.
  assert.deepEqual(await conn.execute('SELECT COUNT(*) AS n FROM js_tx'), [{ n: '0' }]);
  assert.deepEqual(await tx.execute('SELECT COUNT(*) AS n FROM js_tx'), [{ n: '1' }]);
  await tx.commit();
  assert.deepEqual(await conn.execute('SELECT COUNT(*) AS n FROM js_tx'), [{ n: '1' }]);

  const tx2 = await conn.begin();
  await tx2.execute('INSERT INTO js_tx VALUES (2)');
  await tx2.rollback();
  assert.deepEqual(await conn.execute('SELECT id FROM js_tx ORDER BY id'), [{ id: 1 }]);

  // The BEGIN carried the isolation header, and the session it pinned is released by COMMIT:
  // its token is refused afterwards.
  const begin = requests.find((r) => r.body === JSON.stringify({ query: 'BEGIN' }) && r.headers['TiDB-Isolation-Level']);
  assert.equal(begin.headers['TiDB-Isolation-Level'], 'READ COMMITTED');
  const pinned = requests.find((r) => r.body === JSON.stringify({ query: 'INSERT INTO js_tx VALUES (1)' })).headers['TiDB-Session'];
  assert.match(pinned, /^p1\./);
  const stale = await rawPost({ query: 'SELECT 1' }, { 'TiDB-Session': pinned });
  assert.equal(stale.status, 404);
  assert.equal((await stale.json()).kind, 'session_expired');
});

test('persist() pins a connection until close()', async () => {
  const conn = db();
  const stateful = await conn.persist();
  await stateful.execute('SET @relay_js = 41');
  assert.deepEqual(await stateful.execute('SELECT @relay_js + 1 AS v'), [{ v: '42' }]);
  // A plain connection does not see the session variable.
  assert.deepEqual(await conn.execute('SELECT @relay_js AS v'), [{ v: null }]);
  // BEGIN and COMMIT run on the pinned connection too.
  await stateful.execute('BEGIN');
  await stateful.execute('SELECT 1');
  await stateful.execute('COMMIT');
  assert.deepEqual(await stateful.execute('SELECT @relay_js AS v'), [{ v: '41' }]);
  const pinned = requests.at(-1).headers['TiDB-Session'];
  await stateful.close();
  // The pinned connection went back to the pool (reset): its token is refused, and the
  // driver's connection goes on without a pin.
  assert.equal((await rawPost({ query: 'SELECT 1' }, { 'TiDB-Session': pinned })).status, 404);
  assert.deepEqual(await stateful.execute('SELECT @relay_js AS v'), [{ v: null }]);
});

test('sql errors keep the server code and message', async () => {
  const conn = db();
  await assert.rejects(conn.execute('SELEC 1'), (e) => {
    assert.ok(e instanceof DatabaseError);
    assert.equal(e.status, 400);
    assert.match(e.message, /SQL syntax/);
    assert.equal(e.details.code, 1064);
    return true;
  });
  await assert.rejects(conn.execute('SELECT 1; SELECT 2'), (e) => e.status === 400);
});

test('wrong credentials are 401', async () => {
  const conn = db({ password: 'not-the-password' });
  await assert.rejects(conn.execute('SELECT 1'), (e) => {
    assert.ok(e instanceof DatabaseError);
    assert.equal(e.status, 401);
    assert.doesNotMatch(e.message, /not-the-password/);
    return true;
  });
});

function rawPost(body, headers = {}) {
  return fetch(`http://127.0.0.1:${relayPort}/v1beta/sql`, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${btoa(`${username}:${password}`)}`,
      'TiDB-Database': database,
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

test('every answer carries a session token and gzip is honoured', async () => {
  const res = await rawPost({ query: "SELECT REPEAT('x', 5000) AS x" }, {
    'Accept-Encoding': 'gzip',
    'X-Debug-Trace-Id': 'js-trace-1',
  });
  assert.equal(res.status, 200);
  assert.ok(res.headers.get('TiDB-Session'));
  assert.equal(res.headers.get('X-Debug-Trace-Id'), 'js-trace-1');
  assert.equal(res.headers.get('Content-Encoding'), 'gzip');
  const body = await res.json();
  assert.equal(body.rows[0][0].length, 5000);
});
