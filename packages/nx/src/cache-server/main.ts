import { parseArgs } from 'node:util';
import { KlpError } from '@klp-split/core';
import { tokensProblem, type AccessTokens } from './access.js';
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_BODY, DEFAULT_MAX_CONNECTIONS, startCacheServer } from './server.js';

const CACHE_SERVER_HELP = `Usage: klp-split-cache-server --dir <directory> [--port <n>] [--host <address>]
                              [--max-body <size>] [--max-connections <n>]
                              [--idle-timeout <seconds>] [--verbose]
                              [--insecure-no-auth]

Serves <directory> as an Nx remote cache (Nx's self-hosted cache protocol,
NX_SELF_HOSTED_REMOTE_CACHE_SERVER). Point <directory> at a network share
and run one server per machine (or one for all): every clone whose Nx uses
it gets the tasks any other clone has run.

Access (Nx sends NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN as a bearer token):
  KLP_SPLIT_CACHE_WRITE_TOKEN  reads and stores records: give it to the CI
                               jobs of your main branch only
  KLP_SPLIT_CACHE_READ_TOKEN   reads only (a store is refused with 403): give
                               it to pull requests' jobs, which then cannot
                               plant outputs that main would restore
Without either the server does not start, unless --insecure-no-auth (every
client may read and store; a trusted network only).

  --dir <directory>        where the records are kept (created if missing)
  --port <n>               TCP port (default 0: any free port)
  --host <address>         address to listen on (default 127.0.0.1)
  --max-body <size>        largest record stored, bytes or with K, M, G
                           (default ${DEFAULT_MAX_BODY / 1024 / 1024}M; larger: 413)
  --max-connections <n>    open connections at most (default ${DEFAULT_MAX_CONNECTIONS}); more
                           are closed as they come
  --idle-timeout <seconds> a connection with no traffic for this long is
                           closed (default ${DEFAULT_IDLE_TIMEOUT_MS / 1000})
  --verbose                log every request (method, hash, status) on stderr
  --insecure-no-auth       serve without tokens

A record is never replaced (409); only regular files of <directory> are
served. Prints the URL to give NX_SELF_HOSTED_REMOTE_CACHE_SERVER on its
first line.`;

const usage = (message: string): KlpError => new KlpError(message, { code: 'usage', hint: 'see klp-split-cache-server --help' });

function byteSize(text: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(text);
  const n = m ? Number(m[1]) * 1024 ** ['', 'K', 'M', 'G'].indexOf(m[2]!.toUpperCase()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw usage(`--max-body ${text} is not a size (bytes, or a number with K, M or G)`);
  return n;
}

function count(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw usage(`${flag} ${text} is not a number from ${min} to ${max}`);
  return n;
}

/**
 * Keeps the server serving whatever one request does: an error that
 * escapes every handler is logged in one line, never a stack trace and
 * never the end of the cache for every client.
 */
function guardProcess(): void {
  const log = (what: string) => (e: unknown) => process.stderr.write(`klp-split-cache-server: ${what}: ${e instanceof Error ? e.message : String(e)} (still serving)\n`);
  process.on('uncaughtException', log('unexpected error'));
  process.on('unhandledRejection', log('unexpected error'));
}

/** Runs until SIGINT/SIGTERM; usage errors throw KlpError. */
export async function cacheServerMain(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        dir: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'max-body': { type: 'string' },
        'max-connections': { type: 'string' },
        'idle-timeout': { type: 'string' },
        verbose: { type: 'boolean' },
        'insecure-no-auth': { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }));
  } catch (e) {
    throw usage((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${CACHE_SERVER_HELP}\n`);
    return 0;
  }
  if (!values.dir) throw usage('--dir <directory> is required');
  if (env.KLP_SPLIT_CACHE_TOKEN) throw usage('KLP_SPLIT_CACHE_TOKEN (one token for reading and writing) is replaced by KLP_SPLIT_CACHE_WRITE_TOKEN (main) and KLP_SPLIT_CACHE_READ_TOKEN (pull requests)');
  const tokens: AccessTokens = { read: env.KLP_SPLIT_CACHE_READ_TOKEN || undefined, write: env.KLP_SPLIT_CACHE_WRITE_TOKEN || undefined, insecure: values['insecure-no-auth'] };
  const problem = tokensProblem(tokens);
  if (problem) throw usage(problem);
  const port = count('--port', values.port, 0, 65535) ?? 0;
  const maxBodyBytes = values['max-body'] === undefined ? undefined : byteSize(values['max-body']);
  const maxConnections = count('--max-connections', values['max-connections'], 1, 1_000_000);
  const idle = count('--idle-timeout', values['idle-timeout'], 1, 86_400);
  guardProcess();
  const s = await startCacheServer({
    dir: values.dir,
    port,
    host: values.host,
    tokens,
    maxBodyBytes,
    maxConnections,
    ...(idle ? { idleTimeoutMs: idle * 1000, headersTimeoutMs: Math.min(idle * 1000, 10_000) } : {}),
    log: values.verbose ? (line) => process.stderr.write(`${line}\n`) : undefined,
  });
  process.stdout.write(`${s.url}\n`);
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
  });
  await s.close();
  return 0;
}
