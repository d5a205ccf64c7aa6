/** Token kinds produced by the lexer. Keywords are matched case-insensitively, as in Elasticsearch. */
export type TokenKind =
  | 'identifier'
  | 'quotedIdentifier'
  | 'string'
  | 'number'
  | 'keyword'
  | 'punct'
  | 'eof';

export const KEYWORDS = new Set([
  'and', 'or', 'not', 'in', 'in~', 'like', 'like~', 'regex', 'regex~', 'where', 'sequence', 'sample',
  'by', 'with', 'until', 'true', 'false', 'null', 'join', 'of',
]);

/** Punctuation, longest first so the lexer can try them in order. */
export const PUNCTUATION = [
  '==', '!=', '<=', '>=', '<', '>', ':', '+', '-', '*', '/', '%', '(', ')', '[', ']', ',', '|', '?', '!', '=', '.', '~',
] as const;

export interface Token {
  kind: TokenKind;
  /** The token text; for keywords lower-cased; for strings the decoded value. */
  value: string;
  /** Offset of the first character in the source. */
  start: number;
  /** Offset one past the last character in the source. */
  end: number;
  /** Numbers only: written with a fraction or exponent. */
  isFloat?: boolean;
  /** True when whitespace or a comment directly precedes the token. */
  spaceBefore: boolean;
}
