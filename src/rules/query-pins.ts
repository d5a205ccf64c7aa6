/**
 * Cheap facts about a query that let the rule index skip it for most events: the values a query
 * pins `event.action`, `event.type` or `event.category` to.
 *
 * A pin is taken only from a top-level conjunct of a stage's condition (a condition that must be
 * true for the stage to match), and only in these shapes, where a string literal without escapes
 * is compared to the field:
 *
 *     field == "v"        field in ("v", …)        field : "v" / field : ("v", …)   (no * or ?)
 *     field in~ ("v", …)  field like "v" / like~  (no * or ?)
 *
 * Anything else — a disjunction at the top, `not`, functions, wildcards, escapes, optional
 * fields — yields no pin, which is always safe: the index then offers the rule to every event of
 * its category. Values are compared case-folded, so a pin is a necessary condition for `==` as
 * well as for the case-insensitive operators. Each conjunct is its own constraint (array fields
 * such as event.type may satisfy two conjuncts with two different elements).
 *
 * For a sequence the pins are per stage (`until` and missing-event stages included); the rule is
 * a candidate when any stage could take the event.
 */

export const PINNABLE_FIELDS = ['event.action', 'event.type', 'event.category'] as const;
export type PinnableField = (typeof PINNABLE_FIELDS)[number];

export interface FieldPin {
  field: PinnableField;
  /** Lower-cased values; the field must case-fold-equal one of them. */
  values: ReadonlySet<string>;
}

/** The pins of one stage: every one must hold for the stage to take an event. */
export type StagePins = FieldPin[];

interface Token {
  kind: 'word' | 'string' | 'punct' | 'other';
  text: string;
  /** For strings: the value when it had no escapes, else null. */
  value?: string | null;
}

const PUNCT = ['==', '!=', '<=', '>=', '(', ')', '[', ']', ',', ':', '~', '<', '>', '!', '+', '-', '*', '/', '%', '?'];

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

function literalValue(t: Token | undefined, allowWildcards: boolean): string | null {
  if (t === undefined || t.kind !== 'string' || t.value === null || t.value === undefined) return null;
  if (!allowWildcards && /[*?]/.test(t.value)) return null;
  return t.value.toLowerCase();
}

/** `"v"` or `("v", …)` filling tokens[from..] exactly; null otherwise. */
function literalList(tokens: Token[], from: number, allowWildcards: boolean, listOnly: boolean): string[] | null {
  if (isPunct(tokens[from], '(')) {
    if (matching(tokens, from) !== tokens.length - 1) return null;
    const values: string[] = [];
    for (let i = from + 1; i < tokens.length - 1; i += 2) {
      const v = literalValue(tokens[i], allowWildcards);
      if (v === null) return null;
      values.push(v);
      const sep = tokens[i + 1];
      if (!(isPunct(sep, ',') || i + 1 === tokens.length - 1)) return null;
    }
    return values.length > 0 ? values : null;
  }
  if (listOnly || tokens.length !== from + 1) return null;
  const v = literalValue(tokens[from], allowWildcards);
  return v === null ? null : [v];
}

function pinOf(tokens: Token[]): FieldPin | null {
  const field = tokens[0];
  if (field?.kind !== 'word' || !(PINNABLE_FIELDS as readonly string[]).includes(field.text)) return null;
  const op = tokens[1];
  let values: string[] | null = null;
  if (isPunct(op, '==')) values = literalList(tokens, 2, true, false);
  else if (isPunct(op, ':')) values = literalList(tokens, 2, false, false);
  else if (isWord(op, 'in')) values = isPunct(tokens[2], '~') ? literalList(tokens, 3, true, true) : literalList(tokens, 2, true, true);
  else if (isWord(op, 'like')) values = isPunct(tokens[2], '~') ? literalList(tokens, 3, false, false) : literalList(tokens, 2, false, false);
  if (values === null) return null;
  if (isPunct(op, '==') && tokens.length !== 3) return null;
  return { field: field.text as PinnableField, values: new Set(values) };
}

function conditionPins(tokens: Token[]): FieldPin[] {
  tokens = stripParens(tokens);
  if (splitTop(tokens, 'or').length > 1) return [];
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
  if (!isWord(tokens[0], 'sequence')) {
    if (tokens.some((t) => isPunct(t, '|') || t.text === '|')) return null;
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
