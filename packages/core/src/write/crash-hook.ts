/**
 * TEST-ONLY crash hook. With KLP_SPLIT_TEST_CRASH_AT=<n> in the environment,
 * the process SIGKILLs itself just before its n-th write step (each staged
 * file, the journal, each rename, each delete, the journal's removal), so the
 * tests can prove that a kill at every write point is recovered by the next
 * run. Never set it outside the test suite.
 */
let steps = 0;

export function writeStep(): void {
  const at = process.env.KLP_SPLIT_TEST_CRASH_AT;
  if (!at) return;
  steps++;
  if (steps === Number(at)) process.kill(process.pid, 'SIGKILL');
}
