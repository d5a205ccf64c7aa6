/**
 * `regex` and `regex~`: Lucene's regular-expression dialect, run in linear time by re2js (a
 * JavaScript port of RE2). The checker (semantics.ts) and the compiler (compile-expression.ts)
 * both come here, so a pattern is judged and run by the same code.
 *
 * Why not V8's RegExp: it backtracks. `.*(a+)+=` took 0.78 s on a 24-character command line and
 * doubled with every character, and command lines belong to whoever runs a process. RE2 simulates
 * the automaton instead: time linear in the value, memory bounded by the compiled program.
 *
 * What Elasticsearch does (the facts this module follows):
 * - EQL's `f regex (p1, p2)` becomes one `RLike(f, RLikePattern(p1 + "|" + p2), caseInsensitive)`
 *   (x-pack/plugin/eql .../function/scalar/string/Match.java, makeSubstitute joins the patterns
 *   with "|"). On a field it is pushed down as a `regexp` query,
 *   `regexpQuery(field, pattern).caseInsensitive(ci)` (x-pack/plugin/ql .../querydsl/query/
 *   RegexQuery.java), whose syntax flags default to ALL (RegexpQueryBuilder.DEFAULT_FLAGS_VALUE,
 *   server/.../index/query/RegexpQueryBuilder.java) and whose `case_insensitive` sets Lucene's
 *   RegExp.ASCII_CASE_INSENSITIVE match flag. The pattern is limited to
 *   `index.max_regex_length` characters, 1,000 by default (RegexpQueryBuilder.doToQuery).
 *   RLikePattern builds its automaton with `RegExp.ALL | RegExp.DEPRECATED_COMPLEMENT`, so `~`
 *   complement, `&` intersection, `#` empty language, `@` any string and `<n-m>` intervals are
 *   all operators, and `<` `>` `&` `~` `#` `@` must be escaped to be literal.
 * - The dialect (Elasticsearch reference, "Regular expression syntax", query-dsl/regexp-syntax;
 *   Lucene's RegExp javadoc and parser, org.apache.lucene.util.automaton.RegExp): patterns are
 *   always anchored to the whole value; reserved characters `. ? + * | { } [ ] ( ) " \`, and with
 *   the optional operators `# @ & < > ~`; a backslash or double quotes make characters literal;
 *   no `^`/`$` anchors, no lazy quantifiers (`x+?` is "optional x+"), no backreferences, no
 *   lookaround. `\d \D \s \S \w \W` are the ASCII classes [0-9], [ \t\n\r], [a-zA-Z_0-9] and
 *   their complements; `\` before any other ASCII letter is an error. `.` is any code point,
 *   newline included (Automata.makeAnyChar). Intervals: `<1-100>` takes 80 and 080, `<001-100>`
 *   takes 080 but not 80.
 * - Case: Lucene 9 (Elasticsearch 8) folds ASCII letters only and Lucene 10 (Elasticsearch 9)
 *   folds Unicode (RegExp.CASE_INSENSITIVE, CaseFolding.txt C+S+T), in both versions for literal
 *   characters and single class characters, not for ranges or predefined classes.
 * - A regex on something other than a field (e.g. a function result) runs in a script through
 *   java.util.regex (ql RegexProcessor: Pattern.compile(p).matcher(v).matches()), i.e. Java's
 *   dialect. This engine reads Lucene's dialect in both places, so a rule means one thing.
 *
 * Where this engine differs on purpose:
 * - `regex~` lower-cases the value and matches with RE2's Unicode simple case folding (on
 *   characters and ranges alike), as `:` and `like~` lower-case both sides; predefined classes
 *   stay exact. So `[a-z]` with regex~ takes "Q" (Lucene would not fold the range), and U+017F
 *   (long s) and U+212A (Kelvin) fold with s and k.
 * - Refused at compile time (EQL0208): `~` complement and `&` intersection (no linear-time
 *   equivalent), an escaped character before `-` inside a class (Lucene 9 and 10 disagree), and
 *   interval bounds that are not ASCII digits. Limits (EQL0304): the joined pattern's length
 *   (maxRegexLength, Elasticsearch's default 1,000), RE2's repetition bound (1,000 in total,
 *   `a{1001}` or `(a{100}){11}`), and the compiled program's size (maxRegexProgramSize).
 */
import { RE2JS, RE2JSException } from 're2js';
import type { LiteralNode, MatchNode } from './ast.js';
import { EqlError, EqlErrorCode, RegexPatternError } from './errors.js';
import type { EqlLimits } from './limits.js';
import { parseLuceneRegex } from './regex-parser.js';
import { meetsRegexNeeds, regexNeeds } from './regex-prefilter.js';
import { toRe2Syntax } from './regex-translate.js';
import type { StringMatcher } from './wildcard.js';

/** Throws an EqlError on the offending pattern literal when the node's patterns cannot be run. */
export function checkRegexMatch(node: MatchNode, source: string, limits: Readonly<EqlLimits>): void {
  try {
    compileLuceneRegex(joinPatterns(node.patterns), node.caseInsensitive, limits);
  } catch (error) {
    if (error instanceof RegexPatternError) throw errorOnLiteral(error, node.patterns, source);
    throw error;
  }
}

/**
 * The matcher for a checked node. For `regex~` the caller passes values already lower-cased.
 * Throws RegexPatternError for a node the checker would have refused. A value that lacks the
 * literal text every match has (regex-prefilter.ts) is refused without running the program.
 */
export function compileRegexMatch(node: MatchNode, limits: Readonly<EqlLimits>): StringMatcher {
  const pattern = joinPatterns(node.patterns);
  const program = compileLuceneRegex(pattern, node.caseInsensitive, limits);
  const needs = regexNeeds(pattern, node.caseInsensitive);
  if (needs === null) return (value) => program.testExact(value);
  return (value) => meetsRegexNeeds(needs, value) && program.testExact(value);
}

/** The patterns of a regex match node as one pattern, the way it is compiled. */
export function joinedRegexPattern(node: MatchNode): string {
  return joinPatterns(node.patterns);
}

/** One Lucene pattern to an RE2 program, to run with testExact (the whole value); errors carry offsets in `pattern`. */
export function compileLuceneRegex(pattern: string, caseInsensitive: boolean, limits: Readonly<EqlLimits>): RE2JS {
  if (pattern.length > limits.maxRegexLength) {
    throw new RegexPatternError(
      EqlErrorCode.RegexTooLarge,
      `regular expression is ${pattern.length} characters long, the limit is ${limits.maxRegexLength}`,
      0,
      pattern.length,
    );
  }
  const syntax = toRe2Syntax(parseLuceneRegex(pattern), caseInsensitive);
  let program: RE2JS;
  try {
    program = RE2JS.compile(syntax);
  } catch (error) {
    if (!(error instanceof RE2JSException)) throw error;
    const tooMany = /invalid repeat count/.test(error.message);
    throw new RegexPatternError(
      tooMany ? EqlErrorCode.RegexTooLarge : EqlErrorCode.InvalidArgument,
      tooMany ? 'regular expression repeats more than 1,000 times in total (nested counts multiply)' : `regular expression cannot be compiled: ${error.message}`,
      0,
      pattern.length,
    );
  }
  const size = program.programSize();
  if (size > limits.maxRegexProgramSize) {
    throw new RegexPatternError(
      EqlErrorCode.RegexTooLarge,
      `regular expression compiles to ${size} instructions, the limit is ${limits.maxRegexProgramSize}`,
      0,
      pattern.length,
    );
  }
  return program;
}

/** The patterns of one operator as Elasticsearch's Match function joins them. */
function joinPatterns(patterns: readonly LiteralNode[]): string {
  return patterns.map((pattern) => String(pattern.value)).join('|');
}

/**
 * An error at an offset of the joined pattern, placed on the literal it falls in: on the exact
 * characters when the literal is written without escapes, else on the whole literal. An error
 * about the whole pattern (a limit: offset 0, the pattern's full length) covers every literal.
 */
function errorOnLiteral(error: RegexPatternError, patterns: readonly LiteralNode[], source: string): EqlError {
  const texts = patterns.map((pattern) => String(pattern.value));
  const first = patterns[0];
  const last = patterns[patterns.length - 1];
  if (patterns.length > 1 && error.offset === 0 && error.length >= texts.join('|').length) {
    return new EqlError(error.code, error.detail, source, first.start, last.end - first.start);
  }
  let patternStart = 0;
  let index = 0;
  while (index < patterns.length - 1 && error.offset > patternStart + texts[index].length) {
    patternStart += texts[index].length + 1;
    index++;
  }
  const offset = Math.min(error.offset - patternStart, texts[index].length);
  const where = characterSpan(patterns[index], texts[index], source, offset, error.length);
  return new EqlError(error.code, error.detail, source, where.start, where.length);
}

/** Where `offset` of a literal's value is in the query, if the literal is written without escapes. */
function characterSpan(literal: LiteralNode, text: string, source: string, offset: number, length: number): { start: number; length: number } {
  const written = source.slice(literal.start, literal.end);
  const quote = written.startsWith('"""') ? 3 : 1;
  if (written.slice(quote, written.length - quote) !== text) return { start: literal.start, length: literal.end - literal.start };
  return { start: literal.start + quote + offset, length: Math.min(length, Math.max(1, text.length - offset)) };
}
