/**
 * Values, comparisons and null logic, as Elasticsearch EQL evaluates them.
 *
 * A field read from an event yields null (missing, JSON null, empty array), a scalar (string,
 * number, boolean) or a non-empty array (a multi-valued field). Literals are scalars or null.
 * Conditions are three-valued (true, false, null); an event matches only when its condition is
 * exactly true. In value position (an operand of ==, a function argument) a comparison with a
 * missing field is null; in condition position (the where-clause and and/or/not under it) the
 * index-query rules below apply: Elasticsearch turns `field OP constant` into an index query,
 * where `not` is "must not match" and a missing field simply does not match.
 *
 * | expression                         | field missing/null | field = array [a, b]                   |
 * |------------------------------------|--------------------|----------------------------------------|
 * | f == c                             | false              | true if a == c or b == c               |
 * | f != c                             | true               | true if neither a nor b == c           |
 * | f == null                          | true               | false                                  |
 * | f != null                          | false              | true                                   |
 * | f < c, f <= c, f > c, f >= c       | false              | true if any element compares true      |
 * | f in (c1, c2)                      | false              | true if any element is in the list     |
 * | f not in (c1, c2)                  | true               | true if no element is in the list      |
 * | f : "p*" / like / regex (and ~)    | false              | true if any element matches a pattern  |
 * | not (f == c)                       | true               | true if neither a nor b == c           |
 * | not <condition that is null>       | true               |                                        |
 * | expr == c where expr is null       | null (no match)    | (expr is a function or arithmetic)     |
 * | null == (f > 1)                    | true               | false                                  |
 * | (f == c) == null                   | true               | false                                  |
 * | ?f == ?g (both absent)             | true: an absent ?field is the null literal                  |
 * | f (bare field as condition)        | false              | true if any element is true            |
 * | a and/or b (value position)        | three-valued: false and null = false, true or null = true |
 * | fn(null, ...)                      | null (every function; cidrMatch too)                       |
 * | arithmetic with null               | null; integer / integer truncates; x / 0 is null          |
 *
 * Types: numbers compare numerically; strings compare by UTF-16 code units (case-sensitive), so
 * "S" < "s"; a number and a numeric string compare as numbers (a keyword field queried with a
 * number, or a numeric field with a string); any other mix of types is unequal and unordered.
 * Case-insensitive forms (`:`, `in~`, `like~`, `regex~`, `fn~`) lower-case both sides.
 */

export type Scalar = string | number | boolean;

/** Normalises what a field lookup returned: undefined and [] become null, [x] becomes x. */
export function normalizeValue(value: unknown): unknown {
  if (value === undefined) return null;
  if (Array.isArray(value)) {
    if (value.length === 0) return null;
    if (value.length === 1) return value[0] === undefined ? null : value[0];
  }
  return value;
}

/** True when a value counts as null: missing, null, or an array without a non-null element. */
export function isNullish(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isNullish(value[i])) return false;
    return true;
  }
  return false;
}

function numericString(value: string): number {
  // Number('') is 0 and Number(' 1 ') is 1; neither is a numeric keyword
  if (value.length === 0 || value.trim() !== value) return NaN;
  return Number(value);
}

/** Equality of two non-null scalars. */
export function scalarEquals(a: unknown, b: unknown): boolean {
  if (a === b) return typeof a !== 'number' || !Number.isNaN(a);
  const ta = typeof a;
  const tb = typeof b;
  if (ta === 'number' && tb === 'string') return a === numericString(b as string);
  if (ta === 'string' && tb === 'number') return numericString(a as string) === b;
  return false;
}

/** Ordering of two non-null scalars: negative, zero, positive, or null when they do not compare. */
export function scalarCompare(a: unknown, b: unknown): number | null {
  const ta = typeof a;
  const tb = typeof b;
  if (ta === 'number' && tb === 'number') return compareNumbers(a as number, b as number);
  if (ta === 'string' && tb === 'string') return a === b ? 0 : (a as string) < (b as string) ? -1 : 1;
  if (ta === 'number' && tb === 'string') return compareNumbers(a as number, numericString(b as string));
  if (ta === 'string' && tb === 'number') return compareNumbers(numericString(a as string), b as number);
  if (ta === 'boolean' && tb === 'boolean') return Number(a) - Number(b);
  return null;
}

function compareNumbers(a: number, b: number): number | null {
  if (Number.isNaN(a) || Number.isNaN(b)) return null;
  return a === b ? 0 : a < b ? -1 : 1;
}

/** Does any non-null element of `value` (or `value` itself) satisfy `test`? */
export function anyElement(value: unknown, test: (element: unknown) => boolean): boolean {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const element = value[i];
      if (element === null || element === undefined) continue;
      if (Array.isArray(element) ? anyElement(element, test) : test(element)) return true;
    }
    return false;
  }
  return test(value);
}

/** Equality of two non-null values, any element of either side. */
export function valuesEqual(a: unknown, b: unknown): boolean {
  if (!Array.isArray(a) && !Array.isArray(b)) return scalarEquals(a, b);
  return anyElement(a, (x) => anyElement(b, (y) => scalarEquals(x, y)));
}

export function lowerIfString(value: unknown): unknown {
  return typeof value === 'string' ? value.toLowerCase() : value;
}

/** The text of a scalar as a string function or pattern sees it, or null for other values. */
export function scalarToString(value: unknown): string | null {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return null;
  }
}
