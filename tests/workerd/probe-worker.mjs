// A few lines of MySQL client in plain JavaScript, run in workerd by runtime.test.mjs to check the
// environment the Rust Worker depends on: workerd's TCP sockets with StartTLS trusting the test
// CA, and Miniflare's Hyperdrive binding reaching the TLS-only server. It logs in with
// mysql_native_password and reports what the server answered; it is a probe of the runtime, not
// a client to use.

import { connect } from "cloudflare:sockets";

const CLIENT_LONG_PASSWORD = 0x1;
const CLIENT_CONNECT_WITH_DB = 0x8;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SSL = 0x800;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH = 0x80000;
const UTF8MB4_GENERAL_CI = 45;

/** Reads whole MySQL packets from a socket's readable side. */
class PacketReader {
  constructor(readable) {
    this.reader = readable.getReader();
    this.buf = new Uint8Array(0);
  }
  async packet() {
    for (;;) {
      if (this.buf.length >= 4) {
        const len = this.buf[0] | (this.buf[1] << 8) | (this.buf[2] << 16);
        if (this.buf.length >= 4 + len) {
          const seq = this.buf[3];
          const payload = this.buf.slice(4, 4 + len);
          this.buf = this.buf.slice(4 + len);
          return { seq, payload };
        }
      }
      const { value, done } = await this.reader.read();
      if (done) throw new Error(`connection closed after ${this.buf.length} bytes`);
      const next = new Uint8Array(this.buf.length + value.length);
      next.set(this.buf);
      next.set(value, this.buf.length);
      this.buf = next;
    }
  }
  release() {
    this.reader.releaseLock();
  }
}

/** Header and payload in one write: a proxy may read a packet from one chunk. */
async function send(socket, seq, payload) {
  const packet = new Uint8Array(4 + payload.length);
  packet.set([payload.length & 0xff, (payload.length >> 8) & 0xff, payload.length >> 16, seq]);
  packet.set(payload, 4);
  const writer = socket.writable.getWriter();
  await writer.write(packet);
  writer.releaseLock();
}

function parseGreeting(p) {
  let i = 1;
  const versionEnd = p.indexOf(0, i);
  const version = new TextDecoder().decode(p.slice(i, versionEnd));
  i = versionEnd + 1 + 4;
  const salt1 = p.slice(i, i + 8);
  i += 8 + 1;
  const capsLow = p[i] | (p[i + 1] << 8);
  i += 2 + 1 + 2 + 2 + 1 + 10;
  const salt2 = p.slice(i, i + 12);
  i += 13;
  const pluginEnd = p.indexOf(0, i);
  const plugin = new TextDecoder().decode(p.slice(i, pluginEnd < 0 ? p.length : pluginEnd));
  const salt = new Uint8Array(20);
  salt.set(salt1);
  salt.set(salt2, 8);
  return { protocol: p[0], version, salt, plugin, ssl: (capsLow & CLIENT_SSL) !== 0 };
}

async function sha1(...parts) {
  const all = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of parts) {
    all.set(b, at);
    at += b.length;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-1", all));
}

/** mysql_native_password: SHA1(pw) XOR SHA1(salt + SHA1(SHA1(pw))). */
async function scramble(password, salt) {
  const h1 = await sha1(new TextEncoder().encode(password));
  const h2 = await sha1(h1);
  const h3 = await sha1(salt, h2);
  return h1.map((b, i) => b ^ h3[i]);
}

function fixedPart(caps) {
  const out = new Uint8Array(32);
  new DataView(out.buffer).setUint32(0, caps, true);
  new DataView(out.buffer).setUint32(4, 16 * 1024 * 1024, true);
  out[8] = UTF8MB4_GENERAL_CI;
  return out;
}

async function handshakeResponse(caps, user, password, database, salt) {
  const enc = new TextEncoder();
  const auth = password ? await scramble(password, salt) : new Uint8Array(0);
  const parts = [
    fixedPart(caps),
    enc.encode(user),
    [0],
    [auth.length],
    auth,
    enc.encode(database),
    [0],
    enc.encode("mysql_native_password"),
    [0],
  ];
  const len = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(len);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function answer(p) {
  if (p[0] === 0x00) return { ok: true };
  if (p[0] === 0xff) {
    const errno = p[1] | (p[2] << 8);
    const message = new TextDecoder().decode(p.slice(p[3] === 0x23 ? 9 : 3));
    return { ok: false, errno, message };
  }
  return { ok: false, other: p[0] };
}

/** Connects, optionally upgrades with StartTLS, logs in; returns what happened. */
async function login({ host, port, user, password, database, tls }) {
  const base = CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION |
    CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_WITH_DB;
  let socket = connect({ hostname: host, port }, { secureTransport: tls ? "starttls" : "off" });
  let reader = new PacketReader(socket.readable);
  const greeting = parseGreeting((await reader.packet()).payload);
  let seq = 1;
  if (tls) {
    await send(socket, seq++, fixedPart(base | CLIENT_SSL));
    // startTls() needs the streams unlocked and nothing buffered.
    reader.release();
    socket = socket.startTls();
    reader = new PacketReader(socket.readable);
  }
  const caps = tls ? base | CLIENT_SSL : base;
  await send(socket, seq, await handshakeResponse(caps, user, password, database, greeting.salt));
  const result = answer((await reader.packet()).payload);
  await socket.close();
  return { greeting: { ...greeting, salt: undefined }, result };
}

export default {
  async fetch(request, env) {
    const q = await request.json();
    try {
      if (q.via === "hyperdrive") {
        const hd = env.HYPERDRIVE;
        const binding = {
          constructor: hd.constructor.name,
          host: hd.host,
          port: hd.port,
          user: hd.user,
          password: hd.password,
          database: hd.database,
        };
        const login_ = await login({ ...binding, tls: false });
        return Response.json({ binding, ...login_ });
      }
      return Response.json(await login(q));
    } catch (e) {
      return Response.json({ thrown: String(e?.stack ?? e) }, { status: 500 });
    }
  },
};
