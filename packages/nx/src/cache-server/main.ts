import { parseArgs } from 'node:util';
import { KlpError } from '@klp-split/core';
import { startCacheServer } from './server.js';

const CACHE_SERVER_HELP = `Usage: klp-split-cache-server --dir <directory> [--port <n>] [--host <address>] [--verbose]

Serves <directory> as an Nx remote cache (Nx's self-hosted cache protocol,
NX_SELF_HOSTED_REMOTE_CACHE_SERVER). Point <directory> at a network share
and run one server per machine (or one for all): every clone whose Nx uses
it gets the tasks any other clone has run.

  --dir <directory>  where the task archives are kept (created if missing)
  --port <n>         TCP port (default 0: any free port)
  --host <address>   address to listen on (default 127.0.0.1)
  --verbose          log every request (method, hash, status) on stderr

With KLP_SPLIT_CACHE_TOKEN set, every request must carry it as a bearer
token: set NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN to the same value.
Prints the URL to give NX_SELF_HOSTED_REMOTE_CACHE_SERVER on its first line.`;

/** Runs until SIGINT/SIGTERM; usage errors throw KlpError. */
export async function cacheServerMain(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { dir: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, verbose: { type: 'boolean' }, help: { type: 'boolean' } } }));
  } catch (e) {
    throw new KlpError((e as Error).message, { code: 'usage', hint: 'see klp-split-cache-server --help' });
  }
  if (values.help) {
    process.stdout.write(`${CACHE_SERVER_HELP}\n`);
    return 0;
  }
  if (!values.dir) throw new KlpError('--dir <directory> is required', { code: 'usage', hint: 'see klp-split-cache-server --help' });
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new KlpError(`--port ${values.port} is not a TCP port`, { code: 'usage' });
  const s = await startCacheServer({
    dir: values.dir,
    port,
    host: values.host,
    token: process.env.KLP_SPLIT_CACHE_TOKEN || undefined,
    log: values.verbose ? (line) => process.stderr.write(`${line}\n`) : undefined,
  });
  process.stdout.write(`${s.url}\n`);
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
  });
  await s.close();
  return 0;
}
