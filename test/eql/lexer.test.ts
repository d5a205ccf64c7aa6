import { describe, expect, it } from 'vitest';
import { EqlError } from '../../src/eql/index.js';
import { tokenize } from '../../src/eql/lexer.js';

const values = (text: string): string[] => tokenize(text).filter((t) => t.kind !== 'eof').map((t) => `${t.kind}:${t.value}`);

describe('lexer', () => {
  it('decodes the escapes of double-quoted strings', () => {
    const [token] = tokenize('"a\\"b\\\\c\\nd\\te\\rf\\u{41}\\u{1F600}\'"');
    expect(token.kind).toBe('string');
    expect(token.value).toBe('a"b\\c\nd\te\rfA\u{1F600}\'');
  });

  it('takes triple-quoted strings raw, including backslashes and quotes', () => {
    const [token] = tokenize('"""C:\\Windows\\"x" \\n"""');
    expect(token.value).toBe('C:\\Windows\\"x" \\n');
  });

  it('lets a raw string end with a quote', () => {
    expect(tokenize('""""a""""')[0].value).toBe('"a"');
  });

  it('reads integers, decimals and exponents, and marks floats', () => {
    const tokens = tokenize('1 2.5 3e2 4.0 .5 10');
    expect(tokens.filter((t) => t.kind === 'number').map((t) => [t.value, t.isFloat])).toEqual([
      ['1', false],
      ['2.5', true],
      ['3e2', true],
      ['4.0', true],
      ['.5', true],
      ['10', false],
    ]);
  });

  it('splits a time span into number and unit', () => {
    expect(values('maxspan=30s')).toEqual(['identifier:maxspan', 'punct:=', 'number:30', 'identifier:s']);
  });

  it('reads like~, regex~ and in~ as one keyword, case-insensitively', () => {
    expect(values('a LIKE~ "x" or b regex~ "y" or c In~ ("z")')).toContain('keyword:like~');
    expect(values('b regex~ "y"')).toContain('keyword:regex~');
    expect(values('c In~ ("z")')).toContain('keyword:in~');
  });

  it('reads identifiers with @ and _, backquoted identifiers and skips comments', () => {
    expect(values('@timestamp /* c */ `my field`.x // end\n_a1')).toEqual([
      'identifier:@timestamp',
      'quotedIdentifier:my field',
      'punct:.',
      'identifier:x',
      'identifier:_a1',
    ]);
  });

  it.each([
    ['"abc', 'EQL0103 unterminated string at 1:1'],
    ['x == "a\\qb"', "EQL0104 invalid escape sequence '\\q' at 1:8"],
    ['x == "\\u{zz}"', 'EQL0104 invalid unicode escape, expected \\u{hex} at 1:7'],
    ["x == 'single'", 'EQL0106 single-quoted strings are not supported, use double quotes at 1:6'],
    ['x == #', "EQL0101 unexpected character '#' at 1:6"],
    ['"""never closed', 'EQL0103 unterminated string at 1:1'],
  ])('rejects %s', (text, message) => {
    expect(() => tokenize(text)).toThrow(EqlError);
    expect(() => tokenize(text)).toThrow(message);
  });
});
