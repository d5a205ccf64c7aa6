/**
 * Where a key sits in a TOML file. smol-toml returns plain values without positions, so this
 * module re-reads the source lexically (comments, the four string forms, arrays spanning lines,
 * table and array-of-table headers) and records, for every `key = value` outside inline tables,
 * the position of the key and of the start of its value under a concrete path such as
 * `rule.threat[1].technique[0].id`. Array-of-table indices restart under each parent instance, as
 * TOML defines them. Dotted and quoted keys are split on unquoted dots.
 *
 * It only ever runs on text smol-toml has already accepted, so it does not validate anything; on
 * text it does not understand it records less, and callers fall back to the nearest enclosing
 * key or table.
 */

export interface SourcePosition {
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units. */
  column: number;
}

export type TomlStringForm = 'basic' | 'literal' | 'multiline-basic' | 'multiline-literal' | 'other';

export interface KeyLocation {
  key: SourcePosition;
  /** The first character of the value (the opening quote for strings). */
  value: SourcePosition;
  form: TomlStringForm;
}

export type TomlPath = readonly (string | number)[];

export function pathKey(path: TomlPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

export class TomlKeyLocator {
  private readonly keys = new Map<string, KeyLocation>();
  private readonly tables = new Map<string, SourcePosition>();
  private readonly lineStarts: number[] = [0];

  constructor(private readonly source: string) {
    for (let i = 0; i < source.length; i++) if (source.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
    this.scan();
  }

  /** The key's own location, if it was written as `key = value` in the file. */
  locate(path: TomlPath): KeyLocation | undefined {
    return this.keys.get(pathKey(path));
  }

  /** Best position for a diagnostic about `path`: the key, else the closest located ancestor. */
  position(path: TomlPath): SourcePosition {
    for (let n = path.length; n > 0; n--) {
      const key = pathKey(path.slice(0, n));
      const found = this.keys.get(key)?.key ?? this.tables.get(key);
      if (found !== undefined) return found;
    }
    return { line: 1, column: 1 };
  }

  /**
   * Maps a 1-based position inside a string value back to the file. Exact for literal strings;
   * for basic strings escapes and line-ending backslashes can shift it a little.
   */
  positionInString(path: TomlPath, inner: SourcePosition): SourcePosition {
    const location = this.locate(path);
    if (location === undefined) return this.position(path);
    const { form, value } = location;
    let start: SourcePosition;
    if (form === 'multiline-basic' || form === 'multiline-literal') {
      const afterQuotes = this.offsetOf(value) + 3;
      // TOML drops a newline that immediately follows the opening delimiter.
      if (this.source.startsWith('\r\n', afterQuotes)) start = { line: value.line + 1, column: 1 };
      else if (this.source[afterQuotes] === '\n') start = { line: value.line + 1, column: 1 };
      else start = { line: value.line, column: value.column + 3 };
    } else if (form === 'basic' || form === 'literal') {
      start = { line: value.line, column: value.column + 1 };
    } else {
      return value;
    }
    if (inner.line <= 1) return { line: start.line, column: start.column + inner.column - 1 };
    return { line: start.line + inner.line - 1, column: inner.column };
  }

  private offsetOf(position: SourcePosition): number {
    return (this.lineStarts[position.line - 1] ?? 0) + position.column - 1;
  }

  private positionAt(offset: number): SourcePosition {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: offset - this.lineStarts[low]! + 1 };
  }

  private scan(): void {
    const s = this.source;
    /** Latest index of each array of tables, by its concrete path without the index. */
    const arrayIndex = new Map<string, number>();
    let table = '';
    let i = 0;
    while (i < s.length) {
      i = skipBlank(s, i);
      if (i >= s.length) break;
      const c = s[i];
      if (c === '#' || c === '\n' || c === '\r') {
        i = skipToLineEnd(s, i);
        continue;
      }
      if (c === '[') {
        const isArray = s[i + 1] === '[';
        const start = i;
        const close = s.indexOf(isArray ? ']]' : ']', i);
        if (close < 0) return;
        const segments = splitKey(s.slice(i + (isArray ? 2 : 1), close));
        let concrete = '';
        for (let n = 0; n < segments.length; n++) {
          concrete = concrete === '' ? segments[n]! : `${concrete}.${segments[n]}`;
          const last = n === segments.length - 1;
          if (last && isArray) {
            const next = (arrayIndex.get(concrete) ?? -1) + 1;
            arrayIndex.set(concrete, next);
            concrete = `${concrete}[${next}]`;
          } else if (arrayIndex.has(concrete)) {
            concrete = `${concrete}[${arrayIndex.get(concrete)}]`;
          }
        }
        table = concrete;
        this.tables.set(table, this.positionAt(start));
        i = skipToLineEnd(s, close);
        continue;
      }
      // A key/value pair.
      const keyStart = i;
      const eq = findAssignment(s, i);
      if (eq < 0) {
        i = skipToLineEnd(s, i);
        continue;
      }
      const segments = splitKey(s.slice(i, eq));
      const full = [table, ...segments].filter((p) => p !== '').join('.');
      const valueStart = skipBlank(s, eq + 1);
      const { end, form } = skipValue(s, valueStart);
      this.keys.set(full, { key: this.positionAt(keyStart), value: this.positionAt(valueStart), form });
      i = skipToLineEnd(s, end);
    }
  }
}

function skipBlank(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  return i;
}

/** Index just past the end of the line holding `i` (comments included). */
function skipToLineEnd(s: string, i: number): number {
  const nl = s.indexOf('\n', i);
  return nl < 0 ? s.length : nl + 1;
}

/** The `=` ending a key that starts at `i`, skipping quoted key parts; -1 if the line has none. */
function findAssignment(s: string, i: number): number {
  while (i < s.length && s[i] !== '\n') {
    const c = s[i];
    if (c === '"' || c === "'") {
      const close = s.indexOf(c, i + 1);
      if (close < 0) return -1;
      i = close + 1;
      continue;
    }
    if (c === '=') return i;
    i++;
  }
  return -1;
}

function splitKey(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quote: string | null = null;
  for (const c of text) {
    if (quote !== null) {
      if (c === quote) quote = null;
      else current += c;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '.') {
      parts.push(current.trim());
      current = '';
    } else current += c;
  }
  parts.push(current.trim());
  return parts;
}

/** Skips one value starting at `i`; returns the index after it and its string form. */
function skipValue(s: string, i: number): { end: number; form: TomlStringForm } {
  if (s.startsWith("'''", i)) return { end: endOfMultiline(s, i + 3, "'''"), form: 'multiline-literal' };
  if (s.startsWith('"""', i)) return { end: endOfMultiline(s, i + 3, '"""'), form: 'multiline-basic' };
  if (s[i] === "'") return { end: endOfLine(s, s.indexOf("'", i + 1)), form: 'literal' };
  if (s[i] === '"') return { end: endOfBasic(s, i + 1), form: 'basic' };
  if (s[i] === '[' || s[i] === '{') return { end: endOfBracketed(s, i), form: 'other' };
  return { end: i, form: 'other' };
}

function endOfLine(s: string, i: number): number {
  return i < 0 ? s.length : i + 1;
}

function endOfMultiline(s: string, i: number, delimiter: string): number {
  while (i < s.length) {
    const close = s.indexOf(delimiter, i);
    if (close < 0) return s.length;
    if (delimiter === '"""' && isEscaped(s, close)) {
      i = close + 1;
      continue;
    }
    // Up to two extra quotes may sit right before the closing delimiter.
    let end = close + 3;
    while (s[end] === delimiter[0] && end < close + 5) end++;
    return end;
  }
  return s.length;
}

function endOfBasic(s: string, i: number): number {
  while (i < s.length && s[i] !== '\n') {
    if (s[i] === '\\') i += 2;
    else if (s[i] === '"') return i + 1;
    else i++;
  }
  return i;
}

function isEscaped(s: string, i: number): boolean {
  let backslashes = 0;
  for (let j = i - 1; j >= 0 && s[j] === '\\'; j--) backslashes++;
  return backslashes % 2 === 1;
}

/** Arrays and inline tables may span lines and hold strings with brackets and comments. */
function endOfBracketed(s: string, i: number): number {
  let depth = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) return i + 1;
    } else if (c === '#') {
      i = skipToLineEnd(s, i);
      continue;
    } else if (c === '"' || c === "'") {
      i = skipValue(s, i).end;
      continue;
    }
    i++;
  }
  return s.length;
}
