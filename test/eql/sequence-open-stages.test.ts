// A later stage is only evaluated while its predecessor holds an open partial sequence; the
// bookkeeping behind that must follow every way a partial leaves (advance, replace, until,
// eviction, expiry), or a sequence would be missed.
import { describe, expect, it } from 'vitest';
import { compileQuery, type EqlEvent } from '../../src/eql/index.js';

function run(query: string, events: EqlEvent[], maxOpenSequences?: number): string[] {
  const compiled = compileQuery(query);
  if (compiled.kind !== 'sequence') throw new Error('not a sequence');
  const matcher = compiled.createMatcher(maxOpenSequences === undefined ? {} : { maxOpenSequences });
  return events.flatMap((e) => matcher.push(e).map((m) => m.events.map((x) => x.id).join('>')));
}

const at = (id: number, k: string, step: string, ms = id * 1000): EqlEvent => ({ id, k, step, '@timestamp': ms });

describe('sequence stages gated on open partials', () => {
  it('finds sequences again after partials left by advance, until and replacement', () => {
    const q = 'sequence by k [any where step == "a"] [any where step == "b"] until [any where step == "u"]';
    const events = [at(1, 'x', 'b'), at(2, 'x', 'a'), at(3, 'x', 'b'), at(4, 'x', 'b'), at(5, 'x', 'a'), at(6, 'x', 'u'), at(7, 'x', 'b'), at(8, 'x', 'a'), at(9, 'x', 'a'), at(10, 'x', 'b')];
    expect(run(q, events)).toEqual(['2>3', '9>10']);
  });

  it('finds sequences again after eviction and expiry', () => {
    const evicting = 'sequence by k [any where step == "a"] [any where step == "b"]';
    const events = [at(1, 'x', 'a'), at(2, 'y', 'a'), at(3, 'x', 'b'), at(4, 'y', 'b'), at(5, 'z', 'a'), at(6, 'z', 'b')];
    expect(run(evicting, events, 1)).toEqual(['2>4', '5>6']);
    const expiring = 'sequence by k with maxspan=2s [any where step == "a"] [any where step == "b"]';
    expect(run(expiring, [at(1, 'x', 'a'), at(5, 'x', 'b'), at(6, 'x', 'a'), at(7, 'x', 'b')])).toEqual(['6>7']);
  });

  it('counts runs stages separately', () => {
    const q = 'sequence by k [any where step == "a"] with runs=3';
    expect(run(q, [at(1, 'x', 'a'), at(2, 'x', 'a'), at(3, 'x', 'a'), at(4, 'x', 'a')])).toEqual(['1>2>3', '2>3>4']);
  });
});
