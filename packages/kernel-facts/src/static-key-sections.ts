/**
 * Sections whose entries the kernel processes while the module is COMING
 * (jump labels, static calls): a livepatch relocation from one of them to a
 * module's symbol would be written before that module's own are set up.
 */
export const STATIC_KEY_SECTIONS: ReadonlySet<string> = new Set(['__jump_table', '.static_call_sites', '.static_call.text']);
