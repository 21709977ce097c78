import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { accessOf, type AccessTokens } from './access.js';
import { CacheStore, isCacheHash, type OpenRecord } from './store.js';

/**
 * Nx's self-hosted remote cache protocol (Nx >= 20.8, the client Nx itself
 * ships: NX_SELF_HOSTED_REMOTE_CACHE_SERVER, its OpenAPI specification):
 * GET and PUT of one tar archive per task hash at /v1/cache/<hash>; 200,
 * 404 for a miss, 401 without a valid bearer token, 403 for a PUT with a
 * read-only token, 409 for a record that exists (never overwritten). Past
 * the specification, for what Nx's client never sends: 400 (not a hash),
 * 405, 411 (no Content-Length), 413 (over the body limit), 500 (a record
 * that cannot be read), 507 (disk full). The records live in a directory,
 * which is what makes a network share a shared Nx cache.
 */
interface CacheServerOptions {
  dir: string;
  host?: string;
  port?: number;
  tokens: AccessTokens;
  /** The largest record a PUT may store (default DEFAULT_MAX_BODY). */
  maxBodyBytes?: number;
  /** Open connections at most; more are closed as they come (default DEFAULT_MAX_CONNECTIONS). */
  maxConnections?: number;
  /** Time a client has to send a request's headers. */
  headersTimeoutMs?: number;
  /** Time a client has to send a whole request, body included; also bounds how long an upload's temporary file can live. */
  requestTimeoutMs?: number;
  /** A connection with nothing sent or received for this long is closed. */
  idleTimeoutMs?: number;
  /** One line per request (method, path, status), for logs and tests. */
  log?: (line: string) => void;
  /** One line per problem (an entry of the share that is no record, a full disk, an unreadable record). */
  warn?: (line: string) => void;
}

export const DEFAULT_MAX_BODY = 256 * 1024 * 1024;
export const DEFAULT_MAX_CONNECTIONS = 128;
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

const PATH = /^\/v1\/cache\/([^/?#]+)$/;

interface Context {
  store: CacheStore;
  o: CacheServerOptions;
  maxBody: number;
  warn: (line: string) => void;
}

/** Ends the response; `close` when the request's body is not read (the connection cannot be reused). Returns the status for the log. */
function reply(res: ServerResponse, status: number, text = '', close = false): number {
  const headers: Record<string, string> = text ? { 'content-type': 'text/plain' } : {};
  if (close) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(text ? `${text}\n` : '');
  return status;
}

/** Node reads and drops the body of a request answered without reading it; past a small one, the connection is closed instead. */
const DRAIN_MAX = 1024 * 1024;
const closeAfter = (req: IncomingMessage): boolean => req.headers['transfer-encoding'] !== undefined || !(Number(req.headers['content-length'] ?? 0) <= DRAIN_MAX);

const errText = (e: unknown): string => (e as NodeJS.ErrnoException)?.code ?? (e instanceof Error ? e.message : String(e));

/** Sends exactly `size` bytes or breaks the connection: a record cut short is never taken for a whole one. */
async function sendRecord(res: ServerResponse, r: OpenRecord): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': r.size });
  let sent = 0;
  const exact = new Transform({
    transform(chunk: Buffer, _enc, done) {
      sent += chunk.length;
      done(null, chunk);
    },
    flush(done) {
      done(sent === r.size ? null : new Error(`the record changed while it was sent (${sent} of ${r.size} bytes)`));
    },
  });
  await pipeline(r.stream, exact, res);
}

async function get(ctx: Context, hash: string, res: ServerResponse): Promise<number> {
  const r = await ctx.store.get(hash);
  if (r.kind === 'miss') return reply(res, 404);
  if (r.kind === 'not-a-record') {
    ctx.warn(`GET ${hash}: the share's entry of that name is ${r.what}, not a record: answered as a miss`);
    return reply(res, 404);
  }
  await sendRecord(res, r.record);
  return 200;
}

async function put(ctx: Context, hash: string, req: IncomingMessage, res: ServerResponse): Promise<number> {
  const declared = req.headers['content-length'];
  if (declared === undefined) return reply(res, 411, 'Content-Length is required', true);
  const length = Number(declared);
  if (!/^\d+$/.test(declared) || !Number.isSafeInteger(length)) return reply(res, 400, 'Content-Length is not a byte count', true);
  if (length > ctx.maxBody) return reply(res, 413, `a record is at most ${ctx.maxBody} bytes (klp-split-cache-server --max-body)`, true);
  if (await ctx.store.exists(hash)) return reply(res, 409, 'a record for this hash exists: records are never replaced', closeAfter(req));
  if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
  const r = await ctx.store.put(hash, length, req);
  if (r === 'stored') return reply(res, 200);
  if (r === 'exists') return reply(res, 409, 'a record for this hash exists: records are never replaced');
  if (r === 'short-body') return reply(res, 400, 'the body is shorter than Content-Length: nothing stored', true);
  // No one to answer: the connection is gone.
  if (r === 'aborted') return 0;
  ctx.warn(`PUT ${hash}: the cache directory is full: nothing stored`);
  return reply(res, 507, 'the cache directory is full: nothing stored');
}

async function handle(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<number> {
  const m = PATH.exec(req.url ?? '');
  if (!m) return reply(res, 404, 'not found', closeAfter(req));
  const access = accessOf(req.headers, ctx.o.tokens);
  if (access === 'none') return reply(res, 401, 'missing or wrong bearer token (NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN)', closeAfter(req));
  const hash = m[1]!;
  if (!isCacheHash(hash)) return reply(res, 400, 'not a task hash', closeAfter(req));
  if (req.method === 'GET') return get(ctx, hash, res);
  if (req.method === 'PUT') {
    if (access !== 'write') return reply(res, 403, 'this token may only read: records are stored by jobs with the read-write token', closeAfter(req));
    return put(ctx, hash, req, res);
  }
  res.setHeader('allow', 'GET, PUT');
  return reply(res, 405, '', closeAfter(req));
}

export interface RunningCacheServer {
  server: Server;
  url: string;
  /** Temporary files of interrupted uploads removed at start. */
  sweptAtStart: number;
  close(): Promise<void>;
}

export async function startCacheServer(o: CacheServerOptions): Promise<RunningCacheServer> {
  const store = new CacheStore(o.dir);
  const warn = o.warn ?? ((line: string) => process.stderr.write(`klp-split-cache-server: ${line}\n`));
  const ctx: Context = { store, o, maxBody: o.maxBodyBytes ?? DEFAULT_MAX_BODY, warn };
  const requestTimeout = o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const headersTimeout = Math.min(o.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS, requestTimeout);
  // No upload outlives the request timeout: a temporary file twice that old is a leftover.
  const sweep = async (): Promise<number> => {
    try {
      return await store.sweep(2 * requestTimeout);
    } catch (e) {
      warn(`could not clean the cache directory's temporary files: ${errText(e)}`);
      return 0;
    }
  };
  const sweptAtStart = await sweep();
  if (sweptAtStart) warn(`removed ${sweptAtStart} temporary file${sweptAtStart === 1 ? '' : 's'} of interrupted uploads`);

  // Requests being answered: close() waits for them, so that an upload cut off by a stop leaves no temporary file.
  const inFlight = new Set<Promise<void>>();
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    // A client that goes away mid-request is that request's end, never the server's.
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    const done: Promise<void> = handle(ctx, req, res).then(
      (status) => o.log?.(`${req.method} ${req.url} ${status || 'aborted by the client'}`),
      (e: unknown) => {
        warn(`${req.method} ${req.url}: ${errText(e)}`);
        o.log?.(`${req.method} ${req.url} 500`);
        if (!res.headersSent) reply(res, 500, `the cache server could not read or store the record (${errText(e)})`, true);
        else res.destroy();
      },
    );
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
  };
  const server = createServer({ headersTimeout, requestTimeout, connectionsCheckingInterval: Math.max(100, Math.min(1000, headersTimeout / 2)) }, onRequest);
  // A client sending `Expect: 100-continue` is answered by the same handler (it sends the 100 when it reads the body).
  server.on('checkContinue', onRequest);
  server.maxConnections = o.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  server.keepAliveTimeout = Math.min(5_000, o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
  // An idle socket is destroyed (no 'timeout' listener on the server): a pile of idle connections goes away.
  server.setTimeout(o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Errors of the listening socket after start (EMFILE on accept) are logged; the server keeps serving.
  server.on('error', (e) => warn(`listening socket: ${errText(e)}`));
  const timer = setInterval(() => void sweep(), requestTimeout);
  timer.unref();
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    server,
    url: `http://${host}:${a.port}`,
    sweptAtStart,
    close: async () => {
      clearInterval(timer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), 2_000);
      await closed;
      clearTimeout(force);
      await Promise.allSettled([...inFlight]);
    },
  };
}
