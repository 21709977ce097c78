import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CacheStore, isCacheHash } from './store.js';

/**
 * Nx's self-hosted remote cache protocol (Nx >= 20.8, the client Nx itself
 * ships: NX_SELF_HOSTED_REMOTE_CACHE_SERVER): GET and PUT of one tar archive
 * per task hash at /v1/cache/<hash>, 404 for a miss, 409 for a record that
 * exists, an optional bearer token. The records live in a directory, which
 * is what makes a network share a shared Nx cache.
 */
interface CacheServerOptions {
  dir: string;
  host?: string;
  port?: number;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** One line per request (method, hash, status), for logs and tests. */
  log?: (line: string) => void;
}

const PATH = /^\/v1\/cache\/([^/?#]+)$/;

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const got = Buffer.from(req.headers.authorization ?? '');
  const want = Buffer.from(`Bearer ${token}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** Ends the response; returns the status for the request log. */
function send(res: ServerResponse, status: number, text = ''): number {
  res.writeHead(status, text ? { 'content-type': 'text/plain' } : {});
  res.end(text);
  return status;
}

async function handle(store: CacheStore, o: CacheServerOptions, req: IncomingMessage, res: ServerResponse): Promise<number> {
  const m = PATH.exec(req.url ?? '');
  if (!m) return send(res, 404, 'not found');
  if (!authorized(req, o.token)) return send(res, 401, 'missing or wrong bearer token (NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN)');
  const hash = m[1]!;
  if (!isCacheHash(hash)) return send(res, 400, 'not a task hash');
  if (req.method === 'GET') {
    const rec = store.open(hash);
    if (!rec) return send(res, 404);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': rec.size });
    rec.stream.pipe(res);
    return 200;
  }
  if (req.method === 'PUT') {
    const length = Number(req.headers['content-length']);
    if (!Number.isSafeInteger(length) || length < 0) return send(res, 400, 'Content-Length is required');
    if (store.has(hash)) {
      req.resume();
      return send(res, 409, 'a record for this hash exists');
    }
    const r = await store.put(hash, length, req);
    return send(res, r === 'stored' ? 200 : r === 'exists' ? 409 : 400, r === 'short-body' ? 'body shorter than Content-Length' : '');
  }
  res.setHeader('allow', 'GET, PUT');
  return send(res, 405);
}

export interface RunningCacheServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startCacheServer(o: CacheServerOptions): Promise<RunningCacheServer> {
  const store = new CacheStore(o.dir);
  const server = createServer((req, res) => {
    handle(store, o, req, res).then(
      (status) => o.log?.(`${req.method} ${req.url} ${status}`),
      (e: unknown) => {
        o.log?.(`${req.method} ${req.url} 500 ${e instanceof Error ? e.message : String(e)}`);
        if (!res.headersSent) send(res, 500, 'the cache server could not store or read the record');
        else res.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return { server, url: `http://${host}:${a.port}`, close: () => new Promise((r) => server.close(() => r())) };
}
