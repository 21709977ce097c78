import type { Counterexample } from './search.js';

interface ScenarioHeader {
  /** What the reader runs to replay it, e.g. `klp-split simulate out --target a.ko --scenario <file>`. */
  replay?: string;
  /** The posted stale-module guard defect was switched on. */
  postedGuardDefect?: boolean;
  /** Tasks that never reach a safe point (`object:function`), as the search had them. */
  sleeping?: string[];
}

/**
 * A counterexample as a scenario file: `@interleave` makes the simulator run
 * only what the lines say, `@start` begins a command that then waits at each
 * interleaving point for `@step`, `@async` runs a pending removal. Replayed
 * with `klp-split simulate --scenario`, it ends in the same violation, with
 * the kernel's log around it.
 */
export function counterexampleScenario(cx: Counterexample, header: ScenarioHeader = {}): string {
  const lines = [
    `# shortest counterexample (${cx.lines.length} events) for [${cx.code}]: ${cx.message}`,
    ...(header.replay ? [`# replay: ${header.replay}`] : []),
    '# @start: a command that stops at each interleaving point; @step <module>: the task loading it runs',
    '# to its next one (a request_module() returns, klp_mutex is re-taken, its init runs); @async: a',
    '# freed per-object module is removed by the kernel',
    ...(header.postedGuardDefect ? ['@posted-guard-defect'] : []),
    ...(header.sleeping ?? []).map((s) => `@sleeping ${s.replace(':', ' ')}`),
    '@interleave',
    ...cx.lines,
  ];
  return `${lines.join('\n')}\n`;
}

/** A file name for a counterexample: `<index>-<code>.scenario`. */
export function counterexampleFileName(cx: Counterexample, index: number): string {
  return `${String(index + 1).padStart(2, '0')}-${cx.code}.scenario`;
}
