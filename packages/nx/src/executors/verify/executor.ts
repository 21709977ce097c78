import { COMMANDS } from '../../commands/registry.js';
import { commandExecutor } from '../executor-run.js';

/** @klp-split/nx:verify: `klp-split verify`'s function with its options (schema.json is made from their one definition). */
export default commandExecutor(COMMANDS.verify);
