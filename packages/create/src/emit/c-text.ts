import type { Definition } from '../model/kernel-file.js';
import { tokenize } from '../model/tokens.js';

/** Pieces of C text the emitter rewrites, each by tokens so strings and comments stay as they are. */

/** `text` with identifiers renamed (never member names after `.` or `->`). */
export function renameIdentifiers(text: string, names: Map<string, string>): string {
  if (!names.size) return text;
  const tokens = tokenize(text);
  let out = '';
  let at = 0;
  tokens.forEach((t, k) => {
    if (t.kind !== 'ident') return;
    const to = names.get(t.text);
    const prev = tokens[k - 1]?.text;
    if (!to || prev === '.' || prev === '->') return;
    out += text.slice(at, t.start) + to;
    at = t.start + t.text.length;
  });
  return out + text.slice(at);
}

/** Words a declaration of the kernel's own symbol must not carry. */
const STORAGE_WORDS = /\b(?:static|inline|__always_inline|noinline|__init|__exit|__initdata|__initconst|__exitdata|__read_mostly|__ro_after_init|__cold|__sched|__visible|__used|__maybe_unused|__latent_entropy|__meminit|__ref|notrace|asmlinkage|__weak)\b\s*/g;

/** The types of variables kernel macros define (`static DEFINE_MUTEX(x);` is a `struct mutex x`). */
const DEFINE_TYPES: Record<string, (name: string, args: string[]) => string> = {
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

/** The declarator part of a variable definition: up to its initializer or the semicolon. */
function declarationPart(text: string): string {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if ((c === '=' || c === ';') && depth === 0) return text.slice(0, i);
  }
  return text;
}

/** `extern <declaration of the kernel's symbol>` without storage class or section annotations; undefined when it cannot be written. */
export function externDeclaration(def: Definition, name: string, macroArgs: string[] = []): string | undefined {
  if (def.kind === 'function') return `extern ${def.head!.replace(STORAGE_WORDS, '').replace(/\s+/g, ' ').trim()}`;
  if (def.definedBy) {
    const make = DEFINE_TYPES[def.definedBy];
    return make ? `extern ${make(name, macroArgs)}` : /PER_CPU/.test(def.definedBy) ? `DECLARE_PER_CPU(${macroArgs[0] ?? 'int'}, ${name})` : undefined;
  }
  if (def.names.length !== 1) return undefined;
  return `extern ${declarationPart(def.text).replace(STORAGE_WORDS, '').replace(/\s+/g, ' ').trim()}`;
}

/** A top-level `static`-less function head made static, with another name. */
export function renamedHead(def: Definition, newName: string): string {
  const head = renameIdentifiers(def.head!, new Map([[def.name!, newName]])).replace(/\b(?:inline|__always_inline|__visible)\b\s*/g, '');
  return /\bstatic\b/.test(head) ? head : `static ${head}`;
}
