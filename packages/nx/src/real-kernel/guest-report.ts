/**
 * The guest's report: the one guest script of the project (scripts/guest/steps.sh
 * of this package) writes its progress to the kernel log as 'klp-guest: '
 * lines, so commands, their output and the kernel's own messages come out
 * in one order; qemu-kernel.sh appends that log after the line
 * '### klp-qemu: dmesg'. This is the one reader of it.
 */

/** The marker qemu-kernel.sh puts between run.sh's output and the kernel log. */
const DMESG_MARKER = '\n### klp-qemu: dmesg\n';
/** The line the guest script prints on its output when it ran to its end. */
const DONE_MARKER = '### klp-guest: done';

/** Whether run.sh's output says the guest script ran to its end. */
export function guestDone(output: string): boolean {
  return output.includes(DONE_MARKER);
}

export type GuestLine =
  /** `% <command>` */
  | { kind: 'cmd'; text: string }
  /** A line the command printed (stdout and stderr). */
  | { kind: 'out'; text: string }
  /** The command's exit status. */
  | { kind: 'rc'; status: number }
  /** Another line of the guest script ('lsmod a b', 'objects ...', 'sysfs ...'), verbatim. */
  | { kind: 'guest'; text: string }
  /** A kernel line the caller kept, without its timestamp. */
  | { kind: 'kernel'; text: string };

interface GuestReport {
  /** Each case's lines ('case <id>' .. 'end <id>'), in case order. */
  cases: Map<string, GuestLine[]>;
  /** The modules a case's cleanup could not remove (pinned for good), by case; cases that left none are absent. */
  left: Map<string, string[]>;
  /** Lines of the guest script outside any case ('kallsyms-digest ...'), verbatim. */
  outside: string[];
  /** 'problem:' lines anywhere: the run cannot be trusted. */
  problems: string[];
}

const PREFIX = 'klp-guest: ';

/**
 * Reads the kernel log of a guest run. Kernel lines inside a case stay when
 * `keep(line, caseId)` says so (the livepatch core's, the case's modules'),
 * never the taint notices (they depend on what was loaded before).
 */
export function parseGuestReport(dmesg: string, keep: (line: string, caseId: string) => boolean): GuestReport {
  const report: GuestReport = { cases: new Map(), left: new Map(), outside: [], problems: [] };
  let id: string | undefined;
  let current: GuestLine[] | undefined;
  for (const raw of dmesg.split('\n')) {
    const line = raw.replace(/^\[[ 0-9.]*\] /, '').trimEnd();
    if (line.startsWith(PREFIX)) {
      const text = line.slice(PREFIX.length);
      const marker = /^(case|end) (\S+)$/.exec(text);
      const left = /^left (\S+)((?: \S+)*)$/.exec(text);
      if (marker?.[1] === 'case') report.cases.set((id = marker[2]!), (current = []));
      else if (marker) current = id = undefined;
      else if (text.startsWith('problem: ')) report.problems.push(text.slice('problem: '.length));
      else if (left) report.left.set(left[1]!, left[2]!.trim().split(' ').filter(Boolean));
      else if (!current) report.outside.push(text);
      else if (text.startsWith('% ')) current.push({ kind: 'cmd', text: text.slice(2) });
      else if (text.startsWith('out ')) current.push({ kind: 'out', text: text.slice(4) });
      else if (/^rc \d+$/.test(text)) current.push({ kind: 'rc', status: Number(text.slice(3)) });
      else current.push({ kind: 'guest', text });
      continue;
    }
    if (!current || id === undefined || /(tainting|taints) kernel/.test(line)) continue;
    if (keep(line, id)) current.push({ kind: 'kernel', text: line });
  }
  return report;
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

/**
 * A case's lines as a transcript in the simulator's words: commands as
 * `% <command>`, their output through commandOutput(), the guest's and the
 * kernel's lines verbatim; each command's exit status apart, in order.
 */
export function caseTranscript(lines: GuestLine[]): { lines: string[]; status: number[] } {
  const out: string[] = [];
  const status: number[] = [];
  for (const l of lines) {
    if (l.kind === 'rc') status.push(l.status);
    else if (l.kind === 'cmd') out.push(`% ${l.text}`);
    else if (l.kind === 'out') out.push(commandOutput(l.text));
    else out.push(l.text);
  }
  return { lines: out, status };
}

/** The run.sh output and the kernel log of a 'qemu-kernel.sh run', or undefined when the log is missing. */
export function splitRunOutput(stdout: string): { output: string; dmesg: string } | undefined {
  const cut = stdout.indexOf(DMESG_MARKER);
  return cut < 0 ? undefined : { output: stdout.slice(0, cut), dmesg: stdout.slice(cut + DMESG_MARKER.length) };
}
