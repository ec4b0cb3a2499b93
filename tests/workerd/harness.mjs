// Runs the example Worker (examples/worker-app, built by scripts/build-worker.sh) in workerd
// through Miniflare, once per configuration, and talks to it over HTTP.
//
// The databases are local servers of scripts/local-tidb.sh: a TLS-only one (direct path) and a
// plaintext one behind the Hyperdrive binding. scripts/test-workerd.sh starts them and passes
// TIDB_WORKERD_URL / _CA / _PORT and TIDB_WORKERD_PLAIN_URL / _PORT. Run alone (`node --test`
// in this directory), the harness starts them itself under target/local-tidb/workerd{,-plain}
// and leaves them running.

import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

// Miniflare is imported on first use, not here: it reads NODE_EXTRA_CA_CERTS once, when it is
// loaded, and passes those certificates to workerd as trusted roots (see trustTestCa).
let miniflareModule;
export async function loadMiniflare() {
  miniflareModule ??= await import("miniflare");
  return miniflareModule;
}

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BUILD = path.join(ROOT, "examples/worker-app/build");

// Not newer than the bundled workerd accepts (miniflare 4.20260426.0 bundles workerd
// 1.20260426.1), and the same as examples/worker-app/wrangler.toml.
export const COMPATIBILITY_DATE = "2026-04-01";

/** Reads `KEY='value'` lines as local-tidb.sh prints them (POSIX single quoting). */
function parseEnvLines(text) {
  const out = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (!m) continue;
    out[m[1]] = m[2].replace(/^'|'$/g, "").replaceAll("'\\''", "'");
  }
  return out;
}

function localServer(prefix, dirName, extraArgs) {
  if (process.env[`${prefix}_URL`]) {
    return {
      url: process.env[`${prefix}_URL`],
      ca: process.env[`${prefix}_CA`],
      port: Number(process.env[`${prefix}_PORT`]),
    };
  }
  const dir = path.join(ROOT, "target/local-tidb", dirName);
  const env = parseEnvLines(
    execFileSync(path.join(ROOT, "scripts/local-tidb.sh"), ["start", "--dir", dir, ...extraArgs], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }),
  );
  return { url: env.TIDB_URL, ca: env.TIDB_CA, port: Number(env.TIDB_PORT) };
}

/** The local TLS-only server: `{url, ca, port}`. */
export function database() {
  return localServer("TIDB_WORKERD", "workerd", []);
}

/**
 * The local plaintext server behind the Hyperdrive binding: `{url, port}`.
 *
 * Miniflare's Hyperdrive stand-in can reach its origin with TLS, but its TLS request carries
 * too few capability flags for MariaDB, which then refuses every login (1251, "client does not
 * support authentication protocol"). Real Hyperdrive does TLS to the origin itself; what the
 * Worker sees is the same plaintext MySQL protocol either way.
 */
export function hyperdriveOrigin() {
  const db = localServer("TIDB_WORKERD_PLAIN", "workerd-plain", ["--no-tls"]);
  return { ...db, url: withQuery(db.url, "ssl-mode=disabled") };
}

/**
 * Makes workerd trust the test CA for StartTLS. Miniflare hands the certificates of the file in
 * NODE_EXTRA_CA_CERTS to workerd, reading it when Miniflare is loaded: call this before
 * loadMiniflare(). A file already named there is kept, in a combined bundle.
 */
export function trustTestCa(ca) {
  if (miniflareModule) throw new Error("trustTestCa() must run before Miniflare is loaded");
  const current = process.env.NODE_EXTRA_CA_CERTS;
  if (!current || current === ca) {
    process.env.NODE_EXTRA_CA_CERTS = ca;
    return;
  }
  const bundle = path.join(ROOT, "target/local-tidb/workerd-extra-ca.pem");
  const existing = existsSync(current) ? readFileSync(current, "utf8") : "";
  if (existing.includes(readFileSync(ca, "utf8").trim())) return;
  mkdirSync(path.dirname(bundle), { recursive: true });
  writeFileSync(bundle, `${existing.trimEnd()}\n${readFileSync(ca, "utf8")}`);
  process.env.NODE_EXTRA_CA_CERTS = bundle;
}

/**
 * Starts the relay (`tidb-connect-relay`, built by scripts/test-workerd.sh) on a free loopback
 * port in front of the database at `serverUrl`, as it would run inside the VPC. Returns
 * `{port, user, password, database, stop()}`: the credentials are the database user's, which
 * the relay passes on (its default mode).
 */
export async function startRelay(serverUrl) {
  const bin = process.env.TIDB_RELAY_BIN ?? path.join(ROOT, "target/debug/tidb-connect-relay");
  if (!existsSync(bin)) {
    throw new Error(`${bin} is missing: cargo build --features relay-server --bin tidb-connect-relay`);
  }
  const server = new URL(serverUrl);
  const upstream = `mysql://${server.host}${server.pathname}${server.search}`;
  const relay = spawn(bin, ["--listen", "127.0.0.1:0", "--upstream", upstream], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise((resolve, reject) => {
    let out = "";
    relay.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    relay.on("exit", (code) => reject(new Error(`relay exited with ${code}`)));
  });
  return {
    port,
    user: server.username,
    password: server.password,
    database: server.pathname.slice(1),
    stop: () => relay.kill("SIGTERM"),
  };
}

/** The server's URL with its query replaced, e.g. `ssl-mode=verify_ca`. */
export function withQuery(url, query) {
  return `${url.split("?")[0]}?${query}`;
}

/**
 * Starts one workerd with one Worker per entry of `configs` (`{name: {bindings, hyperdrives,
 * serviceBindings}}`), all running the same build. Returns `{mf, worker(name)}`.
 */
export async function startWorkers(configs) {
  // worker-build 0.8.7's entry module; it imports ./index_bg.wasm.
  const entry = path.join(BUILD, "index.js");
  if (!existsSync(entry)) {
    throw new Error(`${entry} is missing: run scripts/build-worker.sh first`);
  }
  const workers = Object.entries(configs).map(([name, config]) => ({
    name,
    modules: true,
    scriptPath: entry,
    // Module names are paths relative to this root (the default, the working directory,
    // would make them start with `..`, which workerd refuses).
    modulesRoot: BUILD,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: config.bindings ?? {},
    hyperdrives: config.hyperdrives ?? {},
    serviceBindings: config.serviceBindings ?? {},
  }));
  const { Miniflare } = await loadMiniflare();
  const mf = new Miniflare({ workers, cf: false });
  try {
    await mf.ready;
  } catch (e) {
    // Without this the failed instance keeps its servers open and the test process never ends.
    await mf.dispose().catch(() => {});
    throw e;
  }
  const handles = new Map();
  for (const name of Object.keys(configs)) {
    handles.set(name, await mf.getWorker(name));
  }
  return {
    mf,
    worker(name) {
      const w = handles.get(name);
      if (!w) throw new Error(`no worker ${name}`);
      return w;
    },
  };
}

/** One request to a Worker: `{status, body}` with the JSON body parsed. */
export async function call(worker, method, route, body) {
  const res = await worker.fetch(`http://worker.test${route}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${method} ${route}: HTTP ${res.status}, not JSON: ${text.slice(0, 500)}`);
  }
  return { status: res.status, body: json };
}

/**
 * Whether an error answer is the library's "backend not in this build" error. Only that kind
 * answers both `is_config` and `is_unsupported`.
 */
export function isNotBuilt(body) {
  const e = body?.error;
  return Boolean(e && e.is_config && e.is_unsupported);
}

/**
 * Asks a Worker for `SELECT 1`; returns a skip reason when its backend is not built yet, and
 * `false` when it answered (whatever the answer: a real failure must fail the tests).
 */
export async function skipUnlessBuilt(worker, label) {
  const { body } = await call(worker, "POST", "/sql", { sql: "SELECT 1" });
  if (isNotBuilt(body)) {
    return `${label}: the backend is not built into this release yet (${body.error.message})`;
  }
  return false;
}

// Tagged values, as examples/worker-app/src/wire.rs defines them.
export const v = {
  int: (x) => ({ type: "int", value: String(x) }),
  uint: (x) => ({ type: "uint", value: String(x) }),
  float: (x) => ({ type: "float", value: x }),
  double: (x) => ({ type: "double", value: x }),
  decimal: (s) => ({ type: "decimal", value: s }),
  text: (s) => ({ type: "text", value: s }),
  bytes: (buf) => ({ type: "bytes", value: Buffer.from(buf).toString("hex") }),
  date: (s) => ({ type: "date", value: s }),
  time: (s) => ({ type: "time", value: s }),
  datetime: (s) => ({ type: "datetime", value: s }),
  year: (n) => ({ type: "year", value: n }),
  bit: (x) => ({ type: "bit", value: String(x) }),
  json: (s) => ({ type: "json", value: s }),
};
