import type { Rng } from './rng.js';

/**
 * Mutations of the JSON data files klp-split reads (manifests, build
 * records, markers): structural ones on the parsed value (a key removed, a
 * value of the wrong type, an array element repeated 10,000 times, very
 * deep nesting, prototype keys, hostile strings) and textual ones on the
 * serialized bytes (truncation, a flipped byte, a deleted character).
 */

type J = unknown;
type Path = (string | number)[];

/** Strings that a careless consumer passes to a shell, a path join or a regular expression. */
export const HOSTILE_STRINGS = [
  '/nonexistent; touch PWNED #',
  '$(touch PWNED)',
  '`touch PWNED`',
  '| touch PWNED',
  '&& touch PWNED',
  "'; touch PWNED; '",
  '"; touch PWNED; "',
  '\ntouch PWNED\n',
  '${IFS}touch${IFS}PWNED',
  '--kdir=/x; touch PWNED',
  '-rf',
  '*',
  '../../..',
  '\0',
  'a\0b',
  '\u202e',
  'ü',
  '\ud800',
  '(((((((',
  '[a-',
  '%s%n',
  '',
  ' ',
  'x'.repeat(70_000),
];

/** Every node down to a depth of 12 (a 5000-deep value is a leaf here), at most 5000 of them. */
function nodes(v: J, path: Path = [], out: Path[] = []): Path[] {
  out.push(path);
  if (path.length >= 12 || out.length > 5000) return out;
  if (Array.isArray(v)) v.forEach((x, i) => nodes(x, [...path, i], out));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) nodes((v as Record<string, J>)[k], [...path, k], out);
  return out;
}

function get(v: J, p: Path): J {
  return p.reduce<J>((o, k) => (o as Record<string | number, J>)?.[k], v);
}

function set(root: J, p: Path, value: J): J {
  if (!p.length) return value;
  const parent = get(root, p.slice(0, -1)) as Record<string | number, J>;
  parent[p[p.length - 1]!] = value;
  return root;
}

function remove(root: J, p: Path): J {
  if (!p.length) return root;
  const parent = get(root, p.slice(0, -1));
  const k = p[p.length - 1]!;
  if (Array.isArray(parent)) parent.splice(k as number, 1);
  else delete (parent as Record<string, J>)[k as string];
  return root;
}

function deep(depth: number): J {
  let v: J = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

function oddValue(rng: Rng): { value: J; label: string } {
  const values: [string, () => J][] = [
    ['null', () => null],
    ['true', () => true],
    ['0', () => 0],
    ['-1', () => -1],
    ['1e308', () => 1e308],
    ['2^53+1', () => 2 ** 53 + 1],
    ['1.5', () => 1.5],
    ['[]', () => []],
    ['{}', () => ({})],
    ['a hostile string', () => rng.pick(HOSTILE_STRINGS)],
    // Deeper than 2000 the harness's own structuredClone and stringify overflow; deeper text below.
    ['nested 2000 deep', () => deep(2000)],
    ['an array of 10,000 strings', () => Array.from({ length: 10_000 }, (_, i) => `s${i % 7}`)],
  ];
  const [label, make] = rng.pick(values);
  return { value: make(), label };
}

const short = (p: Path): string => (p.length ? p.join('.') : '(root)');

/** One to three mutations of `value` (a fresh copy), returned as text with what was done. */
export function mutateJson(rng: Rng, value: J): { text: string; what: string } {
  let v: J = structuredClone(value);
  const steps: string[] = [];
  const textual = rng.chance(0.2);
  for (let n = rng.chance(0.3) ? 2 + rng.int(2) : 1; n > 0; n--) {
    // Beyond 8 MB (the tool's documented JSON limit) more mutations only cost the harness memory.
    if (n < 3 && (JSON.stringify(v)?.length ?? 0) > 8_000_000) break;
    const all = nodes(v);
    const p = rng.pick(all);
    switch (rng.int(7)) {
      case 0:
        v = remove(v, p);
        steps.push(`removed ${short(p)}`);
        break;
      case 1:
      case 2: {
        const { value: x, label } = oddValue(rng);
        v = set(v, p, x);
        steps.push(`${short(p)} = ${label}`);
        break;
      }
      case 3: {
        // An element of an array repeated: 10,000 duplicate parts or modules.
        const arrays = all.filter((q) => Array.isArray(get(v, q)) && (get(v, q) as J[]).length);
        if (arrays.length) {
          const q = rng.pick(arrays);
          const arr = get(v, q) as J[];
          const element = arr[rng.int(arr.length)];
          const times = rng.pick([2, 100, 10_000]);
          // The harness's own memory: at most about 4 MB of repeated elements.
          if ((JSON.stringify(element) ?? '').length * times > 4_000_000 || arr.length > 20_000) break;
          set(v, q, [...arr, ...Array.from({ length: times }, () => structuredClone(element))]);
          steps.push(`${short(q)}: an element repeated ${times} times`);
        }
        break;
      }
      case 4: {
        const objects = all.filter((q) => { const o = get(v, q); return o !== null && typeof o === 'object' && !Array.isArray(o); });
        if (objects.length) {
          const q = rng.pick(objects);
          const key = rng.pick(['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', 'x'.repeat(1000)]);
          // JSON.parse makes "__proto__" an own key; so does defineProperty here.
          Object.defineProperty(get(v, q) as object, key, { value: rng.chance(0.5) ? { polluted: true } : 'x', enumerable: true, configurable: true, writable: true });
          steps.push(`${short(q)}.${key.length > 20 ? `${key.slice(0, 5)}...` : key} added`);
        }
        break;
      }
      case 5: {
        // The value of a string field changed to a hostile string.
        const strings = all.filter((q) => typeof get(v, q) === 'string');
        if (strings.length) {
          const q = rng.pick(strings);
          const s = rng.pick(HOSTILE_STRINGS);
          v = set(v, q, rng.chance(0.5) ? s : `${get(v, q) as string}${s}`);
          steps.push(`${short(q)}: hostile string ${JSON.stringify(s.length > 30 ? `${s.slice(0, 10)}...` : s)}`);
        }
        break;
      }
      default: {
        const { value: x, label } = oddValue(rng);
        v = x;
        steps.push(`whole file = ${label}`);
      }
    }
  }
  let text = JSON.stringify(v, null, 2) ?? 'undefined';
  if (textual) {
    switch (rng.int(5)) {
      case 4: {
        text = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
        steps.push('whole text = an array nested 100,000 deep');
        break;
      }
      case 0: {
        const at = rng.int(text.length + 1);
        text = text.slice(0, at);
        steps.push(`text truncated to ${at}`);
        break;
      }
      case 1: {
        const at = rng.int(text.length);
        text = text.slice(0, at) + String.fromCharCode(rng.int(256)) + text.slice(at + 1);
        steps.push(`character ${at} replaced`);
        break;
      }
      case 2: {
        const at = rng.int(text.length);
        text = text.slice(0, at) + text.slice(at + 1);
        steps.push(`character ${at} deleted`);
        break;
      }
      default:
        text = `\ufeff${text}`;
        steps.push('BOM');
    }
  }
  return { text, what: steps.join('; ') };
}

/** True when the text is not JSON at all (a syntax error): such a file must be refused as input (exit 2). */
export function notJson(text: string): boolean {
  try {
    JSON.parse(text);
    return false;
  } catch {
    return true;
  }
}
