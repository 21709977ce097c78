import { COMMANDS } from '../../commands/registry.js';
import { commandExecutor } from '../executor-run.js';

/** @klp-split/nx:create: `klp-split create`'s function with its options (schema.json is made from their one definition). */
export default commandExecutor(COMMANDS.create);
