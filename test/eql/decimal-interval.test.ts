/**
 * Lucene's `<min-max>` against its definition (Automata.makeDecimalInterval): every digit string
 * up to five characters is checked against a direct reading of the rule.
 */
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { decimalIntervalExpression } from '../../src/eql/decimal-interval.js';

/** The rule: digits only; exactly `digits` characters when digits > 0; value within the bounds. */
function accepts(value: string, min: number, max: number, digits: number): boolean {
  if (!/^[0-9]+$/.test(value)) return false;
  if (digits > 0 && value.length !== digits) return false;
  const number = Number(value);
  return number >= min && number <= max;
}

function allDigitStrings(maxLength: number): string[] {
  const result: string[] = [''];
  let layer = [''];
  for (let length = 1; length <= maxLength; length++) {
    layer = layer.flatMap((prefix) => [...'0123456789'].map((digit) => prefix + digit));
    result.push(...layer);
  }
  return result;
}

describe('decimal interval', () => {
  const values = [...allDigitStrings(5), 'a', '1a', ' 1', '-1', '+1'];

  it.each([
    [0, 0, 0],
    [0, 9, 0],
    [1, 100, 0],
    [5, 123, 0],
    [80, 80, 0],
    [7, 4321, 0],
    [0, 99999, 0],
    [9, 10, 0],
    [1, 100, 3],
    [0, 5, 1],
    [13, 87, 2],
    [5, 10, 2],
    [109, 990, 3],
    [1000, 1999, 4],
    [123, 45678, 5],
    [0, 0, 4],
  ])('<%i-%i> with %i fixed digits', (min, max, digits) => {
    const program = RE2JS.compile(decimalIntervalExpression(min, max, digits));
    const wrong = values.filter((value) => program.testExact(value) !== accepts(value, min, max, digits));
    expect(wrong).toEqual([]);
  });

  it('stays small for the widest Java int interval', () => {
    const expression = decimalIntervalExpression(0, 2_147_483_647, 10);
    expect(expression.length).toBeLessThan(1_000);
    const program = RE2JS.compile(expression);
    expect(program.testExact('2147483647')).toBe(true);
    expect(program.testExact('2147483648')).toBe(false);
    expect(program.testExact('0000000000')).toBe(true);
    expect(program.testExact('999')).toBe(false);
  });
});
