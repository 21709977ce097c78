import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AS_NOBODY, openFds, READ_TOKEN, shareFor, startServerProcess, WRITE_TOKEN, type ServerProcess } from '../helpers/cache-server.js';
import { removeDir, tempDir } from '../helpers/env.js';

/**
 * Issue 20: klp-split-cache-server as a process of its own (its bin, as
 * `nobody` when the suite runs as root) under what a share and a network
 * do to it: entries of the share that are no records, many clients at
 * once, a kill in the middle of an upload, a full disk, a pile of idle
 * connections. It must keep serving, answer every request with a status
 * of its protocol, never serve a partial or foreign record, and leave no
 * temporary file behind. SOAK_SCALE multiplies the load (npm run fuzz).
 */
const SCALE = Number(process.env.SOAK_SCALE ?? 1);
let tmp: string;
const running: ServerProcess[] = [];
/** What the run put the servers through, for the figures (scripts/fuzz-report.mjs reads them from $FUZZ_REPORT). */
const load = { requests: 0, connections: 0, kills: 0, failed: [] as string[], t0: Date.now() };

beforeAll(() => {
  tmp = tempDir('cache-soak');
});

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') load.failed.push(ctx.task.name);
});

afterAll(async () => {
  const line = `[cache-soak] scale ${SCALE}: ${load.requests} requests, ${load.connections} idle connections, ${load.kills} kills mid-upload, ${load.failed.length} failing tests, ${Date.now() - load.t0} ms`;
  console.log(line);
  if (process.env.FUZZ_REPORT) {
    const byKind = load.failed.length ? { content: load.failed.length } : {};
    appendFileSync(process.env.FUZZ_REPORT, `${JSON.stringify({ class: 'cache-soak', seed: '-', inputs: load.requests + load.connections, failingInputs: load.failed.length, byKind, examples: load.failed, ms: Date.now() - load.t0 })}\n`);
  }
  for (const s of running) await s.stop();
  for (const m of mounted) execFileSync('umount', ['-l', m]);
  if (tmp) removeDir(tmp);
});

const mounted: string[] = [];

async function server(share: string, args: string[] = []): Promise<ServerProcess> {
  shareFor(share, tmp);
  const s = await startServerProcess(share, args);
  running.push(s);
  return s;
}

function newShare(name: string): string {
  const share = join(tmp, name);
  mkdirSync(share, { recursive: true });
  return share;
}

const auth = (token = WRITE_TOKEN) => ({ authorization: `Bearer ${token}` });

/** One request on a connection of its own; 'error' when the connection broke without a response. */
function call(url: string, method: 'GET' | 'PUT', hash: string, body?: Buffer, token = WRITE_TOKEN, timeoutMs = 20_000): Promise<{ status: number | 'error'; body: Buffer }> {
  load.requests++;
  return new Promise((resolve) => {
    const req = request(`${url}/v1/cache/${hash}`, { method, headers: { ...auth(token), ...(body ? { 'content-length': body.length } : {}) }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
      res.on('error', () => resolve({ status: 'error', body: Buffer.alloc(0) }));
    });
    req.on('error', () => resolve({ status: 'error', body: Buffer.alloc(0) }));
    req.setTimeout(timeoutMs, () => req.destroy());
    req.end(body);
  });
}

const temps = (share: string) => readdirSync(share).filter((f) => f.startsWith('.tmp-'));
const traces = (s: ServerProcess) => s.log.filter((l) => /^\s+at /.test(l));
const alive = (s: ServerProcess) => s.child.exitCode === null && s.child.signalCode === null;

describe('klp-split-cache-server on a share that holds more than records', () => {
  it('answers a directory and a symbolic link under hashes as misses and an unreadable record as an error, and keeps serving', async () => {
    const share = newShare('odd-entries');
    const outside = join(tmp, 'outside-secret');
    writeFileSync(outside, 'a file of the server machine\n');
    chmodSync(outside, 0o644);
    mkdirSync(join(share, '1000'));
    symlinkSync(outside, join(share, '3000'));
    const s = await server(share);
    // Root's, and only root may read it: the server (nobody) cannot.
    writeFileSync(join(share, '4000'), 'a record the server cannot read');
    chmodSync(join(share, '4000'), 0o600);
    expect((await call(s.url, 'GET', '1000')).status).toBe(404);
    const link = await call(s.url, 'GET', '3000');
    expect(link.status).toBe(404);
    expect(link.body.toString()).not.toContain('a file of the server machine');
    if (AS_NOBODY) expect((await call(s.url, 'GET', '4000')).status).toBe(500);
    const rec = Buffer.from('a record after all that');
    expect((await call(s.url, 'PUT', '5000', rec)).status).toBe(200);
    const back = await call(s.url, 'GET', '5000', undefined, READ_TOKEN);
    expect(back.status).toBe(200);
    expect(back.body.equals(rec)).toBe(true);
    expect(alive(s)).toBe(true);
    expect(traces(s)).toEqual([]);
    if (AS_NOBODY) expect(s.log).toContain('klp-split-cache-server: GET /v1/cache/4000: EACCES');
    // Nothing the server does replaces an entry that is not its own.
    for (const h of ['1000', '3000']) expect((await call(s.url, 'PUT', h, Buffer.from('x'))).status).toBe(409);
    expect(statSync(join(share, '1000')).isDirectory()).toBe(true);
    expect(readFileSync(outside, 'utf8')).toBe('a file of the server machine\n');
  });

  it('answers FIFOs under hashes as misses without opening them, more of them than libuv has worker threads, and keeps serving', async () => {
    const share = newShare('fifos');
    for (let i = 0; i < 8; i++) execFileSync('mkfifo', [join(share, `200${i}`)]);
    const s = await server(share);
    const t0 = Date.now();
    const fifos = await Promise.all(Array.from({ length: 8 }, (_, i) => call(s.url, 'GET', `200${i}`, undefined, READ_TOKEN, 10_000)));
    expect(fifos.map((r) => r.status)).toEqual(Array(8).fill(404));
    const rec = Buffer.from('stored while FIFOs sit in the share');
    expect((await call(s.url, 'PUT', '2100', rec, WRITE_TOKEN, 10_000)).status).toBe(200);
    expect((await call(s.url, 'GET', '2100', undefined, READ_TOKEN, 10_000)).body.equals(rec)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect((await call(s.url, 'PUT', '2000', Buffer.from('x'))).status).toBe(409);
    expect(alive(s)).toBe(true);
    expect(traces(s)).toEqual([]);
  });
});

describe('klp-split-cache-server under load and faults', () => {
  it('serves many clients at once: one record per hash, every read the whole of it', async () => {
    const share = newShare('concurrent');
    const s = await server(share);
    const hashes = Array.from({ length: 30 * SCALE }, (_, i) => `${7000 + i}`);
    const body = (hash: string, client: number) => Buffer.alloc(1024 + ((Number(hash) * 7919 + client * 104729) % (256 * 1024)), `${hash}:${client}:`);
    const stored = new Map<string, Buffer[]>();
    const got = new Map<string, Set<string>>();
    const bad: string[] = [];
    const clients = Array.from({ length: 16 }, async (_, client) => {
      for (let op = 0; op < 20 * SCALE; op++) {
        const hash = hashes[(client * 31 + op * 17) % hashes.length]!;
        if ((client + op) % 3 === 0) {
          const b = body(hash, client);
          const r = await call(s.url, 'PUT', hash, b);
          if (r.status === 200) stored.set(hash, [...(stored.get(hash) ?? []), b]);
          else if (r.status !== 409) bad.push(`PUT ${hash} ${r.status}`);
        } else {
          const r = await call(s.url, 'GET', hash, undefined, READ_TOKEN);
          if (r.status === 200) got.set(hash, new Set([...(got.get(hash) ?? []), createHash('sha256').update(r.body).digest('hex')]));
          else if (r.status !== 404) bad.push(`GET ${hash} ${r.status}`);
        }
      }
    });
    await Promise.all(clients);
    expect(bad).toEqual([]);
    for (const [hash, bodies] of stored) {
      expect(bodies, hash).toHaveLength(1);
      expect(readFileSync(join(share, hash)).equals(bodies[0]!), hash).toBe(true);
    }
    // Every read of a hash got the one record stored under it, whole.
    for (const [hash, digests] of got) expect([...digests], hash).toEqual([createHash('sha256').update(stored.get(hash)![0]!).digest('hex')]);
    expect(temps(share)).toEqual([]);
    expect(alive(s)).toBe(true);
    expect(traces(s)).toEqual([]);
  });

  it('killed in the middle of an upload: nothing stored, the leftover removed at the next start', async () => {
    const share = newShare('killed');
    let s = await server(share);
    for (let round = 0; round < SCALE; round++) {
      const hash = `${8000 + round}`;
      const sock = connect(Number(new URL(s.url).port), '127.0.0.1');
      sock.on('error', () => undefined);
      sock.write(`PUT /v1/cache/${hash} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nContent-Length: ${4 << 20}\r\n\r\n`);
      sock.write(Buffer.alloc((1 + (round % 3)) << 20, 7));
      for (const deadline = Date.now() + 10_000; temps(share).length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
      expect(temps(share)).toHaveLength(1);
      s.child.kill('SIGKILL');
      load.kills++;
      await s.exited;
      sock.destroy();
      // What a killed server leaves: its temporary file, never the record.
      expect(temps(share)).toHaveLength(1);
      expect(existsSync(join(share, hash))).toBe(false);
      s = await server(share);
      expect(temps(share)).toEqual([]);
      expect(s.log).toContain('klp-split-cache-server: removed 1 temporary file of interrupted uploads');
      expect((await call(s.url, 'GET', hash)).status).toBe(404);
      const whole = Buffer.alloc(1 << 20, round);
      expect((await call(s.url, 'PUT', hash, whole)).status).toBe(200);
      expect((await call(s.url, 'GET', hash)).body.equals(whole)).toBe(true);
    }
  });

  it.skipIf(!AS_NOBODY)('on a full disk: 507, nothing half-stored, no temporary file left, and stores again once there is room', async () => {
    const share = newShare('full');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', share]);
    mounted.push(share);
    const s = await server(share);
    const big = await call(s.url, 'PUT', '9000', Buffer.alloc(3 << 20, 1));
    expect(big.status).toBe(507);
    expect(readdirSync(share)).toEqual([]);
    // Fill it with records until it is full: each either whole or not there at all.
    const statuses: (number | 'error')[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await call(s.url, 'PUT', `91${i}`, Buffer.alloc(300 * 1024, i))).status);
    expect(statuses.filter((x) => x === 200).length).toBeGreaterThan(0);
    expect(statuses).toContain(507);
    expect(new Set(statuses)).toEqual(new Set([200, 507]));
    for (let i = 0; i < 12; i++) {
      const f = join(share, `91${i}`);
      if (existsSync(f)) expect(readFileSync(f).equals(Buffer.alloc(300 * 1024, i)), f).toBe(true);
      else expect(statuses[i]).toBe(507);
    }
    expect(temps(share)).toEqual([]);
    expect(s.log.filter((l) => l.includes('the cache directory is full'))).not.toEqual([]);
    expect(alive(s)).toBe(true);
    expect(traces(s)).toEqual([]);
  });

  it('under a pile of idle connections: never more open than the cap, all gone after the idle timeout, and still serving', async () => {
    const share = newShare('idle');
    const cap = 50;
    const s = await server(share, ['--max-connections', String(cap), '--idle-timeout', '1']);
    const base = openFds(s.pid);
    // Up to what the test process's own descriptors allow (ulimit -n): the cap shows long before.
    const n = Math.min(2000 * SCALE, 18_000);
    const sockets: Socket[] = [];
    let connected = 0;
    let settled = 0;
    let open = 0;
    let most = 0;
    const port = Number(new URL(s.url).port);
    for (let i = 0; i < n; i++) {
      load.connections++;
      const sock = connect(port, '127.0.0.1', () => {
        connected++;
        open++;
        sock.once('close', () => open--);
      });
      // Settled: connected, or closed without ever connecting.
      let done = false;
      const settle = () => {
        if (!done) settled++;
        done = true;
      };
      sock.once('connect', settle);
      sock.once('close', settle);
      sock.on('error', () => undefined);
      sockets.push(sock);
      if (i % 100 === 0) {
        most = Math.max(most, openFds(s.pid));
        await new Promise((r) => setImmediate(r));
      }
    }
    // Until every socket has connected or failed and the server holds no connection any more. (What the client
    // sees is no measure: a handshake the server's kernel dropped from a full accept queue looks connected to the
    // client until it sends, and a SYN retried for a minute connects late.)
    const held = () => openFds(s.pid) - base;
    for (const deadline = Date.now() + 90_000; (settled < n || held() > 2) && Date.now() < deadline; ) {
      most = Math.max(most, openFds(s.pid));
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(connected).toBeGreaterThan(n * 0.9);
    // Every connection the server took is closed: at once over the cap, after the idle timeout under it.
    expect(held(), `${open} sockets still open on the client's side`).toBeLessThanOrEqual(2);
    // The server's descriptors: its own few plus at most `cap` connections (and the ones being closed).
    expect(most - base).toBeLessThanOrEqual(cap + 20);
    expect(alive(s)).toBe(true);
    expect((await call(s.url, 'PUT', '9500', Buffer.from('still here'))).status).toBe(200);
    expect(traces(s)).toEqual([]);
    for (const sock of sockets) sock.destroy();
  }, 240_000);
});
