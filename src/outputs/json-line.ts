/**
 * One document as one line of JSON, whatever its strings contain. JSON.stringify already escapes
 * quotes, backslashes, C0 controls (so newlines and ESC) and lone surrogates; it leaves DEL, the C1
 * controls (0x80-0x9f, where 0x9b is an 8-bit CSI to some terminals) and U+2028/U+2029 raw. Those
 * can only occur inside JSON strings, so escaping them afterwards keeps the document valid and
 * makes `cat alerts.ndjson` and line-splitting readers safe.
 */
const UNSAFE_IN_LINE = /[\u007f-\u009f\u2028\u2029]/g;

function escapeUnicode(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** BigInt values become decimal strings instead of making JSON.stringify throw. */
function replaceBigInt(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** Serialises `doc` to single-line JSON without the trailing newline. Throws on cycles. */
export function toJsonLine(doc: unknown): string {
  const text = JSON.stringify(doc, replaceBigInt);
  if (text === undefined) throw new TypeError('document is not serialisable to JSON');
  return text.replace(UNSAFE_IN_LINE, escapeUnicode);
}
