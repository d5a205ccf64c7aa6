/**
 * What a TOML syntax error means, for the agent's config file and for rule files alike. smol-toml
 * reports any character below U+0020 (tab aside) or U+007F inside a string or a comment as
 * "control characters are not allowed", which is what it says for the most common mistake of
 * all: a string whose closing quote is missing, or a query broken over two lines in "…" instead
 * of '''…''', where the character it trips on is the line break. So the character at the
 * reported position is looked at and named, with what to write instead; every other error keeps
 * smol-toml's first line. The position is smol-toml's: 1-based lines split on LF or CRLF, columns
 * in UTF-16 code units from the start of the line.
 */
import { TomlError } from 'smol-toml';

export interface TomlSyntaxProblem {
  line: number;
  column: number;
  /** One line, without smol-toml's "Invalid TOML document:" prefix and code excerpt. */
  message: string;
}

const CONTROL_CHARACTER = /^control characters are not allowed in (strings|comments)\b/;

/** The problem a TomlError describes; anything else thrown while parsing is placed at 1:1. */
export function tomlSyntaxProblem(error: unknown, text: string): TomlSyntaxProblem {
  if (!(error instanceof TomlError)) {
    return { line: 1, column: 1, message: error instanceof Error ? firstLine(error.message) : String(error) };
  }
  const { line, column } = error;
  const message = firstLine(error.message);
  const control = CONTROL_CHARACTER.exec(message);
  if (control === null) return { line, column, message };
  const offset = offsetOf(text, line, column);
  if (offset < 0 || offset >= text.length) return { line, column, message };
  return { line, column, message: describeControlCharacter(text, offset, control[1] === 'strings' ? 'string' : 'comment') };
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
}

/** The UTF-16 offset of a 1-based line and column as smol-toml counts them; -1 past the end. */
function offsetOf(text: string, line: number, column: number): number {
  let start = 0;
  for (let at = 1; at < line; at++) {
    const newline = text.indexOf('\n', start);
    if (newline < 0) return -1;
    start = newline + 1;
  }
  return start + column - 1;
}

function codePoint(code: number): string {
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

function describeControlCharacter(text: string, offset: number, where: 'string' | 'comment'): string {
  const code = text.charCodeAt(offset);
  const lineBreak = code === 0x0a || (code === 0x0d && text.charCodeAt(offset + 1) === 0x0a);
  if (where === 'comment') {
    return `control character ${codePoint(code)} in a comment: TOML allows none, not even in comments`;
  }
  if (lineBreak) {
    return (
      'string not closed before the end of the line: a one-line string cannot hold a line break ' +
      '(close it on this line, write \\n inside "…", or use """…""" or \'\'\'…\'\'\' for text over several lines)'
    );
  }
  if (code === 0x0d) return 'carriage return (U+000D) inside a string: write it as \\r inside "…"';
  const escape = `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return `control character ${codePoint(code)} inside a string: write it as ${escape} inside "…" ('…' strings cannot hold it)`;
}
