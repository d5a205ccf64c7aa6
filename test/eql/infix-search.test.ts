import { describe, expect, it } from 'vitest';
import { compileContainsAny } from '../../src/eql/infix-search.js';
import { compilePatternList } from '../../src/eql/wildcard.js';
import { random } from '../support/random.js';

describe('compileContainsAny', () => {
  it('answers as one includes per string would, short lists and long, one-character strings and non-ASCII too', () => {
    const next = random(5);
    const alphabet = 'ab./-:é€\u0101x';
    const word = (length: number) => Array.from({ length }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
    for (let round = 0; round < 300; round++) {
      const needles = Array.from({ length: 1 + Math.floor(next() * 20) }, () => word(1 + Math.floor(next() * 4)));
      const contains = compileContainsAny(needles);
      for (let i = 0; i < 40; i++) {
        const text = word(Math.floor(next() * 30));
        expect(contains(text), `${JSON.stringify(needles)} in ${JSON.stringify(text)}`).toBe(needles.some((n) => text.includes(n)));
      }
    }
  });

  it('holds for every text when a string is empty, and never for no strings', () => {
    expect(compileContainsAny(['x', '', 'y'])('abc')).toBe(true);
    expect(compileContainsAny([])('abc')).toBe(false);
  });

  it('serves a long *infix* pattern list', () => {
    const pools = Array.from({ length: 40 }, (_, i) => `*pool${i}.example*`);
    const matches = compilePatternList([...pools, 'exact', 'pre*'], true);
    expect(matches('xmrig -o stratum+tcp://pool17.example:3333')).toBe(true);
    expect(matches('xmrig -o stratum+tcp://pool40.example:3333')).toBe(false);
    expect(matches('prefix')).toBe(true);
    expect(matches('exact')).toBe(true);
  });
});
