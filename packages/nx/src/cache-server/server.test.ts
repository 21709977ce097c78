import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KlpError } from '@klp-split/core';
import { cacheServerMain } from './main.js';
import { startCacheServer, type RunningCacheServer } from './server.js';

type CacheServerOptions = Parameters<typeof startCacheServer>[0];

let dir: string;
let server: RunningCacheServer | undefined;
let warnings: string[];

const READ = 'read-0123456789';
const WRITE = 'write-0123456789';

async function start(o: Partial<CacheServerOptions> = {}, prepare?: (share: string) => void): Promise<RunningCacheServer> {
  dir = mkdtempSync(join(tmpdir(), 'klp-split-cache-server-'));
  warnings = [];
  mkdirSync(join(dir, 'share'));
  prepare?.(join(dir, 'share'));
  server = await startCacheServer({ dir: join(dir, 'share'), tokens: { read: READ, write: WRITE }, warn: (l) => warnings.push(l), ...o });
  return server;
}

afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const put = (url: string, body: Buffer, token = WRITE) => fetch(url, { method: 'PUT', body: new Uint8Array(body), headers: bearer(token) });
const get = (url: string, token = WRITE) => fetch(url, { headers: bearer(token) });
const records = () => readdirSync(join(dir, 'share')).sort();

describe("klp-split-cache-server: Nx's self-hosted remote cache protocol over a directory", () => {
  it('misses, stores, refuses to overwrite, and serves the stored bytes', async () => {
    const s = await start();
    const url = `${s.url}/v1/cache/1234567890`;
    expect((await get(url)).status).toBe(404);
    const tar = Buffer.from('an Nx task archive\0\x01\x02');
    expect((await put(url, tar)).status).toBe(200);
    expect((await put(url, Buffer.from('another'))).status).toBe(409);
    const got = await get(url);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-length')).toBe(String(tar.length));
    expect(Buffer.from(await got.arrayBuffer()).equals(tar)).toBe(true);
    // One file per hash in the directory, nothing half-written left behind.
    expect(records()).toEqual(['1234567890']);
    expect(readFileSync(join(dir, 'share', '1234567890')).equals(tar)).toBe(true);
  });

  it('stores a hash once when two clients put it at the same time', async () => {
    const s = await start();
    const url = `${s.url}/v1/cache/42`;
    const statuses = (await Promise.all([put(url, Buffer.alloc(1 << 20, 1)), put(url, Buffer.alloc(1 << 20, 2))])).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 409]);
    expect(records()).toEqual(['42']);
  });

  it('never turns a request path into a file outside the directory', async () => {
    const s = await start();
    for (const hash of ['..%2F..%2Fetc%2Fpasswd', '.hidden', 'a%00b', '.tmp-x']) {
      expect((await get(`${s.url}/v1/cache/${hash}`)).status, hash).toBe(400);
      expect((await put(`${s.url}/v1/cache/${hash}`, Buffer.from('x'))).status, hash).toBe(400);
    }
    expect((await get(`${s.url}/v2/other`)).status).toBe(404);
    expect((await fetch(`${s.url}/v1/cache/7`, { method: 'DELETE', headers: bearer(WRITE) })).status).toBe(405);
    expect(records()).toEqual([]);
  });
});

describe('tokens: a read-only token for pull requests, a read-write token for main', () => {
  it('asks every request for a token it knows (401)', async () => {
    const s = await start();
    const url = `${s.url}/v1/cache/7`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { method: 'PUT', body: 'x' })).status).toBe(401);
    expect((await get(url, 'wrong')).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: WRITE } })).status).toBe(401);
    expect(records()).toEqual([]);
  });

  it('lets a read-only token fetch records and never store one (403): it cannot plant outputs main would restore', async () => {
    const s = await start();
    const url = `${s.url}/v1/cache/8`;
    const poison = Buffer.from('outputs a pull request made up');
    const refused = await put(url, poison, READ);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toMatch(/may only read/);
    expect(records()).toEqual([]);
    expect((await get(url, READ)).status).toBe(404);
    const real = Buffer.from('outputs main built');
    expect((await put(url, real, WRITE)).status).toBe(200);
    const got = await get(url, READ);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(real)).toBe(true);
    // Nor can the read-only token replace what main stored.
    expect((await put(url, poison, READ)).status).toBe(403);
    expect(readFileSync(join(dir, 'share/8')).equals(real)).toBe(true);
  });

  it('refuses to start without tokens, with one token for both, or with the old single token', async () => {
    const d = mkdtempSync(join(tmpdir(), 'klp-split-cache-main-'));
    dir = d;
    const refusal = async (argv: string[], env: NodeJS.ProcessEnv): Promise<string> => {
      const e = await cacheServerMain(argv, env).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(KlpError);
      expect((e as KlpError).exit).toBe(2);
      return (e as KlpError).format();
    };
    expect(await refusal(['--dir', d], {})).toMatch(/no access token: set KLP_SPLIT_CACHE_WRITE_TOKEN .* or pass --insecure-no-auth/);
    expect(await refusal(['--dir', d], { KLP_SPLIT_CACHE_READ_TOKEN: 't', KLP_SPLIT_CACHE_WRITE_TOKEN: 't' })).toMatch(/are the same/);
    expect(await refusal(['--dir', d], { KLP_SPLIT_CACHE_TOKEN: 't' })).toMatch(/replaced by KLP_SPLIT_CACHE_WRITE_TOKEN/);
    expect(await refusal(['--dir', d, '--insecure-no-auth'], { KLP_SPLIT_CACHE_WRITE_TOKEN: 't' })).toMatch(/exclude each other/);
    expect(await refusal(['--dir', d, '--max-body', '12X'], { KLP_SPLIT_CACHE_WRITE_TOKEN: 't' })).toMatch(/--max-body 12X is not a size/);
  });

  it('serves everyone for reading and writing with --insecure-no-auth only', async () => {
    const s = await start({ tokens: { insecure: true } });
    expect((await fetch(`${s.url}/v1/cache/9`, { method: 'PUT', body: 'x' })).status).toBe(200);
    expect((await fetch(`${s.url}/v1/cache/9`)).status).toBe(200);
  });
});

/** A raw HTTP request on its own connection: the status line, or 'closed' when the server closed without one. */
function raw(url: string, text: string): Promise<string> {
  const { hostname: host, port } = new URL(url);
  return new Promise((resolve) => {
    const sock = connect(Number(port), host, () => sock.write(text));
    let got = '';
    sock.on('data', (d) => (got += d.toString('latin1')));
    sock.on('error', () => undefined);
    sock.on('close', () => resolve(/^HTTP\/1\.1 (\d+)/.exec(got)?.[1] ?? 'closed'));
  });
}

describe('limits', () => {
  it('refuses a body over the limit before reading it (413), and one without Content-Length (411)', async () => {
    const s = await start({ maxBodyBytes: 1000 });
    expect((await put(`${s.url}/v1/cache/10`, Buffer.alloc(1001))).status).toBe(413);
    expect((await put(`${s.url}/v1/cache/11`, Buffer.alloc(1000))).status).toBe(200);
    // Announced as 1 GiB, then nothing: refused on the header alone.
    expect(await raw(s.url, `PUT /v1/cache/12 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE}\r\nContent-Length: 1073741824\r\n\r\n`)).toBe('413');
    expect(await raw(s.url, `PUT /v1/cache/13 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`)).toBe('411');
    expect(records()).toEqual(['11']);
  });

  it('never holds more connections than the cap, closes idle ones after the timeout, and keeps serving', async () => {
    const s = await start({ maxConnections: 10, headersTimeoutMs: 400, idleTimeoutMs: 400 });
    const { port } = new URL(s.url);
    const held = () => new Promise<number>((r) => s.server.getConnections((_e, n) => r(n)));
    let closed = 0;
    let connected = 0;
    let most = 0;
    const t0 = Date.now();
    const closedAt: number[] = [];
    const sockets = Array.from({ length: 40 }, () => {
      const sock = connect(Number(port), '127.0.0.1');
      // Read what comes: a connection the headers timeout ends gets a 408 first, and a socket whose data nobody
      // reads never sees the end after it (no 'close'), although the server has closed it.
      sock.resume();
      sock.on('connect', () => connected++);
      sock.on('error', () => undefined);
      sock.on('close', () => {
        closed++;
        closedAt.push(Date.now() - t0);
      });
      return sock;
    });
    for (const deadline = Date.now() + 30_000; closed < 40 && Date.now() < deadline; ) {
      most = Math.max(most, await held());
      await new Promise((r) => setTimeout(r, 20));
    }
    const state = `${connected} connected, ${closed} closed (last at ${Math.max(0, ...closedAt)} ms), the server holds ${await held()}`;
    expect(closed, state).toBe(40);
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(10);
    expect((await put(`${s.url}/v1/cache/14`, Buffer.from('after the storm'))).status).toBe(200);
    for (const sock of sockets) sock.destroy();
  });
});

describe('the share holds regular files only', () => {
  it('answers a directory, a FIFO or a symbolic link under a hash as a miss, never opens one, and never replaces one', async () => {
    const secret = join(tmpdir(), `klp-split-secret-${process.pid}`);
    writeFileSync(secret, 'a file of the server machine');
    try {
      const s = await start({}, (share) => {
        mkdirSync(join(share, '100'));
        execFileSync('mkfifo', [join(share, '101')]);
        symlinkSync(secret, join(share, '102'));
        symlinkSync('/nonexistent', join(share, '103'));
      });
      for (const h of ['100', '101', '102', '103']) {
        const r = await get(`${s.url}/v1/cache/${h}`);
        expect(r.status, h).toBe(404);
        expect(await r.text()).not.toContain('a file of the server machine');
        expect((await put(`${s.url}/v1/cache/${h}`, Buffer.from('x'))).status, h).toBe(409);
      }
      expect(warnings.filter((w) => w.startsWith('GET '))).toEqual([
        "GET 100: the share's entry of that name is a directory, not a record: answered as a miss",
        "GET 101: the share's entry of that name is a FIFO, not a record: answered as a miss",
        "GET 102: the share's entry of that name is a symbolic link, not a record: answered as a miss",
        "GET 103: the share's entry of that name is a symbolic link, not a record: answered as a miss",
      ]);
      expect(readFileSync(secret, 'utf8')).toBe('a file of the server machine');
    } finally {
      rmSync(secret, { force: true });
    }
  });

  it('keeps serving while clients ask for FIFOs, more of them than libuv has worker threads', async () => {
    const s = await start({}, (share) => {
      for (let i = 0; i < 8; i++) execFileSync('mkfifo', [join(share, `20${i}`)]);
    });
    const t0 = Date.now();
    const fifos = await Promise.all(Array.from({ length: 8 }, (_, i) => get(`${s.url}/v1/cache/20${i}`).then((r) => r.status)));
    expect(fifos).toEqual(Array(8).fill(404));
    expect((await put(`${s.url}/v1/cache/300`, Buffer.from('ok'))).status).toBe(200);
    expect((await get(`${s.url}/v1/cache/300`)).status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('removes the temporary files of interrupted uploads at start, and only those', async () => {
    const host = hostname();
    await start({}, (share) => {
      // A server of this machine that is gone, a stale one of any machine, and one of a running server here.
      writeFileSync(join(share, `.tmp-abcdef-2147483646@${host}`), 'half');
      writeFileSync(join(share, '.tmp-1234-999-a'), 'old format');
      utimesSync(join(share, '.tmp-1234-999-a'), new Date(Date.now() - 86_400_000), new Date(Date.now() - 86_400_000));
      writeFileSync(join(share, `.tmp-fedcba-${process.pid}@${host}`), 'in flight');
      writeFileSync(join(share, '55'), 'a record');
    });
    expect(server!.sweptAtStart).toBe(2);
    expect(records()).toEqual([`.tmp-fedcba-${process.pid}@${host}`, '55']);
    expect(warnings).toContain('removed 2 temporary files of interrupted uploads');
  });

  it('stores nothing when the client goes away mid-body', async () => {
    const s = await start();
    const sock = connect(Number(new URL(s.url).port), '127.0.0.1');
    sock.on('error', () => undefined);
    sock.write(`PUT /v1/cache/400 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE}\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(50_000)}`);
    await new Promise((r) => setTimeout(r, 200));
    expect(records().filter((f) => f.startsWith('.tmp-'))).toHaveLength(1);
    sock.destroy();
    await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(join(dir, 'share/400'))).toBe(false);
    expect(records()).toEqual([]);
  });
});
