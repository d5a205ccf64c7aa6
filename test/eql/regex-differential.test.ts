/**
 * Differential test of the Lucene/RE2 regex engine (src/eql/regex-match.ts) against the V8 engine
 * it replaced, `new RegExp('^(?:' + p + ')$', ci ? 'si' : 's')` tested on the value (lower-cased
 * for regex~) and OR-ed over a list's patterns.
 *
 * Every `regex` / `regex~` operator of the rule corpora (Elastic's Linux detection rules and
 * Elastic Defend's Linux behaviour rules) must give the same answer in both engines on inputs
 * derived from its patterns (regex-samples.ts). The corpus patterns use only syntax both dialects
 * read alike; where V8 was wrong for Lucene, the case is listed in DOCUMENTED_DIFFERENCES below
 * with the reason, and the inputs of the corpus run avoid those characters.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import type { ExpressionNode, MatchNode } from '../../src/eql/ast.js';
import { compileQuery, EqlError, parseQuery } from '../../src/eql/index.js';
import { CORPUS_DIR, describeWithCorpus } from '../support/corpus.js';
import { inputsFor } from './regex-samples.js';

interface RegexUse {
  /** Rule files the operator appears in. */
  rules: string[];
  caseInsensitive: boolean;
  /** Pattern values, after EQL string escapes. */
  patterns: string[];
  /** The literals as written in the rule, to rebuild the operator. */
  literals: string[];
}

const FOLDERS = ['elastic-linux-process', 'elastic-linux-sequence', 'elastic-defend-linux'];

/** The V8 engine this project used before: one anchored RegExp per pattern, any of them. */
function oldEngine(patterns: string[], caseInsensitive: boolean): (value: string) => boolean {
  const regexes = patterns.map((pattern) => new RegExp(`^(?:${pattern})$`, caseInsensitive ? 'si' : 's'));
  return (value) => {
    const seen = caseInsensitive ? value.toLowerCase() : value;
    return regexes.some((regex) => regex.test(seen));
  };
}

function newEngine(literals: string[], caseInsensitive: boolean): (value: string) => boolean {
  const query = compileQuery(`any where f regex${caseInsensitive ? '~' : ''} (${literals.join(', ')})`);
  if (query.kind !== 'event') throw new Error('expected an event query');
  return (value) => query.matches({ f: value });
}

function matchNodes(node: unknown, found: MatchNode[]): MatchNode[] {
  if (Array.isArray(node)) node.forEach((child) => matchNodes(child, found));
  else if (node !== null && typeof node === 'object') {
    if ((node as ExpressionNode).kind === 'match' && (node as MatchNode).op === 'regex') found.push(node as MatchNode);
    Object.values(node).forEach((child) => matchNodes(child, found));
  }
  return found;
}

/**
 * A query this project's parser does not take whole (a Defend dialect form) still has its regex
 * operators read: each `regex[~] <string or list>` is parsed on its own as `any where f regex ...`.
 */
function regexOperatorsIn(query: string): { node: MatchNode; source: string }[] {
  try {
    return matchNodes(parseQuery(query), []).map((node) => ({ node, source: query }));
  } catch (error) {
    if (!(error instanceof EqlError)) throw error;
    const operator = /\bregex~?\s*(?:\((?:\s*(?:"""[\s\S]*?"""|"(?:[^"\\]|\\.)*")\s*,?)+\s*\)|"""[\s\S]*?"""|"(?:[^"\\]|\\.)*")/gi;
    return [...query.matchAll(operator)].flatMap((found) => {
      const source = `any where f ${found[0]}`;
      return matchNodes(parseQuery(source), []).map((node) => ({ node, source }));
    });
  }
}

function corpusRegexUses(): RegexUse[] {
  const uses = new Map<string, RegexUse>();
  for (const folder of FOLDERS) {
    const dir = path.join(CORPUS_DIR, folder);
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.toml')).sort()) {
      const document = parse(readFileSync(path.join(dir, file), 'utf8')) as { rule?: { query?: unknown } };
      const query = document.rule?.query;
      if (typeof query !== 'string') continue;
      for (const { node, source } of regexOperatorsIn(query)) {
        const patterns = node.patterns.map((literal) => String(literal.value));
        const key = JSON.stringify([node.caseInsensitive, patterns]);
        const rule = `${folder}/${file}`;
        const known = uses.get(key);
        if (known !== undefined) {
          if (!known.rules.includes(rule)) known.rules.push(rule);
          continue;
        }
        const literals = node.patterns.map((literal) => source.slice(literal.start, literal.end));
        uses.set(key, { rules: [rule], caseInsensitive: node.caseInsensitive, patterns, literals });
      }
    }
  }
  return [...uses.values()];
}

describeWithCorpus('regex: the new engine agrees with the V8 engine on every corpus pattern', () => {
  const uses = corpusRegexUses();

  it('finds the regex operators of all three corpora', () => {
    expect(uses.length).toBeGreaterThanOrEqual(25);
    for (const folder of FOLDERS) expect(uses.some((use) => use.rules.some((rule) => rule.startsWith(`${folder}/`)))).toBe(true);
    // the one Defend rule the parser does not take whole still contributes its escaped-operator pattern
    expect(uses.some((use) => use.patterns.includes('.*\\([a-z]{1,15}\\|[a-z]{1,15}.*\\).*'))).toBe(true);
  });

  it.each(uses.map((use, index) => ({ ...use, label: `${use.caseInsensitive ? 'regex~' : 'regex'} ${use.literals.join(', ')}`, seed: index + 1 })))(
    '$label',
    ({ patterns, literals, caseInsensitive, seed }) => {
      const before = oldEngine(patterns, caseInsensitive);
      const after = newEngine(literals, caseInsensitive);
      const inputs = patterns.flatMap((pattern, i) => inputsFor(pattern, seed * 31 + i));
      const disagreements = inputs.filter((input) => before(input) !== after(input)).map((input) => ({ input, v8: before(input), lucene: after(input) }));
      expect(disagreements).toEqual([]);
      // the inputs reach both sides of the pattern
      expect(inputs.some(after)).toBe(true);
      expect(inputs.some((input) => !after(input))).toBe(true);
    },
  );
});

/**
 * Where the V8 engine was wrong for Lucene's dialect, case by case. `lucene` is the new engine's
 * answer, or the code it refuses the pattern with.
 */
const DOCUMENTED_DIFFERENCES: {
  pattern: string | string[];
  ci: boolean;
  input: string;
  v8: boolean;
  lucene: boolean | 'EQL0203' | 'EQL0208';
  why: string;
}[] = [
  {
    pattern: '/[a-z0-9\\s_\\-\\\\./]+\\s',
    ci: true,
    input: '/tmp/x\f',
    v8: true,
    lucene: false,
    why: 'corpus pattern: Lucene \\s is [ \\t\\n\\r]; V8 \\s also takes form feed, vertical tab, NBSP, U+2028 and the other Unicode spaces',
  },
  {
    pattern: '/[a-z0-9\\s_\\-\\\\./]+\\s',
    ci: true,
    input: '/tmp/x\u00a0',
    v8: true,
    lucene: false,
    why: 'as above, for a no-break space',
  },
  {
    pattern: '.*http?://[0-9]{1,3}.[0-9]{1,3}.[0-9]{1,3}.[0-9]{1,3}.*',
    ci: true,
    input: 'http://1\u{1F600}2.3.4',
    v8: false,
    lucene: true,
    why: 'corpus pattern: Lucene . is one code point; V8 without the u flag sees an astral character as two UTF-16 units',
  },
  {
    pattern: '.*curl.* \\-[a-zA-Z]*[oO]( .+|\\-.*)?',
    ci: true,
    input: 'curl -\u017fo x',
    v8: false,
    lucene: true,
    why: 'corpus pattern: regex~ folds case with Unicode simple folding, so U+017F (long s) is an s, as Lucene 10 folds literal characters; V8 non-Unicode ignoreCase folds nothing onto ASCII',
  },
  { pattern: '^abc$', ci: false, input: 'abc', v8: true, lucene: false, why: 'Lucene has no anchors: ^ and $ are ordinary characters' },
  { pattern: '^abc$', ci: false, input: '^abc$', v8: false, lucene: true, why: 'as above' },
  { pattern: '(a|b)\\1', ci: false, input: 'aa', v8: true, lucene: false, why: 'no backreferences: \\1 is the character 1' },
  { pattern: '<1-5>', ci: false, input: '3', v8: false, lucene: true, why: 'a numeric interval, not the text <1-5>' },
  { pattern: '@', ci: false, input: 'anything', v8: false, lucene: true, why: '@ is any string' },
  { pattern: '#', ci: false, input: '#', v8: true, lucene: false, why: '# is the empty language' },
  { pattern: '"a.b"', ci: false, input: 'axb', v8: false, lucene: false, why: 'quotes make a literal: neither matches axb' },
  { pattern: '"a.b"', ci: false, input: 'a.b', v8: false, lucene: true, why: 'quotes make a literal string, they are not characters to match' },
  { pattern: ['', 'a'], ci: false, input: 'a', v8: true, lucene: false, why: 'Elasticsearch joins a list with | before parsing; "|a" is the text |a' },
  { pattern: '\\n', ci: false, input: '\n', v8: true, lucene: 'EQL0203', why: 'Lucene rejects \\ before a letter other than d D s S w W' },
  { pattern: 'a{,3}', ci: false, input: 'a{,3}', v8: true, lucene: 'EQL0203', why: 'Lucene needs a number after {' },
  { pattern: 'a&b', ci: false, input: 'a&b', v8: true, lucene: 'EQL0208', why: 'intersection: refused, no linear-time equivalent' },
  { pattern: 'a~b', ci: false, input: 'a~b', v8: true, lucene: 'EQL0208', why: 'complement: refused, no linear-time equivalent' },
];

describe('regex: documented differences from the V8 engine', () => {
  it.each(DOCUMENTED_DIFFERENCES.map((row) => ({ ...row, patterns: typeof row.pattern === 'string' ? [row.pattern] : row.pattern })))(
    '$patterns on $input: $why',
    ({ patterns, ci, input, v8, lucene }) => {
      expect(oldEngine(patterns, ci)(input)).toBe(v8);
      const literals = patterns.map((pattern) => `"""${pattern}"""`);
      if (typeof lucene === 'boolean') {
        expect(newEngine(literals, ci)(input)).toBe(lucene);
      } else {
        expect(() => newEngine(literals, ci)).toThrow(expect.objectContaining({ code: lucene }));
      }
    },
  );
});
