/**
 * EQL lexer. Follows Elasticsearch's EQL lexer:
 * - strings are double-quoted with the escapes \" \' \\ \n \r \t \b \f and \u{hex}; triple-quoted
 *   """raw""" strings take every character literally; single-quoted strings are rejected (ES does
 *   the same and asks for double quotes);
 * - identifiers start with a letter, `_` or `@` and go on with letters, digits, `_` and `@`;
 *   backquoted identifiers take anything but a backquote (`` `` `` escapes one);
 * - numbers are decimal integers or decimals with an optional exponent; a sign is an operator;
 * - `//` line comments and `/* *\/` block comments are skipped.
 */
import { EqlError, EqlErrorCode } from './errors.js';
import { KEYWORDS, PUNCTUATION, type Token } from './tokens.js';

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isIdentStart = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 64;
const isIdentPart = (c: number): boolean => isIdentStart(c) || isDigit(c);

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let spaceBefore = false;
  const length = source.length;

  while (pos < length) {
    const c = source.charCodeAt(pos);
    // whitespace
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12) {
      pos++;
      spaceBefore = true;
      continue;
    }
    // comments
    if (c === 47 && source.charCodeAt(pos + 1) === 47) {
      while (pos < length && source.charCodeAt(pos) !== 10) pos++;
      spaceBefore = true;
      continue;
    }
    if (c === 47 && source.charCodeAt(pos + 1) === 42) {
      const close = source.indexOf('*/', pos + 2);
      if (close < 0) throw new EqlError(EqlErrorCode.UnexpectedCharacter, 'unterminated comment', source, pos, 2);
      pos = close + 2;
      spaceBefore = true;
      continue;
    }
    const start = pos;
    if (c === 34) {
      const { value, end } = source.startsWith('"""', pos) ? readRawString(source, pos) : readString(source, pos);
      tokens.push({ kind: 'string', value, start, end, spaceBefore });
      pos = end;
    } else if (c === 39) {
      throw new EqlError(EqlErrorCode.SingleQuotedString, 'single-quoted strings are not supported, use double quotes', source, pos);
    } else if (c === 96) {
      const { value, end } = readQuotedIdentifier(source, pos);
      tokens.push({ kind: 'quotedIdentifier', value, start, end, spaceBefore });
      pos = end;
    } else if (isDigit(c) || (c === 46 && isDigit(source.charCodeAt(pos + 1)))) {
      const token = readNumber(source, pos);
      token.spaceBefore = spaceBefore;
      tokens.push(token);
      pos = token.end;
    } else if (isIdentStart(c)) {
      while (pos < length && isIdentPart(source.charCodeAt(pos))) pos++;
      const text = source.slice(start, pos);
      const lower = text.toLowerCase();
      if (KEYWORDS.has(lower)) {
        // like~, regex~ and in~ are single operators
        if ((lower === 'like' || lower === 'regex' || lower === 'in') && source.charCodeAt(pos) === 126) {
          pos++;
          tokens.push({ kind: 'keyword', value: `${lower}~`, start, end: pos, spaceBefore });
        } else {
          tokens.push({ kind: 'keyword', value: lower, start, end: pos, spaceBefore });
        }
      } else {
        tokens.push({ kind: 'identifier', value: text, start, end: pos, spaceBefore });
      }
    } else {
      const punct = PUNCTUATION.find((p) => source.startsWith(p, pos));
      if (punct === undefined) {
        throw new EqlError(EqlErrorCode.UnexpectedCharacter, `unexpected character '${source[pos]}'`, source, pos);
      }
      pos += punct.length;
      tokens.push({ kind: 'punct', value: punct, start, end: pos, spaceBefore });
    }
    spaceBefore = false;
  }
  tokens.push({ kind: 'eof', value: '', start: length, end: length, spaceBefore });
  return tokens;
}

function readRawString(source: string, start: number): { value: string; end: number } {
  const close = source.indexOf('"""', start + 3);
  if (close < 0) throw new EqlError(EqlErrorCode.UnterminatedString, 'unterminated string', source, start, 3);
  // """a"""" ends at the last of a run of quotes, so a value may end with a quote
  let end = close + 3;
  while (source.charCodeAt(end) === 34) end++;
  return { value: source.slice(start + 3, end - 3), end };
}

const SIMPLE_ESCAPES: Record<string, string> = { '"': '"', "'": "'", '\\': '\\', n: '\n', r: '\r', t: '\t', b: '\b', f: '\f' };

function readString(source: string, start: number): { value: string; end: number } {
  let pos = start + 1;
  let value = '';
  let chunkStart = pos;
  while (pos < source.length) {
    const c = source.charCodeAt(pos);
    if (c === 34) {
      value += source.slice(chunkStart, pos);
      return { value, end: pos + 1 };
    }
    if (c === 10 || c === 13) break;
    if (c === 92) {
      value += source.slice(chunkStart, pos);
      const next = source[pos + 1];
      if (next === undefined) break;
      const simple = SIMPLE_ESCAPES[next];
      if (simple !== undefined) {
        value += simple;
        pos += 2;
      } else if (next === 'u') {
        const match = /^u\{([0-9a-fA-F]{1,8})\}/.exec(source.slice(pos + 1, pos + 13));
        const codePoint = match ? parseInt(match[1], 16) : NaN;
        if (!match || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) {
          throw new EqlError(EqlErrorCode.InvalidEscape, 'invalid unicode escape, expected \\u{hex}', source, pos, 2);
        }
        value += String.fromCodePoint(codePoint);
        pos += 1 + match[0].length;
      } else {
        throw new EqlError(EqlErrorCode.InvalidEscape, `invalid escape sequence '\\${next}'`, source, pos, 2);
      }
      chunkStart = pos;
      continue;
    }
    pos++;
  }
  throw new EqlError(EqlErrorCode.UnterminatedString, 'unterminated string', source, start, 1);
}

function readQuotedIdentifier(source: string, start: number): { value: string; end: number } {
  let pos = start + 1;
  let value = '';
  while (pos < source.length) {
    const c = source.charCodeAt(pos);
    if (c === 96) {
      if (source.charCodeAt(pos + 1) === 96) {
        value += '`';
        pos += 2;
        continue;
      }
      if (value.length === 0) throw new EqlError(EqlErrorCode.UnexpectedToken, 'empty quoted identifier', source, start, 2);
      return { value, end: pos + 1 };
    }
    value += source[pos];
    pos++;
  }
  throw new EqlError(EqlErrorCode.UnterminatedString, 'unterminated quoted identifier', source, start, 1);
}

function readNumber(source: string, start: number): Token {
  let pos = start;
  let isFloat = false;
  while (isDigit(source.charCodeAt(pos))) pos++;
  if (source.charCodeAt(pos) === 46 && isDigit(source.charCodeAt(pos + 1))) {
    isFloat = true;
    pos++;
    while (isDigit(source.charCodeAt(pos))) pos++;
  } else if (source.charCodeAt(pos) === 46 && !isIdentStart(source.charCodeAt(pos + 1))) {
    // "1." is a decimal; "1.x" is left for the parser to reject
    isFloat = true;
    pos++;
  }
  const e = source.charCodeAt(pos);
  if (e === 101 || e === 69) {
    let p = pos + 1;
    const sign = source.charCodeAt(p);
    if (sign === 43 || sign === 45) p++;
    if (isDigit(source.charCodeAt(p))) {
      isFloat = true;
      pos = p;
      while (isDigit(source.charCodeAt(pos))) pos++;
    }
  }
  const text = source.slice(start, pos);
  const value = Number(text);
  if (!Number.isFinite(value)) throw new EqlError(EqlErrorCode.InvalidNumber, `invalid number '${text}'`, source, start, text.length);
  return { kind: 'number', value: text, start, end: pos, isFloat, spaceBefore: false };
}
