import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCacheServer } from '../../packages/nx/src/cache-server/server.js';
import { describeFailure, fuzzSeed, noteCase, summary, type CaseOutcome } from './driver.js';
import type { Violation } from './oracles.js';
import { fuzzCases, fuzzSeeds, hex, type Rng } from './rng.js';
import { diffSnapshots, Sandbox } from './sandbox.js';

/**
 * Issue 20: klp-split-cache-server (in-process, small limits) over a share
 * seeded with records, directories, FIFOs and symbolic links (one to the
 * sandbox's secret), then random raw HTTP requests: methods, paths
 * (hostile hashes, encodings, other routes), tokens (none, read-only,
 * read-write, wrong, malformed), Content-Length (exact, short then closed,
 * over the limit, missing with chunked, not a number, twice),
 * `Expect: 100-continue`, bodies. A model of the share says what every
 * answer must be. Oracles: every status is the model's (a 200 for a GET
 * carries exactly the record; a PUT with the read-only token never
 * stores); the share afterwards holds exactly the model's records and no
 * temporary file; every request is answered or its connection closed
 * within the bound; the server still answers afterwards; no exception
 * escapes, no stack trace in its log, nothing outside the share written
 * and the secret never served.
 */
const CLASS = 'cache-server';
const SEEDS = fuzzSeeds([0xcac4e001, 0xcac4e002]);
const CASES = fuzzCases(30);
const READ = 'fuzz-read-token';
const WRITE = 'fuzz-write-token';
const MAX_BODY = 64 * 1024;
const BOUND_MS = 3_000;

type Entry = { kind: 'record'; bytes: Buffer } | { kind: 'dir' | 'fifo' | 'link' };

interface Req {
  text: Buffer;
  /** Closes its side after sending (a body cut short). */
  hangUp: boolean;
  /** The statuses the model allows; 'closed': the connection ends without one. */
  allowed: (number | 'closed')[];
  /** A stored record the answer must carry (GET 200). */
  body?: Buffer;
  /** What the share holds afterwards when the answer is 200 (a PUT that stores). */
  stores?: { hash: string; bytes: Buffer };
  what: string;
}

const HOSTILE_HASHES = ['..', '%2e%2e%2fetc%2fpasswd', '.tmp-abc-1@host', 'a/b', 'x'.repeat(129), '%E6%97%A5', 'a%00b', '', ' ', 'a b', '.', '-', '_'];
const OTHER_PATHS = ['/', '/v1/cache', '/v1/cache/', '/v2/cache/1', '/v1/cache/1?x=y', '//v1/cache/1', '/v1/cache/1/2', '/V1/CACHE/1', '*'];

function request(rng: Rng, share: Map<string, Entry>): Req {
  const names = [...share.keys()];
  const fresh = `${rng.int(1e9)}`;
  const pathKind = rng.int(10);
  const hash = pathKind < 6 && names.length ? rng.pick(names) : pathKind < 8 ? fresh : rng.pick(HOSTILE_HASHES);
  const path = pathKind === 9 && rng.chance(0.5) ? rng.pick(OTHER_PATHS) : `/v1/cache/${hash}`;
  const method = rng.pick(['GET', 'GET', 'PUT', 'PUT', 'PUT', 'HEAD', 'DELETE', 'POST', 'OPTIONS']);
  const tokenKind = rng.pick(['write', 'write', 'read', 'read', 'none', 'wrong', 'malformed']);
  const authLine = { write: `Bearer ${WRITE}`, read: `Bearer ${READ}`, none: undefined, wrong: 'Bearer nope', malformed: rng.pick([WRITE, `bearer ${WRITE}`, `Bearer  ${WRITE}`, `Bearer ${WRITE}x`, 'Basic eDp5']) }[tokenKind];
  const size = rng.chance(0.1) ? MAX_BODY + 1 + rng.int(1000) : rng.int(rng.chance(0.5) ? 64 : 8192);
  const body = Buffer.alloc(size, rng.int(256));
  const lengthKind = method === 'PUT' || rng.chance(0.1) ? rng.pick(['exact', 'exact', 'exact', 'short', 'missing-chunked', 'nan', 'twice', 'huge']) : 'none';
  const expectContinue = rng.chance(0.15);
  const headers = [`${method} ${path} HTTP/1.1`, 'Host: fuzz', ...(authLine !== undefined ? [`Authorization: ${authLine}`] : []), 'Connection: close', ...(expectContinue ? ['Expect: 100-continue'] : [])];
  let payload = Buffer.alloc(0);
  let hangUp = false;
  switch (lengthKind) {
    case 'exact':
      headers.push(`Content-Length: ${body.length}`);
      payload = body;
      break;
    case 'short':
      headers.push(`Content-Length: ${body.length + 10}`);
      payload = body;
      hangUp = true;
      break;
    case 'missing-chunked':
      headers.push('Transfer-Encoding: chunked');
      payload = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
      break;
    case 'nan':
      headers.push('Content-Length: 12abc');
      break;
    case 'twice':
      headers.push(`Content-Length: ${body.length}`, `Content-Length: ${body.length + 1}`);
      payload = body;
      break;
    case 'huge':
      headers.push('Content-Length: 1099511627776');
      hangUp = true;
      break;
  }
  const text = Buffer.concat([Buffer.from(`${headers.join('\r\n')}\r\n\r\n`), payload]);
  const what = `${method} ${JSON.stringify(path).slice(0, 60)} ${tokenKind} ${lengthKind}${expectContinue ? ' expect-100' : ''} ${body.length} B`;
  // The model's answer.
  // Node's HTTP parser answers these itself: a Content-Length that is no number or given twice, a blank in the
  // request's target (a trailing one it drops: the target is then /v1/cache/).
  const parserRefuses = lengthKind === 'nan' || lengthKind === 'twice';
  const allowed = ((): (number | 'closed')[] => {
    if (parserRefuses) return [400, 'closed'];
    if (path.includes(' ')) return [400, 404, 'closed'];
    if (path === '*') return [404, 400];
    if (!/^\/v1\/cache\/[^/?#]+$/.test(path)) return [404];
    if (tokenKind === 'none' || tokenKind === 'wrong' || tokenKind === 'malformed') return [401];
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(hash)) return [400];
    const entry = share.get(hash);
    if (method === 'GET') return entry?.kind === 'record' ? [200] : [404];
    if (method !== 'PUT') return [405];
    if (tokenKind === 'read') return [403];
    if (lengthKind === 'missing-chunked') return [411];
    if (lengthKind === 'huge' || body.length > MAX_BODY) return [413];
    if (entry) return [409];
    if (lengthKind === 'short') return ['closed', 400];
    return [200];
  })();
  const entry = share.get(hash);
  return {
    text,
    hangUp,
    // A client that hangs up in the middle of its body may be answered by Node's parser (400) before the handler, or
    // not at all; a PUT cut short never stores.
    allowed: hangUp ? [...new Set([...allowed, 400, 'closed' as const])].filter((x) => x !== 200 || method !== 'PUT') : allowed,
    what,
    ...(method === 'GET' && allowed[0] === 200 && entry?.kind === 'record' ? { body: entry.bytes } : {}),
    ...(allowed[0] === 200 && method === 'PUT' ? { stores: { hash, bytes: body } } : {}),
  };
}

/** Sends one request on a connection of its own; its status and body, 'closed', or 'hang'. */
function send(port: number, r: Req): Promise<{ status: number | 'closed' | 'hang'; body: Buffer }> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ status: 'hang', body: Buffer.alloc(0) });
    }, BOUND_MS);
    sock.on('error', () => undefined);
    sock.on('connect', () => {
      sock.write(r.text);
      if (r.hangUp) setTimeout(() => sock.end(), 20);
    });
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      // Past an interim 100 Continue, the final answer.
      const text = all.toString('latin1').replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      const head = text.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : 'closed', body: head >= 0 ? Buffer.from(text.slice(head + 4), 'latin1') : Buffer.alloc(0) });
    });
  });
}

function seedShare(rng: Rng, dir: string, secretFile: string): Map<string, Entry> {
  const share = new Map<string, Entry>();
  for (let i = 0, n = rng.int(6); i < n; i++) {
    const hash = `${1000 + i}`;
    const kind = rng.pick(['record', 'record', 'dir', 'fifo', 'link'] as const);
    if (kind === 'record') {
      const bytes = Buffer.alloc(rng.int(2048), i + 1);
      writeFileSync(join(dir, hash), bytes);
      share.set(hash, { kind, bytes });
    } else {
      if (kind === 'dir') mkdirSync(join(dir, hash));
      if (kind === 'fifo') execFileSync('mkfifo', [join(dir, hash)]);
      if (kind === 'link') symlinkSync(secretFile, join(dir, hash));
      share.set(hash, { kind });
    }
  }
  return share;
}

const escaped: string[] = [];
/** Requests sent over all cases, printed with the figures. */
let requests = 0;
const onEscape = (e: unknown) => escaped.push(e instanceof Error ? e.message : String(e));

async function serverCase(sandbox: Sandbox, rng: Rng): Promise<CaseOutcome> {
  const dir = join(sandbox.work, 'share');
  mkdirSync(dir);
  const share = seedShare(rng, dir, sandbox.paths().secret);
  const warnings: string[] = [];
  const skip = [dir, join(sandbox.root, 'current-case')];
  const before = sandbox.snapshot(skip);
  const s = await startCacheServer({ dir, tokens: { read: READ, write: WRITE }, maxBodyBytes: MAX_BODY, maxConnections: 16, headersTimeoutMs: 1000, requestTimeoutMs: 2000, idleTimeoutMs: 1000, warn: (l) => warnings.push(l) });
  const port = Number(new URL(s.url).port);
  const v: Violation[] = [];
  const whats: string[] = [];
  escaped.length = 0;
  try {
    const n = 3 + rng.int(10);
    const reqs = Array.from({ length: n }, () => request(rng, share));
    for (const r of reqs) {
      whats.push(r.what);
      noteCase(sandbox, r.what);
      requests++;
      const got = await send(port, r);
      if (got.status === 'hang') v.push({ kind: 'hang', detail: `${r.what}: no answer and no close in ${BOUND_MS} ms` });
      else if (!r.allowed.includes(got.status)) v.push({ kind: 'content', detail: `${r.what}: ${got.status}, the model says ${r.allowed.join(' or ')}` });
      else if (got.status === 200 && r.body && !got.body.equals(r.body)) v.push({ kind: 'content', detail: `${r.what}: 200 with ${got.body.length} bytes that are not the record (${r.body.length})` });
      if (got.body.includes(sandbox.secret)) v.push({ kind: 'secret-leak', detail: `${r.what}: served the secret through a link of the share` });
      if (got.status === 200 && r.stores) share.set(r.stores.hash, { kind: 'record', bytes: r.stores.bytes });
    }
    // Still serving.
    const health = await send(port, { text: Buffer.from(`GET /v1/cache/999999999999 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${READ}\r\nConnection: close\r\n\r\n`), hangUp: false, allowed: [404], what: 'health' });
    if (health.status !== 404) v.push({ kind: 'hang', detail: `after the case the server answered ${health.status} to a plain GET` });
  } finally {
    await s.close();
  }
  // The share: exactly the model, and no temporary file.
  const onDisk = readdirSync(dir).sort();
  const temps = onDisk.filter((f) => f.startsWith('.tmp-'));
  if (temps.length) v.push({ kind: 'half-written', detail: `temporary files left: ${temps.join(', ')}` });
  const model = [...share.keys()].sort();
  if (JSON.stringify(onDisk.filter((f) => !f.startsWith('.tmp-'))) !== JSON.stringify(model)) v.push({ kind: 'content', detail: `the share holds ${onDisk.join(',')}, the model ${model.join(',')}` });
  for (const [hash, e] of share) if (e.kind === 'record' && !readFileSync(join(dir, hash)).equals(e.bytes)) v.push({ kind: 'content', detail: `record ${hash} is not what was stored` });
  const changes = diffSnapshots(before, sandbox.snapshot(skip));
  if (changes.length) v.push({ kind: 'write-outside', detail: changes.slice(0, 3).join(', ') });
  for (const w of warnings) if (/^\s+at /m.test(w)) v.push({ kind: 'stack-trace', detail: w.slice(0, 200) });
  for (const e of escaped) v.push({ kind: 'escaped-exception', detail: e.slice(0, 200) });
  return { what: whats.join(' | ').slice(0, 400), violations: v, commands: [] };
}

describe('fuzzing klp-split-cache-server with raw HTTP over an odd share', () => {
  let sandbox: Sandbox;
  beforeAll(() => {
    sandbox = new Sandbox(CLASS);
    process.on('uncaughtException', onEscape);
    process.on('unhandledRejection', onEscape);
  });
  afterAll(() => {
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
    sandbox?.remove();
  });

  it('judges a wrong answer as one (the model can fail)', async () => {
    sandbox.clearWork();
    const dir = join(sandbox.work, 'share');
    mkdirSync(dir);
    const s = await startCacheServer({ dir, tokens: { read: READ, write: WRITE } });
    try {
      const r = await send(Number(new URL(s.url).port), { text: Buffer.from(`PUT /v1/cache/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${READ}\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx`), hangUp: false, allowed: [403], what: 'read PUT' });
      expect(r.status).toBe(403);
    } finally {
      await s.close();
    }
  });

  it.each(SEEDS.map(hex))(`${CASES.length} shares and request sequences, seed %s: every answer the model's, nothing half-stored, never down`, async (seedText) => {
    const { failures, figures } = await fuzzSeed(CLASS, Number(seedText), CASES, sandbox, (rng) => serverCase(sandbox, rng));
    console.log(`${summary(figures)}; ${requests} requests so far`);
    expect(failures.slice(0, 15).map((f) => describeFailure(CLASS, f))).toEqual([]);
  });
});
