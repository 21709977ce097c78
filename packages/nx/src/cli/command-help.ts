import { type CommandSpec, flagOf } from '@klp-split/core';

const HELP_WIDTH = 79;
/** Where descriptions start; a longer flag puts its description on the next line. */
const HELP_COLUMN = 21;

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** A command's --help: its usage and prose, and each flag with its description from the one definition. */
export function commandHelp(spec: CommandSpec): string {
  const rows: string[] = [];
  for (const [name, o] of Object.entries(spec.options)) {
    if (o.operand) continue;
    const head = `  ${flagOf(name, o)}${o.type === 'boolean' ? '' : ` ${o.value ?? '<value>'}`}`;
    const text = o.type === 'list' || o.type === 'map' ? `${o.description} Repeatable.` : o.description;
    const body = wrap(text, HELP_WIDTH - HELP_COLUMN);
    const pad = ' '.repeat(HELP_COLUMN);
    if (head.length + 1 <= HELP_COLUMN) rows.push(`${head.padEnd(HELP_COLUMN)}${body[0]}`, ...body.slice(1).map((l) => pad + l));
    else rows.push(head, ...body.map((l) => pad + l));
  }
  return `Usage: ${spec.usage}\n\n${spec.about}\n\n${rows.join('\n')}\n\n${spec.after}`;
}
