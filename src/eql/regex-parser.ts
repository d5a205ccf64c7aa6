/**
 * Reads a `regex` / `regex~` pattern in Lucene's regular-expression dialect, the one Elasticsearch
 * evaluates EQL regexes with, into a small tree (RegexNode) for regex-translate.ts.
 *
 * The grammar is Lucene's `org.apache.lucene.util.automaton.RegExp` with the syntax flags
 * Elasticsearch passes (ALL plus the deprecated complement; see regex-match.ts for the sources),
 * followed production by production so that its quirks come out the same:
 *
 *   union    := inter ('|' union)?          inter  := concat ('&' inter)?
 *   concat   := repeat concat?   (stops before ')' '|' '&')
 *   repeat   := compl ('?' | '*' | '+' | '{n}' | '{n,}' | '{n,m}')*
 *   compl    := '~' compl | class           class  := '[' '^'? items ']' | simple
 *   simple   := '.' | '#' | '@' | '"' text '"' | '(' ')' | '(' union ')' | '<' text '>'
 *             | '\' (d D s S w W \) | '\'? any character
 *
 * - A pattern matches the whole value; there are no anchors, lazy quantifiers, groups with
 *   flags, backreferences or lookaround: `^`, `$`, `{` at the start, a leading `*` or `|` are
 *   ordinary characters wherever the grammar reads a character (`|a` is the two-character string).
 * - `\` makes the next character literal; `\d \D \s \S \w \W` are ASCII classes ([0-9],
 *   [\t\n\r ], [0-9A-Z_a-z] and their complements), `\\` a backslash, and `\` before any other
 *   ASCII letter is an error (so `\n`, `\t` are errors, not control characters).
 * - `"..."` is a literal string (no escapes inside); `()` the empty string; `.` any one code
 *   point, newline included; `@` any string; `#` the empty language; `<n-m>` a decimal interval.
 * - In a class `[...]` every character is literal except `\`, `]` after the first item, and `-`
 *   between two characters. `]` as the first item is literal.
 *
 * Refused (EQL0208, UnsupportedRegex): complement `~` and intersection `&`, which build automata
 * a linear-time matcher cannot run; `<identifier>` named automata are invalid (Elasticsearch has
 * none). Also refused: an escaped character followed by `-` inside a class (`[\.-z]`), which
 * Lucene 9 (Elasticsearch 8) reads as a range and Lucene 10 (Elasticsearch 9) as three characters,
 * and interval bounds Java's parseInt accepts but that are not plain ASCII digits.
 * Everything Lucene rejects is rejected (EQL0203) with Lucene's message and position.
 */
import { EqlErrorCode, RegexPatternError } from './errors.js';

export type PredefinedClass = 'd' | 'D' | 's' | 'S' | 'w' | 'W';

export type ClassItem =
  | { kind: 'char'; codePoint: number }
  | { kind: 'range'; from: number; to: number }
  | { kind: 'predefined'; name: PredefinedClass };

export type RegexNode =
  | { kind: 'union'; alternatives: RegexNode[] }
  | { kind: 'concat'; parts: RegexNode[] }
  /** max null: unbounded. `?` is 0..1, `*` 0..null, `+` 1..null. */
  | { kind: 'repeat'; operand: RegexNode; min: number; max: number | null }
  /** A run of literal code points (one character, or a quoted string; '' for `()` and ""). */
  | { kind: 'literal'; text: string }
  | { kind: 'class'; negated: boolean; items: ClassItem[] }
  | { kind: 'anyChar' }
  | { kind: 'anyString' }
  | { kind: 'emptyLanguage' }
  /** `<min-max>`; digits > 0: exactly that many digits (zero-padded), 0: any number of leading zeros. */
  | { kind: 'interval'; min: number; max: number; digits: number };

const JAVA_INT_MAX = 2 ** 31 - 1;
const ASCII_LETTERS_OR_BACKSLASH = '\\ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const PREDEFINED = 'dDsSwW';

export function parseLuceneRegex(pattern: string): RegexNode {
  return new LuceneRegexParser(pattern).parse();
}

class LuceneRegexParser {
  private pos = 0;

  constructor(private readonly text: string) {}

  parse(): RegexNode {
    if (this.text.length === 0) return { kind: 'literal', text: '' };
    const node = this.parseUnion();
    if (this.more()) this.invalid(`end-of-string expected at position ${this.pos}`, this.pos);
    return node;
  }

  private parseUnion(): RegexNode {
    const alternatives = [this.parseInter()];
    while (this.match('|')) alternatives.push(this.parseInter());
    return alternatives.length === 1 ? alternatives[0] : { kind: 'union', alternatives };
  }

  private parseInter(): RegexNode {
    const node = this.parseConcat();
    if (this.peek('&')) this.unsupported("intersection '&' is not supported: the linear-time engine cannot run it (escape it as \\& for a literal '&')", this.pos);
    return node;
  }

  private parseConcat(): RegexNode {
    const parts = [this.parseRepeat()];
    while (this.more() && !this.peek(')|&')) parts.push(this.parseRepeat());
    return parts.length === 1 ? parts[0] : { kind: 'concat', parts };
  }

  private parseRepeat(): RegexNode {
    let node = this.parseComplement();
    while (this.peek('?*+{')) {
      if (this.match('?')) node = { kind: 'repeat', operand: node, min: 0, max: 1 };
      else if (this.match('*')) node = { kind: 'repeat', operand: node, min: 0, max: null };
      else if (this.match('+')) node = { kind: 'repeat', operand: node, min: 1, max: null };
      else {
        const open = this.pos;
        this.pos++; // '{'
        const min = this.readCount();
        let max: number | null = min;
        if (this.match(',')) max = this.peek('0123456789') ? this.readCount() : null;
        if (!this.match('}')) this.invalid(`expected '}' at position ${this.pos}`, this.pos);
        if (max !== null && min > max) this.invalid(`invalid repetition range(out of order): ${min}..${max}`, open, this.pos - open);
        node = { kind: 'repeat', operand: node, min, max };
      }
    }
    return node;
  }

  private readCount(): number {
    const start = this.pos;
    while (this.peek('0123456789')) this.pos++;
    if (start === this.pos) this.invalid(`integer expected at position ${this.pos}`, this.pos);
    return this.javaInt(this.text.slice(start, this.pos), start);
  }

  private parseComplement(): RegexNode {
    if (this.peek('~')) this.unsupported("complement '~' is not supported: the linear-time engine cannot run it (escape it as \\~ for a literal '~')", this.pos);
    return this.parseClassExpression();
  }

  private parseClassExpression(): RegexNode {
    if (!this.match('[')) return this.parseSimple();
    const negated = this.match('^');
    const items = this.parseClassItems();
    if (!this.match(']')) this.invalid(`expected ']' at position ${this.pos}`, this.pos);
    return { kind: 'class', negated, items };
  }

  private parseClassItems(): ClassItem[] {
    const items: ClassItem[] = [];
    do {
      const escapeAt = this.pos;
      if (this.match('\\')) {
        if (this.peekCodeIn(ASCII_LETTERS_OR_BACKSLASH)) {
          items.push(this.readEscapedLetter(escapeAt));
        } else {
          items.push({ kind: 'char', codePoint: this.next() });
          if (this.peek('-')) {
            this.unsupported(
              "an escaped character before '-' in a class is read as a range by Lucene 9 and as three characters by Lucene 10; drop the backslash for a range or escape the '-' too",
              escapeAt,
              this.pos - escapeAt + 1,
            );
          }
        }
      } else {
        const rangeAt = this.pos;
        const from = this.readCharacter();
        if (this.match('-')) {
          const to = this.readCharacter();
          if (from > to) this.invalid(`invalid range: from (${from}) cannot be > to (${to})`, rangeAt, this.pos - rangeAt);
          items.push({ kind: 'range', from, to });
        } else {
          items.push({ kind: 'char', codePoint: from });
        }
      }
    } while (this.more() && !this.peek(']'));
    return items;
  }

  /** After a backslash, at an ASCII letter or a backslash: `\\`, a predefined class, or an error. */
  private readEscapedLetter(escapeAt: number): ClassItem {
    const letter = String.fromCodePoint(this.next());
    if (letter === '\\') return { kind: 'char', codePoint: 0x5c };
    if (PREDEFINED.includes(letter)) return { kind: 'predefined', name: letter as PredefinedClass };
    return this.invalid(`invalid character class \\${letter}`, escapeAt, 2);
  }

  private parseSimple(): RegexNode {
    const start = this.pos;
    if (this.match('.')) return { kind: 'anyChar' };
    if (this.match('#')) return { kind: 'emptyLanguage' };
    if (this.match('@')) return { kind: 'anyString' };
    if (this.match('"')) {
      const close = this.text.indexOf('"', this.pos);
      if (close < 0) {
        this.pos = this.text.length;
        this.invalid(`expected '"' at position ${this.pos}`, start, this.pos - start);
      }
      const text = this.text.slice(this.pos, close);
      this.pos = close + 1;
      return { kind: 'literal', text };
    }
    if (this.match('(')) {
      if (this.match(')')) return { kind: 'literal', text: '' };
      const inner = this.parseUnion();
      if (!this.match(')')) this.invalid(`expected ')' at position ${this.pos}`, this.pos);
      return inner;
    }
    if (this.match('<')) return this.parseAngle(start);
    if (this.match('\\')) {
      if (this.peekCodeIn(ASCII_LETTERS_OR_BACKSLASH)) {
        const item = this.readEscapedLetter(start);
        return item.kind === 'char' ? { kind: 'literal', text: '\\' } : { kind: 'class', negated: false, items: [item] };
      }
      return { kind: 'literal', text: String.fromCodePoint(this.next()) };
    }
    return { kind: 'literal', text: String.fromCodePoint(this.next()) };
  }

  /** `<n-m>` (numeric interval) or `<name>` (named automaton, which Elasticsearch never supplies). */
  private parseAngle(start: number): RegexNode {
    const close = this.text.indexOf('>', this.pos);
    if (close < 0) {
      this.pos = this.text.length;
      this.invalid(`expected '>' at position ${this.pos}`, start, this.pos - start);
    }
    const body = this.text.slice(this.pos, close);
    this.pos = close + 1;
    const span = this.pos - start;
    const dash = body.indexOf('-');
    if (dash < 0) this.invalid(`'${body}' not found: named automata are not available in Elasticsearch`, start, span);
    if (dash === 0 || dash === body.length - 1 || dash !== body.lastIndexOf('-')) this.invalid(`interval syntax error at position ${close}`, start, span);
    const low = body.slice(0, dash);
    const high = body.slice(dash + 1);
    for (const bound of [low, high]) {
      if (!/^[0-9]+$/.test(bound)) {
        if (/^\+?\p{Nd}+$/u.test(bound)) this.unsupported(`interval bound '${bound}' is not written in plain ASCII digits`, start, span);
        this.invalid(`interval syntax error at position ${close}`, start, span);
      }
    }
    let min = this.javaInt(low, start);
    let max = this.javaInt(high, start);
    if (min > max) [min, max] = [max, min];
    return { kind: 'interval', min, max, digits: low.length === high.length ? low.length : 0 };
  }

  /** A class character: an optional backslash, then any code point. */
  private readCharacter(): number {
    this.match('\\');
    return this.next();
  }

  private javaInt(digits: string, at: number): number {
    const value = Number(digits);
    if (value > JAVA_INT_MAX) this.invalid(`number out of range for a Java int: "${digits}"`, at, digits.length);
    return value;
  }

  private more(): boolean {
    return this.pos < this.text.length;
  }

  private peek(chars: string): boolean {
    return this.more() && chars.includes(this.text[this.pos]);
  }

  /** Like peek, for a set of single-unit characters, without mistaking half a surrogate pair. */
  private peekCodeIn(chars: string): boolean {
    return this.more() && chars.includes(String.fromCodePoint(this.text.codePointAt(this.pos)!));
  }

  private match(char: string): boolean {
    if (this.more() && this.text[this.pos] === char) {
      this.pos++;
      return true;
    }
    return false;
  }

  private next(): number {
    if (!this.more()) this.invalid('unexpected end-of-string', this.text.length);
    const codePoint = this.text.codePointAt(this.pos)!;
    this.pos += codePoint > 0xffff ? 2 : 1;
    return codePoint;
  }

  private invalid(detail: string, offset: number, length = 1): never {
    throw new RegexPatternError(EqlErrorCode.InvalidArgument, `invalid regular expression: ${detail}`, offset, length);
  }

  private unsupported(detail: string, offset: number, length = 1): never {
    throw new RegexPatternError(EqlErrorCode.UnsupportedRegex, `unsupported regular expression: ${detail}`, offset, length);
  }
}
