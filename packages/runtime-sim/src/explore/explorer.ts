import { newKernel, type SimSystem } from '../kernel/system.js';
import { checkInvariants } from '../scenario/invariants.js';
import { interleavings } from './interleavings.js';

/** One event of the exploration: a command as the selftests would type it. */
type Event = { label: string; run: (k: ReturnType<typeof newKernel>) => void };

interface ExploreViolation {
  sequence: string[];
  code: string;
  message: string;
}

interface ExploreResult {
  patch: string;
  targets: string[];
  interleavings: number;
  steps: number;
  violations: ExploreViolation[];
  ms: number;
}

/**
 * The enumerator `verify` used before the model checker (check/), kept as the
 * benchmark's baseline: whole commands only, each order in a fresh kernel.
 *
 * Runs every interleaving of: each target loaded then unloaded, and the
 * patch loaded then disabled and removed, each in a fresh simulated kernel,
 * checking the split design's invariants after every step and that nothing
 * is left loaded at the end.
 */
export function explore(sys: SimSystem, patch: string, targets: string[], maxViolations = 20): ExploreResult {
  const lifecycles: Event[][] = [
    [
      { label: `modprobe ${patch}`, run: (k) => k.modprobeCommand(patch) },
      {
        label: `echo 0 > /sys/kernel/livepatch/${patch}/enabled; rmmod ${patch}`,
        run: (k) => {
          k.enabledCommand(patch, 0);
          k.rmmodCommand(patch);
        },
      },
    ],
    ...targets.map((t) => [
      { label: `modprobe ${t}`, run: (k: ReturnType<typeof newKernel>) => k.modprobeCommand(t) },
      { label: `rmmod ${t}`, run: (k: ReturnType<typeof newKernel>) => k.rmmodCommand(t) },
    ]),
  ];
  const result: ExploreResult = { patch, targets, interleavings: 0, steps: 0, violations: [], ms: 0 };
  const t0 = performance.now();
  for (const sequence of interleavings(lifecycles)) {
    result.interleavings++;
    const kernel = newKernel(sys);
    const labels: string[] = [];
    const report = (code: string, message: string): void => {
      if (result.violations.length < maxViolations) result.violations.push({ sequence: [...labels], code, message });
    };
    for (const event of sequence) {
      event.run(kernel);
      kernel.settle();
      labels.push(event.label);
      result.steps++;
      for (const v of checkInvariants(kernel)) report(v.code, v.message);
    }
    if (kernel.modules.size) report('leaked-module', `still loaded at the end: ${[...kernel.modules.keys()].join(', ')}`);
  }
  result.ms = performance.now() - t0;
  return result;
}
