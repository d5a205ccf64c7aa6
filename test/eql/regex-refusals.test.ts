/**
 * What `regex` refuses at compile time, with which code and where: constructs Lucene accepts but
 * this engine cannot run faithfully (EQL0208), patterns Lucene itself rejects (EQL0203), and the
 * regex limits (EQL0304), each tested on both sides.
 */
import { describe, expect, it } from 'vitest';
import { compileQuery, DEFAULT_LIMITS } from '../../src/eql/index.js';
import { eqlErrorOf as errorOf } from '../support/helpers.js';

describe('regex refusals', () => {
  it.each([
    // constructs Lucene runs that the linear-time engine cannot (or that Lucene versions disagree on)
    ['any where f regex "ab~cd"', "EQL0208 unsupported regular expression: complement '~' is not supported", 'any where f regex "ab~cd"\n                     ^'],
    ['any where f regex "aaa.+&.+bbb"', "EQL0208 unsupported regular expression: intersection '&' is not supported", 'any where f regex "aaa.+&.+bbb"\n                        ^'],
    ['any where f regex~ "@&~(foo.+)"', "EQL0208 unsupported regular expression: intersection '&' is not supported", 'any where f regex~ "@&~(foo.+)"\n                     ^'],
    ['any where f regex """[\\.-z]"""', "EQL0208 unsupported regular expression: an escaped character before '-' in a class", 'any where f regex """[\\.-z]"""\n                      ^^^'],
    ['any where f regex "<\uff11-5>"', "EQL0208 unsupported regular expression: interval bound '\uff11' is not written in plain ASCII digits", 'any where f regex "<\uff11-5>"\n                   ^^^^^'],
    // patterns Lucene rejects
    ['any where f regex "("', 'EQL0203 invalid regular expression: unexpected end-of-string', 'any where f regex "("\n                    ^'],
    ['any where f regex "a)"', 'EQL0203 invalid regular expression: end-of-string expected at position 1', 'any where f regex "a)"\n                    ^'],
    ['any where f regex """a\\nb"""', 'EQL0203 invalid regular expression: invalid character class \\n', 'any where f regex """a\\nb"""\n                      ^^'],
    ['any where f regex "a{3,2}"', 'EQL0203 invalid regular expression: invalid repetition range(out of order): 3..2', 'any where f regex "a{3,2}"\n                    ^^^^^'],
    ['any where f regex "a{x}"', 'EQL0203 invalid regular expression: integer expected at position 2', 'any where f regex "a{x}"\n                     ^'],
    ['any where f regex "a{99999999999}"', 'EQL0203 invalid regular expression: number out of range for a Java int', undefined],
    ['any where f regex "[z-a]"', 'EQL0203 invalid regular expression: invalid range: from (122) cannot be > to (97)', 'any where f regex "[z-a]"\n                    ^^^'],
    ['any where f regex "[abc"', "EQL0203 invalid regular expression: expected ']' at position 4", undefined],
    ['any where f regex """"abc"""', `EQL0203 invalid regular expression: expected '"' at position 4`, undefined],
    ['any where f regex "<ip>"', "EQL0203 invalid regular expression: 'ip' not found", 'any where f regex "<ip>"\n                   ^^^^'],
    ['any where f regex "<1-2-3>"', 'EQL0203 invalid regular expression: interval syntax error at position 6', undefined],
    ['any where f regex "a<5"', "EQL0203 invalid regular expression: expected '>' at position 3", undefined],
  ])('%s', (query, message, rendered) => {
    const error = errorOf(() => compileQuery(query));
    expect(error.message.startsWith(message)).toBe(true);
    expect(error.code).toBe(message.slice(0, 7));
    if (rendered !== undefined) expect(error.render()).toBe(`${error.message}\n${rendered}`);
  });

  it('points at the pattern of a list that is wrong', () => {
    const error = errorOf(() => compileQuery('any where f regex ("a+", "b~", "c")'));
    expect(error.code).toBe('EQL0208');
    expect(error.render().split('\n').slice(1)).toEqual(['any where f regex ("a+", "b~", "c")', '                           ^']);
  });

  it('covers the whole literal when EQL escapes make its text differ from the pattern', () => {
    const error = errorOf(() => compileQuery('any where f regex "\\t~"'));
    expect(error.code).toBe('EQL0208');
    expect(error.render().split('\n').slice(1)).toEqual(['any where f regex "\\t~"', '                  ^^^^^']);
  });

  it('refuses in sequences and in function-valued operands too', () => {
    expect(errorOf(() => compileQuery('sequence [a where x regex "a&b"] [b where true]')).code).toBe('EQL0208');
    expect(errorOf(() => compileQuery('any where concat(x, "y") regex~ "~y"')).code).toBe('EQL0208');
  });

  it('accepts escaped operators and a dash after an escaped letter class', () => {
    expect(() => compileQuery('any where f regex """a\\~b\\&c\\<1-2\\>[\\w-.][\\-_]"""')).not.toThrow();
  });
});

describe('regex limits', () => {
  const query = (patterns: string[]): string => `any where f regex (${patterns.map((p) => `"${p}"`).join(', ')})`;

  it('are part of the frozen defaults', () => {
    expect(DEFAULT_LIMITS.maxRegexLength).toBe(1_000);
    expect(DEFAULT_LIMITS.maxRegexProgramSize).toBe(2_000);
  });

  it('pattern length: at the limit passes, one over fails; a list counts joined with |', () => {
    expect(() => compileQuery(query(['a'.repeat(1_000)]))).not.toThrow();
    const error = errorOf(() => compileQuery(query(['a'.repeat(1_001)])));
    expect(error.code).toBe('EQL0304');
    expect(error.detail).toBe('regular expression is 1001 characters long, the limit is 1000');
    expect(() => compileQuery(query(['a'.repeat(500), 'b'.repeat(499)]))).not.toThrow();
    const list = errorOf(() => compileQuery(query(['a'.repeat(500), 'b'.repeat(500)])));
    expect(list.code).toBe('EQL0304');
    expect([list.column, list.length]).toEqual([20, 1_006]); // the whole list, from the first quote to the last
  });

  it('pattern length follows a limit passed in', () => {
    const limits = { maxRegexLength: 10 };
    expect(() => compileQuery(query(['a'.repeat(10)]), { limits })).not.toThrow();
    expect(errorOf(() => compileQuery(query(['a'.repeat(11)]), { limits })).code).toBe('EQL0304');
  });

  it('program size: at the limit passes, one under fails', () => {
    const pattern = '[0-9]{1,3}(\\\\.[0-9]{1,3}){3}';
    const size = programSizeOf(pattern);
    expect(size).toBeGreaterThan(10);
    expect(() => compileQuery(query([pattern]), { limits: { maxRegexProgramSize: size } })).not.toThrow();
    const error = errorOf(() => compileQuery(query([pattern]), { limits: { maxRegexProgramSize: size - 1 } }));
    expect(error.code).toBe('EQL0304');
    expect(error.detail).toBe(`regular expression compiles to ${size} instructions, the limit is ${size - 1}`);
  });

  it('the default program size admits a 1,000-fold repeat and refuses a larger program', () => {
    expect(() => compileQuery(query(['a{1000}']))).not.toThrow();
    expect(errorOf(() => compileQuery(query(['[a-z]{1,999}[0-9]{1,999}']))).code).toBe('EQL0304');
  });

  it("RE2's repetition bound: 1,000 in total, nested counts multiplied", () => {
    expect(errorOf(() => compileQuery(query(['a{1001}']))).detail).toBe('regular expression repeats more than 1,000 times in total (nested counts multiply)');
    expect(() => compileQuery(query(['(a{10}){100}']))).not.toThrow();
    expect(errorOf(() => compileQuery(query(['(a{10}){101}']))).code).toBe('EQL0304');
  });
});

/** The program size the engine reports for a pattern, read from the limit error. */
function programSizeOf(pattern: string): number {
  const error = errorOf(() => compileQuery(`any where f regex "${pattern}"`, { limits: { maxRegexProgramSize: 1 } }));
  const size = /compiles to (\d+) instructions/.exec(error.detail);
  if (size === null) throw new Error(error.message);
  return Number(size[1]);
}
