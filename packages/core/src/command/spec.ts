/**
 * A command's options, defined once: the command line's parsing and --help
 * and the Nx executor's (or generator's) schema.json are both made from this
 * definition, so the two cannot offer different options.
 */

/** What an option holds: a list is repeatable on the command line, a map is `--flag NAME=VALUE` (repeatable). */
export type OptionType = 'string' | 'boolean' | 'integer' | 'list' | 'map';

export interface OptionSpec {
  type: OptionType;
  /** The --help text and the schema's description: what it does and its default, in a sentence or two. */
  description: string;
  /** The command-line spelling without the dashes; default: the option's name in kebab-case. */
  flag?: string;
  /** A one-letter command-line alias. */
  short?: string;
  /** The value's name in --help (`--kdir <dir>`); default `<value>`. */
  value?: string;
  /** The command line takes it as the operand(s) after the command, not as a --flag. */
  operand?: boolean;
  required?: boolean;
  /** Applied by the command line and by Nx alike. A boolean that defaults to true is spelt `--no-<flag>` on the command line. */
  default?: string | number | boolean;
  enum?: readonly string[];
  minimum?: number;
  /** A path: the command line's relative to the current directory, Nx's to the workspace root. */
  path?: boolean;
  /** Nx generators: the question Nx asks when the option is missing. */
  prompt?: string;
}

export interface CommandSpec {
  /** The command's name: `klp-split <name>`, the executor `@klp-split/nx:<name>`. */
  name: string;
  /** One sentence: the schema's description. */
  summary: string;
  /** The usage line(s) after `Usage: `. */
  usage: string;
  /** --help's paragraphs before the options. */
  about: string;
  /** --help's paragraphs after the options (what is written how, the exit status). */
  after: string;
  options: Readonly<Record<string, OptionSpec>>;
}

type ValueOf<O extends OptionSpec> = O extends { enum: readonly (infer E)[] }
  ? E
  : O['type'] extends 'boolean'
    ? boolean
    : O['type'] extends 'integer'
      ? number
      : O['type'] extends 'list'
        ? string[]
        : O['type'] extends 'map'
          ? Record<string, string>
          : string;

type Given<O> = O extends { required: true } ? true : O extends { default: unknown } ? true : false;

/** The options object a command's function takes: required and defaulted options are always there. */
export type OptionsOf<S extends CommandSpec> = {
  -readonly [K in keyof S['options'] as Given<S['options'][K]> extends true ? K : never]: ValueOf<S['options'][K]>;
} & {
  -readonly [K in keyof S['options'] as Given<S['options'][K]> extends true ? never : K]?: ValueOf<S['options'][K]>;
};

/** The command-line spelling of an option, `--kdir` or `--no-explore`. */
export function flagOf(name: string, o: OptionSpec): string {
  const flag = o.flag ?? name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return o.type === 'boolean' && o.default === true ? `--no-${flag}` : `--${flag}`;
}
