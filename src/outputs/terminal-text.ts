/**
 * Makes untrusted text safe to print on a terminal. Command lines are attacker-controlled: a raw
 * ESC, CSI (C1 0x9b), carriage return or bidi override could recolour the screen, move the cursor,
 * hide the rest of a line or fake a new one. Every such character is shown as a visible escape
 * (`\x1b`, `\r`, `\u{202e}`) instead, so the reader sees what the process really ran.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/gu;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function visibleEscape(char: string): string {
  const named = NAMED[char];
  if (named) return named;
  const code = char.codePointAt(0) ?? 0;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/** Printable, single-line rendering of `text`, cut to `maxChars` (with a count of what was cut). */
export function terminalSafe(text: string, maxChars = 2048): string {
  const cut = text.length > maxChars ? `${text.slice(0, maxChars)}…(+${text.length - maxChars} chars)` : text;
  return cut.replace(UNSAFE, visibleEscape);
}
