import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_TOKEN as READ, shareFor, startServerProcess, WRITE_TOKEN as WRITE, type ServerProcess } from '../helpers/cache-server.js';
import { removeDir, ROOT, tempDir } from '../helpers/env.js';

/**
 * Issue 20: klp-split-cache-server under Nx's own remote cache client
 * (NX_SELF_HOSTED_REMOTE_CACHE_SERVER, the Rust client Nx 24 ships), as CI
 * runs it: main's jobs hold the read-write token, pull requests' jobs the
 * read-only one. One cached task whose output is its input upper-cased;
 * every run is a fresh machine (its own local cache). The status codes of
 * Nx's self-hosted cache specification: 200, 401, 403, 404, 409.
 */
let tmp: string;
let ws: string;
let share: string;
let server: ServerProcess;
let url: string;
let log: string[] = [];
let runs = 0;

/** `nx run p:make` as a machine of its own with `token`; the task's output afterwards. */
async function nxRun(token: string | undefined) {
  rmSync(join(ws, 'p/out'), { recursive: true, force: true });
  const machine = join(tmp, `machine-${runs++}`);
  const r = await execa(join(ROOT, 'node_modules/.bin/nx'), ['run', 'p:make', '--output-style=static'], {
    cwd: ws,
    reject: false,
    all: true,
    env: {
      NX_DAEMON: 'false',
      NX_NO_CLOUD: 'true',
      NX_TUI: 'false',
      CI: 'true',
      NX_CACHE_DIRECTORY: join(machine, 'cache'),
      NX_WORKSPACE_DATA_DIRECTORY: join(machine, 'data'),
      NX_SELF_HOSTED_REMOTE_CACHE_SERVER: url,
      ...(token ? { NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: token } : {}),
    },
  });
  const out = join(ws, 'p/out/r.txt');
  return { code: r.exitCode, output: String(r.all), result: existsSync(out) ? readFileSync(out, 'utf8') : undefined, remote: /\[remote cache\]/.test(String(r.all)) };
}

/** The server's log lines since `from`, and the task hash they name. */
const since = async (from: number) => log.slice(from, await mark());
/** Where the log is once the server has written the lines of every request made so far (they arrive through a pipe). */
async function mark(): Promise<number> {
  let n = -1;
  while (n !== log.length) {
    n = log.length;
    await new Promise((r) => setTimeout(r, 300));
  }
  return n;
}
const hashOf = (lines: string[]) => /\/v1\/cache\/(\S+) /.exec(lines[0] ?? '')?.[1];
const records = () => readdirSync(share).filter((f) => !f.startsWith('.'));

beforeAll(async () => {
  tmp = tempDir('nx-cache-server');
  ws = join(tmp, 'ws');
  share = join(tmp, 'share');
  mkdirSync(join(ws, 'p'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(ws, 'node_modules'));
  writeFileSync(join(ws, 'package.json'), JSON.stringify({ name: 'cache-ws', private: true }));
  writeFileSync(join(ws, 'nx.json'), '{}');
  // An input that says "race" takes 3 s: two machines running it at once both miss, then both store.
  const command = `node -e "const fs=require('fs');const s=fs.readFileSync('p/src.txt','utf8');setTimeout(()=>{fs.mkdirSync('p/out',{recursive:true});fs.writeFileSync('p/out/r.txt',s.toUpperCase())},s.includes('race')?3000:0)"`;
  writeFileSync(join(ws, 'p/project.json'), JSON.stringify({ name: 'p', targets: { make: { executor: 'nx:run-commands', options: { command }, cache: true, inputs: ['{projectRoot}/src.txt'], outputs: ['{projectRoot}/out'] } } }));
  writeFileSync(join(ws, 'p/src.txt'), 'built by main\n');
  mkdirSync(share);
  shareFor(share, tmp);
  server = await startServerProcess(share);
  ({ url, log } = server);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (tmp) removeDir(tmp);
});

describe("klp-split-cache-server under Nx's own client, with a token for main and one for pull requests", () => {
  let mainHash: string;

  it("refuses a pull request's job the store of a record (403): Nx runs the task, stores nothing, and the job passes", async () => {
    const from = await mark();
    const r = await nxRun(READ);
    expect(r.code, r.output).toBe(0);
    expect(r.result).toBe('BUILT BY MAIN\n');
    const lines = await since(from);
    mainHash = hashOf(lines)!;
    expect(lines).toEqual([`GET /v1/cache/${mainHash} 404`, `PUT /v1/cache/${mainHash} 403`]);
    expect(records()).toEqual([]);
  });

  it("cannot be poisoned: outputs a pull request's job plants under main's task hash are refused, and main builds its own", async () => {
    // The pull request changes the input, runs the task (its hash is its own) and tries to store its outputs...
    writeFileSync(join(ws, 'p/src.txt'), 'pwned by a pull request\n');
    let from = await mark();
    const pr = await nxRun(READ);
    expect(pr.result).toBe('PWNED BY A PULL REQUEST\n');
    const prHash = hashOf(await since(from))!;
    expect(prHash).not.toBe(mainHash);
    expect(await since(from)).toEqual([`GET /v1/cache/${prHash} 404`, `PUT /v1/cache/${prHash} 403`]);
    // ...then plants bytes under the hash main will compute, as a compromised job of it could.
    const planted = await fetch(`${url}/v1/cache/${mainHash}`, { method: 'PUT', body: Buffer.from('a tar archive of outputs the pull request made'), headers: { authorization: `Bearer ${READ}` } });
    expect(planted.status).toBe(403);
    expect(records()).toEqual([]);
    // main, with its own input, builds and stores its own outputs.
    writeFileSync(join(ws, 'p/src.txt'), 'built by main\n');
    from = await mark();
    const main = await nxRun(WRITE);
    expect(main.code, main.output).toBe(0);
    expect(main.result).toBe('BUILT BY MAIN\n');
    expect(await since(from)).toEqual([`GET /v1/cache/${mainHash} 404`, `PUT /v1/cache/${mainHash} 200`]);
    expect(records()).toEqual([mainHash]);
  });

  it("gives main's outputs to a pull request's job from the remote cache (200)", async () => {
    const from = await mark();
    const r = await nxRun(READ);
    expect(r.code, r.output).toBe(0);
    expect(r.remote, r.output).toBe(true);
    expect(r.result).toBe('BUILT BY MAIN\n');
    expect(await since(from)).toEqual([`GET /v1/cache/${mainHash} 200`]);
  });

  it('never replaces a record, not even for the read-write token (409), and Nx takes a 409 as stored', async () => {
    const before = readFileSync(join(share, mainHash));
    const again = await fetch(`${url}/v1/cache/${mainHash}`, { method: 'PUT', body: Buffer.from('another archive'), headers: { authorization: `Bearer ${WRITE}` } });
    expect(again.status).toBe(409);
    expect(readFileSync(join(share, mainHash)).equals(before)).toBe(true);
    // Two of main's machines run a new task at once: both miss, both store; one record, both jobs pass.
    writeFileSync(join(ws, 'p/src.txt'), 'a race between two machines\n');
    const from = await mark();
    const [a, b] = await Promise.all([nxRun(WRITE), nxRun(WRITE)]);
    writeFileSync(join(ws, 'p/src.txt'), 'built by main\n');
    expect([a.code, b.code]).toEqual([0, 0]);
    const puts = (await since(from)).filter((l) => l.startsWith('PUT ')).map((l) => l.split(' ')[2]).sort();
    expect(puts).toEqual(['200', '409']);
    expect(records()).toHaveLength(2);
  });

  it('stops Nx with the reason when a job has no token or a wrong one (401)', async () => {
    for (const token of [undefined, 'not-a-token']) {
      const from = await mark();
      const r = await nxRun(token);
      expect(r.code).not.toBe(0);
      expect(r.output).toContain('missing or wrong bearer token (NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN)');
      expect(await since(from)).toEqual([`GET /v1/cache/${mainHash} 401`]);
    }
  });
});
