/**
 * Makes untrusted text safe to show to a person: on a terminal, in a log viewer, in an alert's
 * `message`. Command lines, names and paths are attacker-controlled, and some characters are
 * instructions to whatever displays them rather than text:
 * - C0 controls and DEL (ESC starts escape sequences, CR rewrites the line, LF fakes a new one),
 * - C1 controls 0x80-0x9f (0x9b is a one-byte CSI, 0x9d OSC, 0x85 NEL a line break),
 * - bidi controls (U+202A-U+202E embeddings and overrides, U+2066-U+2069 isolates, U+200E/U+200F
 *   and U+061C marks) that reorder what is shown, so `gpj.exe` can read as `exe.jpg`,
 * - the line and paragraph separators U+2028/U+2029,
 * - invisible format characters that hide or smuggle text: zero-width ones (U+200B-U+200D,
 *   U+2060-U+2064, U+FEFF), the rest of U+2060-U+206F, interlinear annotations (U+FFF9-U+FFFB)
 *   and tag characters (U+E0000-U+E007F).
 * Every such character is shown as a visible escape (`\x1b`, `\r`, `\x9b`, `\u{202e}`) instead, so
 * the reader sees what the process really ran. Everything else, other scripts and emoji included,
 * is left alone. Only text meant for people goes through here: the raw fields of a document
 * (process.args, …) stay exact, and JSON escaping is what keeps them intact on the wire.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}]/gu;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Escaped output a caller gets by default before it is cut. */
export const DEFAULT_TERMINAL_CHARS = 2048;

function visibleEscape(char: string): string {
  const named = NAMED[char];
  if (named) return named;
  const code = char.codePointAt(0) ?? 0;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/**
 * Printable, single-line rendering of `text`. The escaped result is at most `maxChars` long; a
 * longer one is cut before the first character (or escape) that would not fit, never inside an
 * escape or a surrogate pair, and ends in `…(+N chars)` with N the characters of `text` not shown.
 */
export function terminalSafe(text: string, maxChars = DEFAULT_TERMINAL_CHARS): string {
  // Escaping never shortens text, so only input that fits can come out whole.
  if (text.length <= maxChars) {
    const escaped = text.replace(UNSAFE, visibleEscape);
    if (escaped.length <= maxChars) return escaped;
  }
  let shown = '';
  let used = 0;
  // By code point; stops at maxChars, however long `text` is.
  for (const char of text) {
    const piece = char.replace(UNSAFE, visibleEscape);
    if (shown.length + piece.length > maxChars) break;
    shown += piece;
    used += char.length;
  }
  return `${shown}…(+${text.length - used} chars)`;
}
