/**
 * Lucene's numeric interval `<min-max>` as an RE2 expression over digits, accepting exactly the
 * strings Lucene's `Automata.makeDecimalInterval(min, max, digits)` accepts:
 * - digits > 0 (both bounds written with the same number of digits): decimal numbers in
 *   [min, max] written with exactly `digits` digits, zero-padded (`<01-10>` takes "07", not "7");
 * - digits = 0: numbers in [min, max] with any number of leading zeros ("7", "07", "0007").
 *
 * A fixed-width range between two digit strings of the same length is the classic split: share
 * the common prefix, then the lower edge (first digit of `low`, rest from low's rest up to 9...9),
 * the full middle (digits strictly between, rest free), and the upper edge (first digit of
 * `high`, rest from 0...0 up to high's rest). The result has O(width²) size: at most ten digits.
 */

export function decimalIntervalExpression(min: number, max: number, digits: number): string {
  if (digits > 0) return fixedWidthRange(pad(min, digits), pad(max, digits));
  const low = String(min);
  const high = String(max);
  const byLength: string[] = [];
  for (let width = low.length; width <= high.length; width++) {
    const from = width === low.length ? low : '1' + '0'.repeat(width - 1);
    const to = width === high.length ? high : '9'.repeat(width);
    byLength.push(fixedWidthRange(from, to));
  }
  return `0*${group(byLength)}`;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/** Digit strings of `low.length` characters, between `low` and `high` inclusive (same length, low <= high). */
function fixedWidthRange(low: string, high: string): string {
  if (low.length === 0) return '';
  if (low === high) return low;
  const first = low[0];
  const last = high[0];
  const restWidth = low.length - 1;
  if (first === last) return first + fixedWidthRange(low.slice(1), high.slice(1));
  const lowRest = low.slice(1);
  const highRest = high.slice(1);
  const anyRest = restWidth === 0 ? '' : `[0-9]{${restWidth}}`;
  const alternatives: string[] = [];
  // the lower edge, widened to the whole first digit when its rest is 0...0
  let middleFrom = Number(first) + 1;
  if (/^0*$/.test(lowRest)) middleFrom--;
  else alternatives.push(first + group([fixedWidthRange(lowRest, '9'.repeat(restWidth))]));
  // the upper edge, likewise when its rest is 9...9
  let middleTo = Number(last) - 1;
  let upper: string | null = null;
  if (/^9*$/.test(highRest)) middleTo++;
  else upper = last + group([fixedWidthRange('0'.repeat(restWidth), highRest)]);
  if (middleFrom <= middleTo) alternatives.push(digitClass(middleFrom, middleTo) + anyRest);
  if (upper !== null) alternatives.push(upper);
  return group(alternatives);
}

function digitClass(from: number, to: number): string {
  return from === to ? String(from) : `[${from}-${to}]`;
}

function group(alternatives: string[]): string {
  return alternatives.length === 1 && !alternatives[0].includes('|') ? alternatives[0] : `(?:${alternatives.join('|')})`;
}
