/** Where commands print (stdout for results, stderr for diagnostics and progress): defined in @klp-split/core with the command contract. */
export { defaultIo, isCi, printDiagnostics, type Io } from '@klp-split/core';
