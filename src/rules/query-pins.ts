/**
 * Cheap necessary conditions ("pins") read from a query's text, so the rule index can skip a rule
 * for most events without running it.
 *
 * A pin comes only from a top-level conjunct of a stage's condition (one that must be true for
 * the stage to match) of the shape `field OP literal` or `field OP (literal, …)`, where every
 * literal is a string and `field` a plain path (not `?field`, not a function):
 *
 *   OP                          pin
 *   ==, in, in~                 the field equals one of the values (case-folded)
 *   :, like, like~              same, where no pattern has a wildcard; where every pattern is
 *                               literal or `literal*`, the field equals or starts with one
 *   any of the above otherwise, the field is present: a comparison with a string is false on
 *   regex, regex~               a missing or null field (Elasticsearch semantics)
 *
 * Values are compared case-folded, so a pin is a necessary condition for the case-sensitive
 * operators as well. Each conjunct is its own pin: an array field (event.type, process.args) may
 * satisfy two conjuncts with two different elements.
 *
 * A disjunction pins a field when every branch does, to the union of the branches' pins (the
 * event must satisfy some branch, and each branch needs its pin).
 *
 * Anything else — `not`, `!=`, null literals, numbers, functions, arithmetic — yields no pin,
 * which is always safe: the rule is then offered every event of its category.
 *
 * For a sequence the pins are per stage (`until` and missing-event stages included); the rule is
 * a candidate when any stage could take the event.
 */

export interface FieldPin {
  field: string;
  /** Case-folded values the field must equal, or null when only its presence is known. */
  values: ReadonlySet<string> | null;
  /** Case-folded prefixes the field may start with instead (empty when none). */
  prefixes: readonly string[];
}

/** The pins of one stage: every one must hold for the stage to take an event. */
export type StagePins = FieldPin[];

interface Token {
  kind: 'word' | 'string' | 'punct' | 'other';
  text: string;
  /** For strings: the value when it had no escapes, else null. */
  value?: string | null;
}

const PUNCT = ['==', '!=', '<=', '>=', '(', ')', '[', ']', ',', ':', '~', '<', '>', '!', '+', '-', '*', '/', '%', '?', '|'];
const FIELD_PATH = /^[A-Za-z_@][A-Za-z0-9_@.]*$/;

function tokenize(text: string): Token[] | null {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (text.startsWith('//', i)) {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl + 1;
    } else if (text.startsWith('/*', i)) {
      const close = text.indexOf('*/', i + 2);
      if (close < 0) return null;
      i = close + 2;
    } else if (text.startsWith('"""', i)) {
      const close = text.indexOf('"""', i + 3);
      if (close < 0) return null;
      tokens.push({ kind: 'string', text: text.slice(i, close + 3), value: text.slice(i + 3, close) });
      i = close + 3;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let escaped = false;
      while (j < text.length && text[j] !== c) {
        if (text[j] === '\\') {
          escaped = true;
          j++;
        }
        j++;
      }
      if (j >= text.length) return null;
      tokens.push({ kind: 'string', text: text.slice(i, j + 1), value: escaped ? null : text.slice(i + 1, j) });
      i = j + 1;
    } else if (c === '`') {
      const close = text.indexOf('`', i + 1);
      if (close < 0) return null;
      tokens.push({ kind: 'other', text: text.slice(i, close + 1) });
      i = close + 1;
    } else if (/[A-Za-z0-9_@.$]/.test(c)) {
      let j = i + 1;
      while (j < text.length && /[A-Za-z0-9_@.$]/.test(text[j]!)) j++;
      tokens.push({ kind: 'word', text: text.slice(i, j) });
      i = j;
    } else {
      const p = PUNCT.find((op) => text.startsWith(op, i));
      tokens.push({ kind: p === undefined ? 'other' : 'punct', text: p ?? c });
      i += p === undefined ? 1 : p.length;
    }
  }
  return tokens;
}

function isWord(t: Token | undefined, word: string): boolean {
  return t !== undefined && t.kind === 'word' && t.text.toLowerCase() === word;
}

function isPunct(t: Token | undefined, p: string): boolean {
  return t !== undefined && t.kind === 'punct' && t.text === p;
}

/** Index of the bracket closing the one at `open`, or -1. */
function matching(tokens: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'punct') continue;
    if (t.text === '(' || t.text === '[') depth++;
    else if (t.text === ')' || t.text === ']') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Splits on a keyword at bracket depth 0. */
function splitTop(tokens: Token[], keyword: string): Token[][] {
  const parts: Token[][] = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (isPunct(t, '(') || isPunct(t, '[')) depth++;
    else if (isPunct(t, ')') || isPunct(t, ']')) depth--;
    if (depth === 0 && isWord(t, keyword)) parts.push([]);
    else parts[parts.length - 1]!.push(t);
  }
  return parts;
}

function stripParens(tokens: Token[]): Token[] {
  while (tokens.length >= 2 && isPunct(tokens[0], '(') && matching(tokens, 0) === tokens.length - 1) tokens = tokens.slice(1, -1);
  return tokens;
}

/**
 * The string literals filling tokens[from..] exactly, as `"v"` or `("v", …)`; null when that is
 * not the shape. A literal with escapes is returned as null inside the list (its text is not
 * trusted here, but it is still a string).
 */
function stringLiterals(tokens: Token[], from: number): (string | null)[] | null {
  if (isPunct(tokens[from], '(')) {
    if (matching(tokens, from) !== tokens.length - 1) return null;
    const values: (string | null)[] = [];
    for (let i = from + 1; i < tokens.length - 1; i += 2) {
      const t = tokens[i];
      if (t?.kind !== 'string') return null;
      values.push(t.value ?? null);
      if (!(isPunct(tokens[i + 1], ',') || i + 1 === tokens.length - 1)) return null;
    }
    return values.length > 0 ? values : null;
  }
  if (tokens.length !== from + 1 || tokens[from]?.kind !== 'string') return null;
  return [tokens[from]!.value ?? null];
}

const PRESENT_ONLY = (field: string): FieldPin => ({ field, values: null, prefixes: [] });

function exactPin(field: string, literals: (string | null)[]): FieldPin {
  if (literals.some((v) => v === null)) return PRESENT_ONLY(field);
  return { field, values: new Set(literals.map((v) => v!.toLowerCase())), prefixes: [] };
}

/** For wildcard operators: exact values and `literal*` prefixes, else presence. */
function patternPin(field: string, literals: (string | null)[]): FieldPin {
  const values = new Set<string>();
  const prefixes: string[] = [];
  for (const literal of literals) {
    if (literal === null) return PRESENT_ONLY(field);
    const lower = literal.toLowerCase();
    const star = lower.indexOf('*');
    if (!/[*?]/.test(lower)) values.add(lower);
    else if (star === lower.length - 1 && star > 0 && !lower.includes('?')) prefixes.push(lower.slice(0, -1));
    else return PRESENT_ONLY(field);
  }
  return { field, values, prefixes };
}

function pinOf(tokens: Token[]): FieldPin | null {
  const field = tokens[0];
  if (field?.kind !== 'word' || !FIELD_PATH.test(field.text) || tokens.length < 3) return null;
  const op = tokens[1];
  const name = field.text;
  const insensitive = isPunct(tokens[2], '~');
  const at = insensitive ? 3 : 2;
  if (isPunct(op, '==')) {
    const literals = stringLiterals(tokens, 2);
    return literals !== null && literals.length === 1 && !isPunct(tokens[2], '(') ? exactPin(name, literals) : null;
  }
  if (isWord(op, 'in')) {
    const literals = isPunct(tokens[at], '(') ? stringLiterals(tokens, at) : null;
    return literals === null ? null : exactPin(name, literals);
  }
  if (isPunct(op, ':')) {
    const literals = stringLiterals(tokens, 2);
    return literals === null ? null : patternPin(name, literals);
  }
  if (isWord(op, 'like')) {
    const literals = stringLiterals(tokens, at);
    return literals === null ? null : patternPin(name, literals);
  }
  if (isWord(op, 'regex')) {
    return stringLiterals(tokens, at) === null ? null : PRESENT_ONLY(name);
  }
  return null;
}

function union(pins: FieldPin[]): FieldPin {
  const field = pins[0]!.field;
  if (pins.some((p) => p.values === null)) return PRESENT_ONLY(field);
  return {
    field,
    values: new Set(pins.flatMap((p) => [...p.values!])),
    prefixes: [...new Set(pins.flatMap((p) => p.prefixes))],
  };
}

/** Pins every branch of a disjunction shares, each the union of the branches' pins. */
function disjunctionPins(branches: Token[][]): FieldPin[] {
  const perBranch = branches.map(conditionPins);
  const pins: FieldPin[] = [];
  for (const field of new Set(perBranch[0]!.map((p) => p.field))) {
    const chosen = perBranch.map((branch) => branch.find((pin) => pin.field === field));
    if (chosen.every((pin) => pin !== undefined)) pins.push(union(chosen as FieldPin[]));
  }
  return pins;
}

function conditionPins(tokens: Token[]): FieldPin[] {
  tokens = stripParens(tokens);
  const branches = splitTop(tokens, 'or');
  if (branches.length > 1) return disjunctionPins(branches);
  const pins: FieldPin[] = [];
  for (const conjunct of splitTop(tokens, 'and')) {
    const inner = stripParens(conjunct);
    if (inner.length !== conjunct.length) pins.push(...conditionPins(inner));
    else {
      const pin = pinOf(conjunct);
      if (pin !== null) pins.push(pin);
    }
  }
  return pins;
}

/** `<category> where <condition>` → pins of the condition; null when the shape is not that. */
function stagePins(tokens: Token[]): StagePins | null {
  if (tokens.length < 3 || !isWord(tokens[1], 'where')) return null;
  return conditionPins(tokens.slice(2));
}

/**
 * Pins for each stage of `source` (one entry for an event query), or null when the query's
 * structure could not be read here.
 */
export function queryPins(source: string): StagePins[] | null {
  const tokens = tokenize(source);
  if (tokens === null || tokens.length === 0) return null;
  if (tokens.some((t) => isPunct(t, '|'))) return null;
  if (!isWord(tokens[0], 'sequence') && !isWord(tokens[0], 'sample')) {
    const pins = stagePins(tokens);
    return pins === null ? null : [pins];
  }
  const stages: StagePins[] = [];
  for (let i = 1; i < tokens.length; i++) {
    if (!isPunct(tokens[i], '[')) continue;
    const close = matching(tokens, i);
    if (close < 0) return null;
    const pins = stagePins(tokens.slice(i + 1, close));
    if (pins === null) return null;
    stages.push(pins);
    i = close;
  }
  return stages.length > 0 ? stages : null;
}
