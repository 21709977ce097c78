import { mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { createNodesV2 } from '../../packages/nx/src/plugin/index.js';
import type { Violation } from './oracles.js';

/**
 * The Nx plugin's createNodes run in-process on a small workspace of
 * marker files: a livepatch project and the module project it targets.
 */

export interface MarkerWorkspace {
  root: string;
  livepatchMarker: string;
  moduleMarker: string;
}

export function writeWorkspace(root: string, livepatch: string | Buffer, module: string | Buffer): MarkerWorkspace {
  mkdirSync(join(root, 'livepatches/fix'), { recursive: true });
  mkdirSync(join(root, 'modules/mod'), { recursive: true });
  writeFileSync(join(root, 'livepatches/fix/klp-livepatch.json'), livepatch);
  writeFileSync(join(root, 'livepatches/fix/fix.c'), '/* a livepatch */\n');
  writeFileSync(join(root, 'modules/mod/klp-module.json'), module);
  writeFileSync(join(root, 'modules/mod/mod.c'), '/* a module */\n');
  return { root, livepatchMarker: 'livepatches/fix/klp-livepatch.json', moduleMarker: 'modules/mod/klp-module.json' };
}

export const VALID_LIVEPATCH = { source: 'fix.c', targets: ['mod'] };
export const VALID_MODULE = { sources: ['mod.c'] };

export interface NodesOutcome {
  /** The projects, or undefined when createNodes refused. */
  results?: unknown;
  error?: unknown;
}

export async function createNodes(ws: MarkerWorkspace): Promise<NodesOutcome> {
  const [, fn] = createNodesV2;
  try {
    const context = { workspaceRoot: ws.root, nxJsonConfiguration: {} } as Parameters<typeof fn>[2];
    return { results: await fn([ws.livepatchMarker, ws.moduleMarker], {}, context) };
  } catch (error) {
    return { error };
  }
}

/** A refusal names the marker file and is a diagnostic, not a JavaScript runtime error. */
export function refusalViolations(error: unknown, ws: MarkerWorkspace): Violation[] {
  // createNodesFromFiles gathers the per-file errors into Nx's AggregateCreateNodesError, whose `errors` pair each
  // error with its file; Nx prints every pair. Judge each inner error, with its file as part of its text.
  const aggregate = (error as { errors?: unknown })?.errors;
  if (Array.isArray(aggregate) && aggregate.length) {
    return aggregate.flatMap((pair) => {
      const [file, inner] = Array.isArray(pair) ? (pair as [unknown, unknown]) : [undefined, pair];
      if (inner instanceof Error && typeof file === 'string') (inner as Error & { file?: string }).file ??= file;
      return refusalViolations(inner, ws);
    });
  }
  const v: Violation[] = [];
  const e = error as Error & { file?: string };
  const text = `${e?.message ?? String(error)} ${e?.file ?? ''}`;
  if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || !(e instanceof Error)) {
    v.push({ kind: 'internal-error', detail: `createNodes threw ${e?.constructor?.name ?? typeof e}: ${text.slice(0, 200)}` });
  } else if (!text.includes(ws.livepatchMarker) && !text.includes(ws.moduleMarker) && !text.includes('klp-livepatch.json') && !text.includes('klp-module.json')) {
    v.push({ kind: 'content', detail: `createNodes refused without naming the marker file: ${text.slice(0, 200)}` });
  }
  return v;
}

function inside(base: string, p: string): boolean {
  const rel = relative(base, p);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** Every project's options.sources / path / outputPath stays in its project root. */
export function targetPathViolations(results: unknown, ws: MarkerWorkspace): Violation[] {
  const v: Violation[] = [];
  for (const [, r] of results as [string, { projects?: Record<string, { root: string; targets?: Record<string, { options?: Record<string, unknown> }> }> }][]) {
    for (const project of Object.values(r.projects ?? {})) {
      const root = resolve(ws.root, project.root);
      for (const [name, t] of Object.entries(project.targets ?? {})) {
        for (const key of ['sources', 'outputPath', 'path']) {
          const given = t.options?.[key];
          for (const val of Array.isArray(given) ? given : [given]) {
            if (typeof val === 'string' && (val.includes('\0') || !inside(root, resolve(ws.root, val)))) {
              v.push({ kind: 'write-outside', detail: `target ${name} option ${key} '${val.slice(0, 120)}' leaves the project root ${project.root}` });
            }
          }
        }
      }
    }
  }
  return v;
}
