/**
 * The livepatch callback kinds of struct klp_callbacks (include/linux/livepatch.h),
 * in the order the kernel declares them. `post_unpatch_enabled` is state,
 * not a callback, so it is not one of them.
 */
export const CALLBACK_KINDS = ['pre_patch', 'post_patch', 'pre_unpatch', 'post_unpatch'] as const;

export type CallbackKind = (typeof CALLBACK_KINDS)[number];

export function isCallbackKind(s: unknown): s is CallbackKind {
  return typeof s === 'string' && (CALLBACK_KINDS as readonly string[]).includes(s);
}
