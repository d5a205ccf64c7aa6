/**
 * Errors raised while reading or compiling an EQL query. Every error has a stable code, the
 * 1-based line and column where it starts and the length of the offending text, so a caller can
 * point at it: `render(source)` returns the message, the query line and a caret underneath.
 *
 * Codes: EQL01xx lexing and parsing, EQL02xx semantic checks (functions, types, unsupported
 * features), EQL03xx limits.
 *
 * RegexPatternError is raised inside one regular expression (src/eql/regex-*.ts) and carries an
 * offset into the pattern text rather than into the query; the checker turns it into an EqlError
 * on the pattern's literal.
 */
import { ExecwardenError } from '../errors.js';

export const EqlErrorCode = {
  UnexpectedCharacter: 'EQL0101',
  UnexpectedToken: 'EQL0102',
  UnterminatedString: 'EQL0103',
  InvalidEscape: 'EQL0104',
  InvalidNumber: 'EQL0105',
  SingleQuotedString: 'EQL0106',
  UnknownFunction: 'EQL0201',
  WrongArity: 'EQL0202',
  InvalidArgument: 'EQL0203',
  PipesNotSupported: 'EQL0204',
  UnsupportedFeature: 'EQL0205',
  InvalidTimeSpan: 'EQL0206',
  JoinKeyMismatch: 'EQL0207',
  UnsupportedRegex: 'EQL0208',
  QueryTooLong: 'EQL0301',
  NestingTooDeep: 'EQL0302',
  ListTooLarge: 'EQL0303',
  RegexTooLarge: 'EQL0304',
} as const;
export type EqlErrorCode = (typeof EqlErrorCode)[keyof typeof EqlErrorCode];

/** 1-based line and column of a 0-based offset in `text`. */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

export class EqlError extends ExecwardenError {
  readonly line: number;
  readonly column: number;
  readonly length: number;
  /** The text the error was raised for, kept so render() works without arguments. */
  readonly source: string | undefined;
  /** The message without code and position, e.g. "unexpected token 'wher'". */
  readonly detail: string;

  constructor(code: EqlErrorCode, detail: string, source: string, offset: number, length = 1) {
    const { line, column } = positionOf(source, offset);
    super(code, `${code} ${detail} at ${line}:${column}`);
    this.detail = detail;
    this.line = line;
    this.column = column;
    this.length = Math.max(1, length);
    this.source = source;
  }

  /** The message, the source line the error is on, and a caret (or carets) under the span. */
  render(source: string | undefined = this.source): string {
    if (source === undefined) return this.message;
    const lineText = source.split('\n')[this.line - 1] ?? '';
    const width = Math.max(1, Math.min(this.length, lineText.length - this.column + 1));
    const caret = ' '.repeat(this.column - 1) + '^'.repeat(width);
    return `${this.message}\n${lineText.replace(/\r$/, '')}\n${caret}`;
  }
}

/** An error inside one `regex` pattern: code, message and the offset and length in the pattern. */
export class RegexPatternError extends ExecwardenError {
  declare readonly code: EqlErrorCode;
  readonly detail: string;
  readonly offset: number;
  readonly length: number;

  constructor(code: EqlErrorCode, detail: string, offset: number, length = 1) {
    super(code, `${code} ${detail} at pattern offset ${offset}`);
    this.detail = detail;
    this.offset = offset;
    this.length = Math.max(1, length);
  }
}
