/**
 * Wildcard patterns for `:`, `like` and `like~`: `*` matches any run of characters (also none),
 * `?` exactly one; everything else, backslash included, is literal.
 *
 * Why this cannot blow up: a pattern is split at its stars into segments. The first segment must
 * be a prefix, the last a suffix, and each middle segment is found at its leftmost position after
 * the previous one. Taking the leftmost occurrence is always safe for star-separated segments (a
 * later occurrence leaves strictly less room for the rest), so the matcher never backtracks: the
 * work is at most (value length x segment length) per segment, and a plain `indexOf` when the
 * segment has no `?`. 'a*a*a*...b' against 100 KB of 'a' is a few linear scans, not an exponential
 * search.
 *
 * Case-insensitive matching lower-cases the pattern once here; callers lower-case the value.
 *
 * A list of patterns (`process.args : ("*curl*", "/tmp/*", …)`, often dozens long in detection
 * rules) compiles to one matcher that sorts the patterns by shape: exact strings in a Set,
 * `lit*` prefixes bucketed by first character, `*lit` suffixes by last character, `*lit*` as one
 * search for all such substrings (infix-search.ts), and only the other shapes as general matchers. A value then meets the
 * few patterns that could match it instead of calling one closure per pattern.
 */

import { compileContainsAny } from './infix-search.js';

export type StringMatcher = (value: string) => boolean;

export function hasWildcard(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

export function compileWildcard(pattern: string, caseInsensitive = false): StringMatcher {
  const source = caseInsensitive ? pattern.toLowerCase() : pattern;
  if (!hasWildcard(source)) return (value) => value === source;
  const segments = source.split('*');
  const prefix = segments[0];
  if (segments.length === 1) {
    // only '?': fixed length
    return (value) => value.length === source.length && segmentAt(value, 0, prefix);
  }
  const suffix = segments[segments.length - 1];
  const middle = segments.slice(1, -1).filter((s) => s.length > 0);
  const noQuestion = !source.includes('?');
  if (noQuestion && middle.length === 0) {
    if (prefix === '' && suffix === '') return () => true;
    if (prefix === '') return (value) => value.endsWith(suffix);
    if (suffix === '') return (value) => value.startsWith(prefix);
    return (value) => value.length >= prefix.length + suffix.length && value.startsWith(prefix) && value.endsWith(suffix);
  }
  if (noQuestion && prefix === '' && suffix === '' && middle.length === 1) {
    const needle = middle[0];
    return (value) => value.includes(needle);
  }
  const minLength = prefix.length + suffix.length + middle.reduce((n, s) => n + s.length, 0);
  const finders = middle.map((segment) => (segment.includes('?') ? (v: string, from: number) => findSegment(v, segment, from) : (v: string, from: number) => v.indexOf(segment, from)));
  return (value) => {
    if (value.length < minLength) return false;
    if (!segmentAt(value, 0, prefix)) return false;
    const suffixStart = value.length - suffix.length;
    if (!segmentAt(value, suffixStart, suffix)) return false;
    let position = prefix.length;
    for (let i = 0; i < finders.length; i++) {
      const found = finders[i](value, position);
      if (found < 0) return false;
      position = found + middle[i].length;
      if (position > suffixStart) return false;
    }
    return true;
  };
}

/** Does `segment` (which may contain '?') match `value` at `offset`? */
function segmentAt(value: string, offset: number, segment: string): boolean {
  if (offset < 0 || offset + segment.length > value.length) return false;
  for (let i = 0; i < segment.length; i++) {
    const p = segment.charCodeAt(i);
    if (p !== 63 && p !== value.charCodeAt(offset + i)) return false;
  }
  return true;
}

/** Leftmost offset >= from where `segment` (with '?') matches, or -1. */
function findSegment(value: string, segment: string, from: number): number {
  const last = value.length - segment.length;
  for (let offset = from; offset <= last; offset++) {
    if (segmentAt(value, offset, segment)) return offset;
  }
  return -1;
}

/** One matcher for a list of patterns: true when any of them matches (see the header). */
export function compilePatternList(patterns: readonly string[], caseInsensitive = false): StringMatcher {
  const exact = new Set<string>();
  const prefixes = new Map<number, string[]>();
  const suffixes = new Map<number, string[]>();
  const infixes: string[] = [];
  const general: StringMatcher[] = [];
  const bucket = (map: Map<number, string[]>, code: number, text: string): void => {
    const list = map.get(code);
    if (list === undefined) map.set(code, [text]);
    else list.push(text);
  };
  for (const raw of patterns) {
    const pattern = caseInsensitive ? raw.toLowerCase() : raw;
    if (!hasWildcard(pattern)) {
      exact.add(pattern);
      continue;
    }
    const segments = pattern.split('*');
    if (pattern.includes('?') || segments.length > 3) general.push(compileWildcard(pattern));
    else if (segments.every((segment) => segment === '')) return () => true;
    else if (segments.length === 2 && segments[1] === '') bucket(prefixes, pattern.charCodeAt(0), segments[0]);
    else if (segments.length === 2 && segments[0] === '') bucket(suffixes, pattern.charCodeAt(pattern.length - 1), segments[1]);
    else if (segments.length === 3 && segments[0] === '' && segments[2] === '' && segments[1] !== '') infixes.push(segments[1]);
    else general.push(compileWildcard(pattern));
  }
  const hasExact = exact.size > 0;
  const hasPrefixes = prefixes.size > 0;
  const hasSuffixes = suffixes.size > 0;
  const containsInfix = infixes.length === 0 ? null : compileContainsAny(infixes);
  return (value) => {
    if (hasExact && exact.has(value)) return true;
    if (hasPrefixes) {
      const list = prefixes.get(value.charCodeAt(0));
      if (list !== undefined) for (let i = 0; i < list.length; i++) if (value.startsWith(list[i])) return true;
    }
    if (hasSuffixes) {
      const list = suffixes.get(value.charCodeAt(value.length - 1));
      if (list !== undefined) for (let i = 0; i < list.length; i++) if (value.endsWith(list[i])) return true;
    }
    if (containsInfix !== null && containsInfix(value)) return true;
    for (let i = 0; i < general.length; i++) if (general[i](value)) return true;
    return false;
  };
}
