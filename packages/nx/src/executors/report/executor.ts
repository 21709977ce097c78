import { COMMANDS } from '../../commands/registry.js';
import { commandExecutor } from '../executor-run.js';

/** @klp-split/nx:report: `klp-split report`'s function with its options (schema.json is made from their one definition). */
export default commandExecutor(COMMANDS.report);
