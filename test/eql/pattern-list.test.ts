// A combined pattern list must answer exactly like trying each pattern on its own.
import { describe, expect, it } from 'vitest';
import { compilePatternList, compileWildcard } from '../../src/eql/wildcard.js';

function eachPattern(patterns: string[], caseInsensitive: boolean): (value: string) => boolean {
  const matchers = patterns.map((p) => compileWildcard(p, caseInsensitive));
  return (value) => matchers.some((m) => m(value));
}

describe('compilePatternList', () => {
  it('sorts patterns by shape and still matches each one', () => {
    const list = compilePatternList(['/tmp/*', '*.sh', '*curl*', 'bash', 'py?hon*', 'a*b*c'], false);
    expect(['/tmp/x', 'run.sh', 'x curl y', 'bash', 'python3', 'a-b-c'].map(list)).toEqual([true, true, true, true, true, true]);
    expect(['/tmpx', 'run.shx', 'cur', 'Bash', 'pyhon', 'a-c', ''].map(list)).toEqual([false, false, false, false, false, false, false]);
  });

  it('lower-cases the patterns when case-insensitive (callers lower-case the value)', () => {
    const list = compilePatternList(['/TMP/*', '*.SH', 'BASH'], true);
    expect(['/tmp/x', 'a.sh', 'bash', 'BASH'].map(list)).toEqual([true, true, true, false]);
  });

  it('treats a lone star as matching everything, the empty string included', () => {
    expect(compilePatternList(['x', '*'])('')).toBe(true);
    expect(compilePatternList(['**'])('abc')).toBe(true);
    expect(compilePatternList(['x'])('')).toBe(false);
  });

  it('agrees with the pattern-by-pattern matcher on random lists and values', () => {
    let seed = 12345;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const alphabet = ['a', 'b', 'A', '/', '.', '*', '?', '\\', 'é', ' '];
    const word = (max: number): string => Array.from({ length: next(max + 1) }, () => alphabet[next(alphabet.length)]).join('');
    let agreedTrue = 0;
    for (let round = 0; round < 400; round++) {
      const patterns = Array.from({ length: 1 + next(6) }, () => word(5));
      const caseInsensitive = next(2) === 1;
      const combined = compilePatternList(patterns, caseInsensitive);
      const reference = eachPattern(patterns, caseInsensitive);
      for (let v = 0; v < 30; v++) {
        const raw = word(7).replace(/[*?]/g, '');
        const value = caseInsensitive ? raw.toLowerCase() : raw;
        const expected = reference(value);
        expect(combined(value), `${JSON.stringify(patterns)} on ${JSON.stringify(value)}`).toBe(expected);
        if (expected) agreedTrue++;
      }
    }
    expect(agreedTrue).toBeGreaterThan(500);
  });
});
