/**
 * Writes a Lucene regex tree (regex-parser.ts) in RE2 syntax for re2js, matched against the whole
 * value. Every construct keeps Lucene's meaning:
 *
 * | Lucene                   | RE2                                  | note                                  |
 * |--------------------------|--------------------------------------|---------------------------------------|
 * | abc, \x, "a.b"           | abc, \x{2e} ...                      | every non-alphanumeric as \x{hex}      |
 * | .                        | (?s:.)                               | any code point, newline included       |
 * | @                        | (?s:.*)                              |                                       |
 * | #                        | [^\x{0}-\x{10ffff}]                  | matches nothing                        |
 * | () ""                    | (?:)                                 |                                       |
 * | a|b, ab                  | (?:a|b), ab                          |                                       |
 * | x? x* x+ x{n} x{n,} x{n,m} | (?:x)? (?:x)* ...                  | grouped, so `x+?` stays "optional x+"  |
 * | [a-c\-] [^a]             | [\x{61}-\x{63}\x{2d}] [^\x{61}]      |                                       |
 * | \d \s \w \D \S \W        | [0-9] [\t\n\r ] [0-9A-Z_a-z], negated | Lucene's ASCII sets, never case-folded |
 * | <n-m>                    | digit ranges (decimal-interval.ts)   |                                       |
 *
 * Case-insensitive (`regex~`): the whole expression is wrapped in (?i:...), RE2's Unicode simple
 * case folding, and the caller lower-cases the value as for `:` and `like~`. Predefined classes
 * stay exact, as in Lucene: they are written under (?-i:...), and a negated class that mixes them
 * with folded characters gets back the characters RE2 would otherwise drop from it (see
 * negatedMixedClass).
 */
import { RE2JS } from 're2js';
import { decimalIntervalExpression } from './decimal-interval.js';
import type { ClassItem, PredefinedClass, RegexNode } from './regex-parser.js';

type Range = readonly [number, number];

const MAX_CODE_POINT = 0x10ffff;
const PREDEFINED_RANGES: Record<PredefinedClass, readonly Range[]> = {
  d: [[0x30, 0x39]],
  s: [[0x09, 0x0a], [0x0d, 0x0d], [0x20, 0x20]],
  w: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
  D: complement([[0x30, 0x39]]),
  S: complement([[0x09, 0x0a], [0x0d, 0x0d], [0x20, 0x20]]),
  W: complement([[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]]),
};
/**
 * The only characters whose simple case folding crosses the ASCII boundary the predefined
 * classes are drawn on: s/S with U+017F (long s), k/K with U+212A (Kelvin sign).
 */
const FOLDS_ACROSS_ASCII = [0x73, 0x53, 0x6b, 0x4b, 0x17f, 0x212a];

export function toRe2Syntax(node: RegexNode, caseInsensitive: boolean): string {
  const body = emit(node, caseInsensitive);
  return caseInsensitive ? `(?i:${body})` : body;
}

function emit(node: RegexNode, ci: boolean): string {
  switch (node.kind) {
    case 'union':
      return `(?:${node.alternatives.map((alternative) => emit(alternative, ci)).join('|')})`;
    case 'concat':
      return node.parts.map((part) => emit(part, ci)).join('');
    case 'repeat':
      return `(?:${emit(node.operand, ci)})${quantifier(node.min, node.max)}`;
    case 'literal':
      return node.text.length === 0 ? '(?:)' : [...node.text].map((char) => escapeCodePoint(char.codePointAt(0)!)).join('');
    case 'class':
      return emitClass(node.items, node.negated, ci);
    case 'anyChar':
      return '(?s:.)';
    case 'anyString':
      return '(?s:.*)';
    case 'emptyLanguage':
      return `[^\\x{0}-\\x{${MAX_CODE_POINT.toString(16)}}]`;
    case 'interval':
      return `(?:${decimalIntervalExpression(node.min, node.max, node.digits)})`;
    default: {
      const never: never = node;
      throw new Error(`unhandled regex node ${JSON.stringify(never)}`);
    }
  }
}

function quantifier(min: number, max: number | null): string {
  if (max === null) return min === 0 ? '*' : min === 1 ? '+' : `{${min},}`;
  if (min === 0 && max === 1) return '?';
  return min === max ? `{${min}}` : `{${min},${max}}`;
}

function escapeCodePoint(codePoint: number): string {
  const isAlphanumeric = (codePoint >= 0x30 && codePoint <= 0x39) || (codePoint >= 0x41 && codePoint <= 0x5a) || (codePoint >= 0x61 && codePoint <= 0x7a);
  return isAlphanumeric ? String.fromCharCode(codePoint) : `\\x{${codePoint.toString(16)}}`;
}

function bracket(ranges: readonly Range[], negated: boolean): string {
  const body = ranges.map(([from, to]) => (from === to ? escapeCodePoint(from) : `${escapeCodePoint(from)}-${escapeCodePoint(to)}`)).join('');
  return `[${negated ? '^' : ''}${body}]`;
}

function emitClass(items: readonly ClassItem[], negated: boolean, ci: boolean): string {
  const folded: Range[] = [];
  const exact: Range[] = [];
  for (const item of items) {
    if (item.kind === 'char') folded.push([item.codePoint, item.codePoint]);
    else if (item.kind === 'range') folded.push([item.from, item.to]);
    else exact.push(...PREDEFINED_RANGES[item.name]);
  }
  if (!ci || exact.length === 0) return bracket([...folded, ...exact], negated);
  const exactPart = `(?-i:${bracket(exact, false)})`;
  if (!negated) return folded.length === 0 ? exactPart : `(?:${bracket(folded, false)}|${exactPart})`;
  return negatedMixedClass(folded, exact);
}

/**
 * [^ folded-items predefined-items ] under case folding: Lucene takes every character that is
 * neither a folded item nor in the (unfolded) predefined set. RE2 folds the whole bracket, so it
 * also drops the fold partners of the predefined set; those can only be the characters in
 * FOLDS_ACROSS_ASCII, and the ones Lucene keeps are added back, exactly.
 */
function negatedMixedClass(folded: Range[], exact: Range[]): string {
  const foldedMatcher = folded.length === 0 ? null : RE2JS.compile(`(?i:${bracket(folded, false)})`);
  const inExact = (codePoint: number): boolean => exact.some(([from, to]) => codePoint >= from && codePoint <= to);
  const kept = FOLDS_ACROSS_ASCII.filter((codePoint) => !inExact(codePoint) && !(foldedMatcher?.testExact(String.fromCodePoint(codePoint)) ?? false));
  const main = bracket([...folded, ...exact], true);
  return kept.length === 0 ? main : `(?:${main}|(?-i:${bracket(kept.map((c) => [c, c] as const), false)}))`;
}

function complement(ranges: readonly Range[]): Range[] {
  const result: Range[] = [];
  let next = 0;
  for (const [from, to] of ranges) {
    if (from > next) result.push([next, from - 1]);
    next = to + 1;
  }
  if (next <= MAX_CODE_POINT) result.push([next, MAX_CODE_POINT]);
  return result;
}
