/**
 * The guest's report: every guest script of the project (scripts/guest/steps.sh
 * of this package, the project's test/guest/*.sh) writes its progress to the
 * kernel log as 'klp-guest: ' lines, so commands, their output and the
 * kernel's own messages come out in one order; qemu-kernel.sh appends that
 * log after the line '### klp-qemu: dmesg'. This is the one reader of it.
 */

/** The marker qemu-kernel.sh puts between run.sh's output and the kernel log. */
const DMESG_MARKER = '\n### klp-qemu: dmesg\n';
/** The line a guest script prints on its output when it ran to its end. */
export const DONE_MARKER = '### klp-guest: done';
/** The protocol's earlier name, 'split-guest', still read (guest scripts written against it). */
const LEGACY = 'split-guest';

/** Whether run.sh's output says the guest script ran to its end. */
export function guestDone(output: string): boolean {
  return output.includes(DONE_MARKER) || output.includes(`### ${LEGACY}: done`);
}

export type GuestLine =
  /** `% <command>` */
  | { kind: 'cmd'; text: string }
  /** A line the command printed (stdout and stderr). */
  | { kind: 'out'; text: string }
  /** The command's exit status. */
  | { kind: 'rc'; status: number }
  /** Another line of the guest script ('lsmod a b', 'objects ...'), verbatim. */
  | { kind: 'guest'; text: string }
  /** A kernel line the caller kept, without its timestamp. */
  | { kind: 'kernel'; text: string };

interface GuestReport {
  /** Each case's lines ('case <id>' .. 'end <id>'), in case order. */
  cases: Map<string, GuestLine[]>;
  /** 'problem:' lines anywhere: the run cannot be trusted. */
  problems: string[];
}

const PREFIX = /^(?:klp-guest|split-guest): /;

/**
 * Reads the kernel log of a guest run. Kernel lines inside a case stay when
 * `keep(line, caseId)` says so (the livepatch core's, the case's modules'),
 * never the taint notices (they depend on what was loaded before).
 */
export function parseGuestReport(dmesg: string, keep: (line: string, caseId: string) => boolean): GuestReport {
  const cases: GuestReport['cases'] = new Map();
  const problems: string[] = [];
  let id: string | undefined;
  let current: GuestLine[] | undefined;
  for (const raw of dmesg.split('\n')) {
    const line = raw.replace(/^\[[ 0-9.]*\] /, '').trimEnd();
    const prefix = PREFIX.exec(line);
    if (prefix) {
      const text = line.slice(prefix[0].length);
      const marker = /^(case|end) (\S+)$/.exec(text);
      if (marker?.[1] === 'case') cases.set((id = marker[2]!), (current = []));
      else if (marker) current = id = undefined;
      else if (text.startsWith('problem: ')) problems.push(text.slice('problem: '.length));
      else if (!current) continue;
      else if (text.startsWith('% ')) current.push({ kind: 'cmd', text: text.slice(2) });
      else if (text.startsWith('out ')) current.push({ kind: 'out', text: text.slice(4) });
      else if (/^rc \d+$/.test(text)) current.push({ kind: 'rc', status: Number(text.slice(3)) });
      else current.push({ kind: 'guest', text });
      continue;
    }
    if (!current || id === undefined || /(tainting|taints) kernel/.test(line)) continue;
    if (keep(line, id)) current.push({ kind: 'kernel', text: line });
  }
  return { cases, problems };
}

/**
 * A command's output as the simulator words it: without the shell's
 * 'bash: line N: ' and with a module file of /lib/modules/<release>/extra as
 * its module name (the simulator knows modules by name, not by path).
 */
export function commandOutput(text: string): string {
  return text
    .replace(/^bash: (line \d+: )?/, '')
    .replace(/\/lib\/modules\/[^/\s]+\/extra\/([\w-]+)\.ko/g, (_, f: string) => f.replace(/-/g, '_'))
    .replace(/ in directory \/lib\/modules\/\S+$/, ' in directory /lib/modules');
}

/** The run.sh output and the kernel log of a 'qemu-kernel.sh run', or undefined when the log is missing. */
export function splitRunOutput(stdout: string): { output: string; dmesg: string } | undefined {
  const cut = stdout.indexOf(DMESG_MARKER);
  return cut < 0 ? undefined : { output: stdout.slice(0, cut), dmesg: stdout.slice(cut + DMESG_MARKER.length) };
}
