/**
 * What text a value must contain to match a Lucene `regex` pattern (regex-parser.ts), read from the
 * pattern's tree: for each top-level alternative, the literal it must start with (patterns are
 * anchored to the whole value) and literal runs it must contain somewhere. Rules write regexes
 * like `/proc/(self|[0-9]{1,7})/fd/[0-9]{1,7}` or `.*[0-9]{1,3}\.[0-9]{1,3}...:[0-9]{1,5}.*`: a
 * value that does not start with "/proc/", or has no ":", cannot match, and testing that is a
 * string comparison instead of a run of the automaton.
 *
 * Two users: the matcher (regex-match.ts) tests the needs before running RE2, and the rule index
 * (stage-requirements.ts) turns them into prefix and infix atoms, so a regex-only branch no longer
 * makes a rule a candidate for every event.
 *
 * Only necessary conditions are derived, never sufficient ones: a literal counts when every match
 * has it at that place, a run ends at anything that is not a mandatory literal (a class, `.`, a
 * union, an optional or repeated part; the first copy of a repeated literal still counts). A
 * mandatory class of at most four characters (`\s`, `[:=]`) adds "one of these characters":
 * `/[a-z0-9\s_\-\\./]+\s` needs a blank somewhere, which few executables have.
 * `regex~` receives the value lower-cased and matches with RE2's Unicode case folding, under which
 * `s` and `k` also match U+017F and U+212A, which lower-casing keeps apart; so case-insensitive
 * runs use only ASCII characters other than s and k, lower-cased.
 */
import { parseLuceneRegex, type RegexNode } from './regex-parser.js';

/**
 * What one alternative of a pattern needs: a value starting with `prefix`, containing each infix,
 * and for each set in `anyOf` containing one of its characters.
 */
export interface RegexNeeds {
  prefix: string;
  infixes: string[];
  anyOf: string[][];
}

/** Larger classes (`\d`, `[a-z]`) are left out: testing for one of many characters filters little. */
const MAX_CLASS_CHARACTERS = 4;

/**
 * The needs of each top-level alternative, or null when some alternative needs nothing (or the
 * pattern does not parse: the checker reports that elsewhere).
 */
export function regexNeeds(pattern: string, caseInsensitive: boolean): RegexNeeds[] | null {
  let tree: RegexNode;
  try {
    tree = parseLuceneRegex(pattern);
  } catch {
    return null;
  }
  const alternatives = tree.kind === 'union' ? tree.alternatives : [tree];
  const needs: RegexNeeds[] = [];
  for (const alternative of alternatives) {
    const need = alternativeNeeds(alternative, caseInsensitive);
    if (need.prefix === '' && need.infixes.length === 0 && need.anyOf.length === 0) return null;
    needs.push(need);
  }
  return needs;
}

/** Does `value` meet the needs of one of the alternatives? */
export function meetsRegexNeeds(needs: readonly RegexNeeds[], value: string): boolean {
  for (let i = 0; i < needs.length; i++) {
    const need = needs[i]!;
    if (need.prefix !== '' && !value.startsWith(need.prefix)) continue;
    let all = true;
    for (let j = 0; j < need.infixes.length && all; j++) if (!value.includes(need.infixes[j]!)) all = false;
    for (let j = 0; j < need.anyOf.length && all; j++) {
      const characters = need.anyOf[j]!;
      let found = false;
      for (let k = 0; k < characters.length && !found; k++) found = value.includes(characters[k]!);
      all = found;
    }
    if (all) return true;
  }
  return false;
}

const PREDEFINED_CHARACTERS: Readonly<Record<string, string[]>> = { s: ['\t', '\n', '\r', ' '] };

/** The characters a non-negated class takes, when they are few and usable; else null. */
function classCharacters(node: RegexNode, caseInsensitive: boolean): string[] | null {
  if (node.kind !== 'class' || node.negated) return null;
  const characters = new Set<string>();
  for (const item of node.items) {
    if (item.kind === 'char') characters.add(String.fromCodePoint(item.codePoint));
    else if (item.kind === 'predefined' && PREDEFINED_CHARACTERS[item.name] !== undefined) for (const c of PREDEFINED_CHARACTERS[item.name]!) characters.add(c);
    else if (item.kind === 'range' && item.to - item.from < MAX_CLASS_CHARACTERS) for (let c = item.from; c <= item.to; c++) characters.add(String.fromCodePoint(c));
    else return null;
    if (characters.size > MAX_CLASS_CHARACTERS) return null;
  }
  // a letter would have to be folded the way RE2 folds it: left out under regex~
  if (caseInsensitive && [...characters].some((c) => c.toLowerCase() !== c.toUpperCase() || !usable(c, true))) return null;
  return characters.size === 0 ? null : [...characters];
}

function flatten(node: RegexNode): RegexNode[] {
  return node.kind === 'concat' ? node.parts.flatMap(flatten) : [node];
}

function usable(char: string, caseInsensitive: boolean): boolean {
  if (!caseInsensitive) return true;
  const code = char.charCodeAt(0);
  return char.length === 1 && code < 0x80 && !'sSkK'.includes(char);
}

function alternativeNeeds(alternative: RegexNode, caseInsensitive: boolean): RegexNeeds {
  const infixes: string[] = [];
  const anyOf: string[][] = [];
  let prefix = '';
  let run = '';
  let runAtStart = true;
  let atStart = true;
  const end = (): void => {
    if (run !== '') {
      if (runAtStart) prefix = run;
      else infixes.push(run);
    }
    run = '';
    runAtStart = false;
    atStart = false;
  };
  const append = (text: string): boolean => {
    for (const char of text) {
      if (!usable(char, caseInsensitive)) {
        end();
        continue;
      }
      if (run === '') runAtStart = atStart;
      run += caseInsensitive ? char.toLowerCase() : char;
    }
    return true;
  };
  const mandatoryClass = (node: RegexNode): void => {
    const characters = classCharacters(node, caseInsensitive);
    if (characters !== null) anyOf.push(characters);
  };
  for (const part of flatten(alternative)) {
    if (part.kind === 'literal') {
      append(part.text);
    } else if (part.kind === 'repeat' && part.min >= 1 && part.operand.kind === 'literal') {
      // the first copy sits right here; what follows it may be more copies
      append(part.operand.text);
      end();
    } else {
      end();
      mandatoryClass(part.kind === 'repeat' && part.min >= 1 ? part.operand : part);
    }
  }
  end();
  return { prefix, infixes, anyOf };
}
