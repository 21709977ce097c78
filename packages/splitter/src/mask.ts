import { maskInitializerPreprocessor } from './initializer-mask.js';
import { maskRelocAnnotations } from './reloc-annotation-mask.js';
import { maskSyscalls } from './syscall-define.js';

/**
 * Kernel idioms the C grammar does not know, hidden before parsing. Every
 * replacement has the length of what it replaces and keeps newlines, so
 * every offset tree-sitter reports still points into the original text.
 */
const ANNOTATIONS = [
  '__init', '__exit', '__initdata', '__exitdata', '__initconst', '__user', '__rcu',
  '__iomem', '__percpu', '__force', '__must_check', '__maybe_unused', '__always_unused',
  '__used', '__cold', '__hot', 'noinline', '__always_inline', '__noreturn', 'notrace',
  '__visible', '__ro_after_init', '__read_mostly', '__weak', '__latent_entropy',
];

const ANNOTATION_RE = new RegExp(`\\b(?:${ANNOTATIONS.join('|')})\\b`, 'g');

/** `list_for_each_entry(pos, head, member) {`: a loop header; `while (a, b, c) {` parses the same way. */
const LOOP_MACRO_RE = /\b(?:h?list_for_each\w*|for_each_\w+|klp_for_each_\w+)(?=\s*\()/g;

/**
 * `static DECLARE_WORK(work, fn);` defines `work`; with its later arguments
 * blanked it parses as a declaration of `work` (the splitter reads the
 * arguments from the original text).
 */
const DEFINE_MACRO_RE = /^([ \t]*(?:static[ \t]+)?(?:DEFINE|DECLARE)_[A-Z0-9_]+\([ \t]*[A-Za-z_]\w*)([^;]*?)(\)[ \t]*;)/gm;

const blank = (s: string): string => s.replace(/[^\n]/g, ' ');

export function maskAnnotations(source: string): string {
  return maskInitializerPreprocessor(maskRelocAnnotations(maskSyscalls(source)))
    .replace(ANNOTATION_RE, (m) => ' '.repeat(m.length))
    .replace(LOOP_MACRO_RE, (m) => 'while'.padEnd(m.length, ' '))
    .replace(DEFINE_MACRO_RE, (_m, head: string, args: string, tail: string) => head + blank(args) + tail);
}
