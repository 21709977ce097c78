/**
 * Kernel macros that define a file-scope variable (`static DEFINE_MUTEX(lock);`
 * is a `struct mutex lock`), with the type of what they define: the closure
 * declares such a variable of the kernel's by that type.
 */
export const DEFINE_TYPES: Record<string, (name: string, args: string[]) => string> = {
  DEFINE_MUTEX: (n) => `struct mutex ${n}`,
  DEFINE_SPINLOCK: (n) => `spinlock_t ${n}`,
  DEFINE_RAW_SPINLOCK: (n) => `raw_spinlock_t ${n}`,
  DEFINE_RWLOCK: (n) => `rwlock_t ${n}`,
  DEFINE_SEQLOCK: (n) => `seqlock_t ${n}`,
  DEFINE_SEMAPHORE: (n) => `struct semaphore ${n}`,
  DECLARE_RWSEM: (n) => `struct rw_semaphore ${n}`,
  LIST_HEAD: (n) => `struct list_head ${n}`,
  HLIST_HEAD: (n) => `struct hlist_head ${n}`,
  DEFINE_IDR: (n) => `struct idr ${n}`,
  DEFINE_IDA: (n) => `struct ida ${n}`,
  DEFINE_XARRAY: (n) => `struct xarray ${n}`,
  DECLARE_WAIT_QUEUE_HEAD: (n) => `wait_queue_head_t ${n}`,
  DEFINE_RATELIMIT_STATE: (n) => `struct ratelimit_state ${n}`,
  DEFINE_STATIC_KEY_FALSE: (n) => `struct static_key_false ${n}`,
  DEFINE_STATIC_KEY_TRUE: (n) => `struct static_key_true ${n}`,
  DECLARE_BITMAP: (n, a) => `unsigned long ${n}[BITS_TO_LONGS(${a[1] ?? '0'})]`,
  DEFINE_HASHTABLE: (n, a) => `struct hlist_head ${n}[1 << (${a[1] ?? '0'})]`,
};

/** Whether `macro(...)` at file scope defines a variable klp-split can declare. */
export function definesVariable(macro: string): boolean {
  return macro in DEFINE_TYPES || /^DEFINE_PER_CPU(?:_[A-Z_]+)?$/.test(macro);
}
