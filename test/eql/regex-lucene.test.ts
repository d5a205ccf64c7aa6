/**
 * `regex` / `regex~` read Lucene's dialect (src/eql/regex-match.ts). Rows marked "doc" are the
 * examples of Elasticsearch's "Regular expression syntax" reference page, with its verdicts.
 */
import { describe, expect, it } from 'vitest';
import { compileQuery, type EqlEvent } from '../../src/eql/index.js';

/** Compiles `any where f regex """pattern"""` (raw string: every character reaches the regex). */
function matcher(pattern: string, caseInsensitive = false): (value: unknown) => boolean {
  const query = compileQuery(`any where f regex${caseInsensitive ? '~' : ''} """${pattern}"""`);
  if (query.kind !== 'event') throw new Error('expected an event query');
  return (value) => query.matches({ f: value } as EqlEvent);
}

type Row = [pattern: string, matching: string[], notMatching: string[]];

const CASE_SENSITIVE: Record<string, Row[]> = {
  'anchoring: the whole value, and ^ $ are ordinary characters': [
    ['abc', ['abc'], ['abcd', 'xabc', 'ab', '', 'ABC']],
    ['ab.*', ['ab', 'abcde'], ['xab', 'a']], // doc: "ab.*" matches "abcde"
    ['abcd', ['abcd'], ['abcde']], // doc: "abcd" does not match "abcde"
    ['^abc', ['^abc'], ['abc']],
    ['abc$', ['abc$'], ['abc']],
  ],
  'any character, newline and astral code points included': [
    ['ab...', ['abcde'], ['abcd']], // doc
    ['a.c.e', ['abcde'], ['abcdef']], // doc
    ['a.c', ['abc', 'a\nc', 'a.c', 'a\u{1F600}c'], ['ac', 'abbc']],
    ['..', ['ab', '\u{1F600}\u{1F600}', '\r\n'], ['\u{1F600}', 'abc']],
    ['.*', ['', 'x\ny\n', '\u0000'], []],
  ],
  'quantifiers repeat the shortest preceding pattern': [
    ['a+b+', ['aaabbb'], ['ab a']], // doc
    ['aa+bb+', ['aaabbb'], ['abbb']], // doc
    ['a+.+', ['aaabbb'], ['a']], // doc
    ['aa+bbb+', ['aaabbb'], ['aabb']], // doc
    ['a*b*', ['aaabbb', ''], ['ba']], // doc
    ['a*b*c*', ['aaabbb'], ['cb']], // doc
    ['.*bbb.*', ['aaabbb'], ['aaabb']], // doc
    ['aaa*bbb*', ['aaabbb', 'aabb'], ['abb']], // doc
    ['aaa?bbb?', ['aaabbb'], ['abb']], // doc
    ['aaaa?bbbb?', ['aaabbb'], ['aabb']], // doc
    ['.....?.?', ['aaabbb'], ['aaa']], // doc
    ['aa?bb?', ['ab', 'aabb'], ['aaabbb']], // doc
    ['a{3}b{3}', ['aaabbb'], ['aabbb']], // doc
    ['a{2,4}b{2,4}', ['aaabbb'], ['abbb']], // doc
    ['a{2,}b{2,}', ['aaabbb', 'aabbbbbbb'], ['abb']], // doc
    ['.{3}.{3}', ['aaabbb'], ['aaabb']], // doc
    ['a{4}b{4}', ['aaaabbbb'], ['aaabbb']], // doc
    ['a{4,6}b{4,6}', ['aaaabbbb'], ['aaabbb']], // doc
    ['a{4,}b{4,}', ['aaaaaabbbb'], ['aaabbb']], // doc
    ['a{0}', [''], ['a']],
    ['a+?', ['', 'a', 'aaa'], ['b']], // not lazy: an optional a+
    ['a**', ['', 'aaa'], ['b']],
  ],
  'grouping and alternation (alternation takes the longest patterns)': [
    ['(ab)+', ['ababab'], ['aba']], // doc
    ['ab(ab)+', ['ababab'], ['ab']], // doc
    ['(..)+', ['ababab'], ['ababa']], // doc
    // the doc lists "(...)+" as no match for "ababab", but six characters are two groups of three
    ['(...)+', ['abcabc', 'ababab'], ['abcab']],
    ['(ab)*', ['ababab', ''], ['b']], // doc
    ['abab(ab)?', ['ababab', 'abab'], ['ab']], // doc
    ['ab(ab)?', ['abab'], ['ababab']], // doc
    ['(ab){3}', ['ababab'], ['abab']], // doc
    ['(ab){1,2}', ['abab'], ['ababab']], // doc
    ['aabb|bbaa', ['aabb', 'bbaa'], ['aabbaa']], // doc
    ['aacc|bb', ['bb', 'aacc'], ['aabb']], // doc
    ['aa(cc|bb)', ['aabb'], ['aa']], // doc
    ['a+|b+', ['aa', 'b'], ['aabb']], // doc
    ['a+b+|b+a+', ['aabb', 'ba'], ['aba']], // doc
    ['a+(b|c)+', ['aabb', 'acb'], ['a']], // doc
    ['()', [''], ['a']],
    ['a()b', ['ab'], ['a b']],
  ],
  'character classes': [
    ['ab[cd]+', ['abcd'], ['abce']], // doc
    ['[a-d]+', ['abcd'], ['abcde']], // doc
    ['[^a-d]+', ['xyz'], ['abcd']], // doc
    ['[abc]', ['a', 'c'], ['d', 'ab']],
    ['[-abc]', ['-', 'b'], ['d']], // doc: a leading dash is literal
    ['[abc\\-]', ['-', 'a'], ['d']], // doc: an escaped dash is literal
    ['[^abc\\-]', ['d'], ['-', 'a']], // doc
    ['[^-abc]', ['d'], ['-']], // doc
    ['[]a]', [']', 'a'], ['b']], // ] as the first item is literal
    ['[a.*+?(]', ['.', '*', '(', 'a'], ['b']], // operators are literal in a class
    ['[^a]', ['b', '\n', '\u{1F600}'], ['a', '']],
    ['[\\d.]+', ['1.2', '.'], ['a']],
    ['[\\w-]+', ['ab-c_9'], ['a b']],
    ['[^\\s]+', ['abc'], ['a c', 'a\tc']],
  ],
  'predefined classes are ASCII, and \\s is [ \\t\\n\\r]': [
    ['\\d+', ['0123456789'], ['12a', '\u0663']],
    ['\\D', ['a', '\u0663'], ['1']],
    ['\\s', [' ', '\t', '\n', '\r'], ['\f', '\v', '\u00a0', '\u2028', 'a']],
    ['\\S', ['x', '\f', '\u00a0'], [' ', '\t']],
    ['\\w+', ['a_Z9'], ['é', '-', 'a b']],
    ['\\W', ['-', 'é', ' '], ['a', '_', '7']],
  ],
  'escapes and quoted strings': [
    ['\\.', ['.'], ['a']],
    ['a\\+', ['a+'], ['aa']],
    ['\\\\', ['\\'], ['\\\\']],
    ['\\@\\#\\&\\~\\<\\>', ['@#&~<>'], []],
    ['\\1\\%', ['1%'], []], // a backslash before a non-letter just makes it literal
    ['"a.b"', ['a.b'], ['axb']],
    ['john"@smith.com"', ['john@smith.com'], ['johnx@smith.com']], // doc
    ['"a\\"', ['a\\'], ['a']], // no escapes inside quotes
    ['""', [''], ['a']],
    ['"(|)"+', ['(|)(|)'], ['(']],
  ],
  'optional operators that Elasticsearch enables': [
    ['@', ['', 'anything\nat all'], []],
    ['a@', ['a', 'abc'], ['ba']],
    ['#', [], ['', 'a']],
    ['a|#', ['a'], ['', '#']],
    ['foo<1-100>', ['foo80', 'foo080', 'foo100', 'foo1', 'foo0001'], ['foo0', 'foo101', 'foo', 'foo1000']], // doc: foo80
    ['foo<01-100>', ['foo80', 'foo080'], ['foo101']], // doc
    ['foo<001-100>', ['foo080', 'foo100', 'foo001'], ['foo80', 'foo0080', 'foo1']], // doc: not foo80
    ['<10-5>', ['5', '10', '07'], ['4', '11']], // bounds in either order
  ],
  "Lucene's grammar reads these as plain characters": [
    ['|a', ['|a'], ['a', '']],
    ['a||b', ['a', '|b'], ['b', 'a||b']],
    ['*a', ['*a'], ['a']],
    ['{1}', ['{1}'], ['']],
    [')a', [')a'], ['a']],
    ['&a', ['&a'], ['a']],
  ],
};

describe('regex: Lucene syntax and semantics', () => {
  for (const [topic, rows] of Object.entries(CASE_SENSITIVE)) {
    describe(topic, () => {
      it.each(rows)('%s', (pattern, matching, notMatching) => {
        const test = matcher(pattern);
        for (const value of matching) expect([value, test(value)]).toEqual([value, true]);
        for (const value of notMatching) expect([value, test(value)]).toEqual([value, false]);
      });
    });
  }
});

describe('regex~: case-insensitive like : and like~ (value lower-cased, pattern case-folded)', () => {
  it.each<Row>([
    ['abc', ['ABC', 'aBc', 'abc'], ['abd']],
    ['[a-z]+', ['HeLLo'], ['héllo', 'hello!']],
    ['[^a]', ['b', 'B'], ['a', 'A']],
    ['"GET" .*', ['get /', 'GeT /x'], ['post /']],
    ['é+', ['ÉÉ', 'éÉ'], ['e']],
    ['\\w+', ['ABC_1'], ['A-B']],
    ['\\W', ['-'], ['A', 's', 'S']],
    ['[^\\W]', ['a', 'S', 'K'], ['-']],
    ['[^\\w-]', ['!', '\u017f'], ['A', '-']],
    ['.*curl.*', ['/usr/bin/CURL -O x'], ['wget']],
  ])('%s', (pattern, matching, notMatching) => {
    const test = matcher(pattern, true);
    for (const value of matching) expect([value, test(value)]).toEqual([value, true]);
    for (const value of notMatching) expect([value, test(value)]).toEqual([value, false]);
  });
});

describe('regex: pattern lists and values', () => {
  it('takes any of several patterns, joined with | as Elasticsearch does', () => {
    const query = compileQuery('any where f regex ("a+", "b+", "[0-9]{2}")');
    if (query.kind !== 'event') throw new Error('expected an event query');
    expect(['aaa', 'bb', '42', 'ab', '4'].map((f) => query.matches({ f }))).toEqual([true, true, true, false, false]);
  });

  it('joins before parsing, so an empty pattern in a list makes a literal | (Match.java joins with "|")', () => {
    const query = compileQuery('any where f regex ("", "a")');
    if (query.kind !== 'event') throw new Error('expected an event query');
    expect(['|a', 'a', ''].map((f) => query.matches({ f }))).toEqual([true, false, false]);
  });

  it('matches any element of a multi-valued field, and never a missing one', () => {
    const test = matcher('-[a-z]*c');
    expect(test(['x', '-abc'])).toBe(true);
    expect(test(['x', 'y'])).toBe(false);
    expect(test(undefined)).toBe(false);
    expect(test([])).toBe(false);
  });

  it('reads EQL string escapes first: "\\\\d" in a double-quoted string is the class \\d', () => {
    const query = compileQuery('any where f regex "\\\\d+\\\\.[0-9]"');
    if (query.kind !== 'event') throw new Error('expected an event query');
    expect(query.matches({ f: '12.5' })).toBe(true);
    expect(query.matches({ f: '12x5' })).toBe(false);
  });
});

describe('regex: linear time', () => {
  it('.*(a+)+= on 10,000 a characters terminates and does not match', () => {
    const query = compileQuery('process where process.command_line regex ".*(a+)+="');
    if (query.kind !== 'event') throw new Error('expected an event query');
    const started = Date.now();
    const result = query.matches({ event: { category: 'process' }, process: { command_line: 'a'.repeat(10_000) } });
    expect(result).toBe(false);
    expect(Date.now() - started).toBeLessThan(2_000); // generous: V8's RegExp needed 0.78 s for 24 characters
  });

  it('stays linear for regex~ and for nested counted repeats', () => {
    const lower = matcher('(.*(%[0-9a-f]{2}.*){4,}.*)x', true);
    expect(lower('%41'.repeat(3) + 'a'.repeat(20_000))).toBe(false);
    const counted = matcher('(a|aa){1,20}(a|aa){1,20}b');
    expect(counted('a'.repeat(5_000))).toBe(false);
  });
});
