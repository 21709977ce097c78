import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCacheServer, type RunningCacheServer } from './server.js';

let dir: string;
let server: RunningCacheServer | undefined;

async function start(token?: string): Promise<RunningCacheServer> {
  dir = mkdtempSync(join(tmpdir(), 'klp-split-cache-server-'));
  server = await startCacheServer({ dir: join(dir, 'share'), token });
  return server;
}

afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const put = (url: string, body: Buffer, headers: Record<string, string> = {}) => fetch(url, { method: 'PUT', body, headers });

describe("klp-split-cache-server: Nx's self-hosted remote cache protocol over a directory", () => {
  it('misses, stores, refuses to overwrite, and serves the stored bytes', async () => {
    const s = await start();
    const url = `${s.url}/v1/cache/1234567890`;
    expect((await fetch(url)).status).toBe(404);
    const tar = Buffer.from('an Nx task archive\0\x01\x02');
    expect((await put(url, tar)).status).toBe(200);
    expect((await put(url, Buffer.from('another'))).status).toBe(409);
    const got = await fetch(url);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(tar)).toBe(true);
    // One file per hash in the directory, nothing half-written left behind.
    expect(readdirSync(join(dir, 'share'))).toEqual(['1234567890']);
    expect(readFileSync(join(dir, 'share', '1234567890')).equals(tar)).toBe(true);
  });

  it('stores a hash once when two clients put it at the same time', async () => {
    const s = await start();
    const url = `${s.url}/v1/cache/42`;
    const statuses = (await Promise.all([put(url, Buffer.alloc(1 << 20, 1)), put(url, Buffer.alloc(1 << 20, 1))])).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 409]);
    expect(readdirSync(join(dir, 'share'))).toEqual(['42']);
  });

  it('never turns a request path into a file outside the directory', async () => {
    const s = await start();
    for (const hash of ['..%2F..%2Fetc%2Fpasswd', '.hidden', 'a%00b']) {
      expect((await fetch(`${s.url}/v1/cache/${hash}`)).status, hash).toBe(400);
      expect((await put(`${s.url}/v1/cache/${hash}`, Buffer.from('x'))).status, hash).toBe(400);
    }
    expect((await fetch(`${s.url}/v2/other`)).status).toBe(404);
    expect(readdirSync(join(dir, 'share'))).toEqual([]);
  });

  it('asks for the bearer token when it has one', async () => {
    const s = await start('s3cret');
    const url = `${s.url}/v1/cache/7`;
    expect((await put(url, Buffer.from('x'))).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await put(url, Buffer.from('x'), { authorization: 'Bearer s3cret' })).status).toBe(200);
    expect((await fetch(url, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
  });
});
