/**
 * Necessary conditions read from a stage's parsed condition, so the rule index can skip a rule
 * for most events without running it.
 *
 * A requirement is a conjunction of clauses; a clause is a disjunction of field atoms; an atom
 * says "some element of this field is a string that equals one of these values, starts with one
 * of these prefixes or contains one of these infixes" (or, for a presence atom, "the field has a
 * value"). Every clause must hold for the stage to match, so an event failing one clause cannot
 * match the stage.
 *
 * Derivation, in condition position (where a leaf counts only when it is exactly true):
 *
 *   node                                requirement
 *   a and b                             the clauses of a and of b
 *   a or b                              one clause: the best clause of a OR the best clause of b
 *                                       (none when a branch has no clause)
 *   not a                               none
 *   f == "s" / "s" == f                 f equals s (case-sensitive)
 *   f != null                           f is present
 *   f in ("s", …) / in~                 f equals one of them; none when the list holds a
 *                                       non-string (null is "in" a list holding null)
 *   f : / like / like~ patterns         per pattern: no wildcard: equals; otherwise the text
 *                                       before the first wildcard as a prefix, or else the
 *                                       longest literal run as an infix; "*" alone: present
 *   f regex / regex~ patterns           what every match must contain (regex-prefilter.ts): with one
 *                                       alternative, its leading literal as a prefix, each set of
 *                                       characters one of which it needs as infixes, and each other
 *                                       literal run as an infix, each a clause of its own (rarest
 *                                       first); with several, one clause of each alternative's
 *                                       prefix, else rarest run, else character set; f is present
 *                                       when an alternative needs no text (a lone letter or digit
 *                                       does not count: nearly every value has one)
 *   descendant of / child of / event of the relation, as a value of the LINEAGE_FIELD pseudo-field,
 *     [q] (when asked for)              which the rule set reads from its lineage tracker
 *   anything else                       none (functions, arithmetic, ?field, numbers, bare fields)
 *
 * An atom mirrors its operator's case handling exactly: a case-insensitive atom lower-cases the
 * patterns the way the matcher does (the whole pattern, then split) and tests the lower-cased
 * field value the matcher would test; a case-sensitive atom tests the raw value. A number or
 * boolean element satisfies any atom (the engine compares numbers with numeric strings), so an
 * atom never refuses an event the operator could accept. Taking "no requirement" is always safe.
 */
import type { ExpressionNode, LiteralNode, MatchNode } from '../eql/ast.js';
import { compileContainsAny, type ContainsAny } from '../eql/infix-search.js';
import { lineageRelationName, lineageSubqueryKey } from '../eql/lineage.js';
import { joinedRegexPattern } from '../eql/regex-match.js';
import { regexNeeds, type RegexNeeds } from '../eql/regex-prefilter.js';

export interface FieldAtom {
  /** Dotted field name. */
  field: string;
  path: readonly string[];
  /** Tests the lower-cased value (and holds lower-cased texts) rather than the raw one. */
  caseInsensitive: boolean;
  /** Any value holds; the text lists are then empty. */
  present: boolean;
  values: ReadonlySet<string>;
  prefixes: readonly string[];
  infixes: readonly string[];
  /** Tests for any of `infixes` in one pass (infix-search.ts). */
  containsInfix: ContainsAny;
}

/** At least one atom must hold. */
export type Clause = readonly FieldAtom[];

/** Every clause must hold for the stage to take the event. */
export type StageRequirement = readonly Clause[];

function elementHolds(atom: FieldAtom, element: unknown): boolean {
  if (element === null || element === undefined) return false;
  if (typeof element !== 'string') {
    if (Array.isArray(element)) {
      for (let i = 0; i < element.length; i++) if (elementHolds(atom, element[i])) return true;
      return false;
    }
    // numbers and booleans may equal a numeric string; an object is a value for presence only
    return typeof element !== 'object' || atom.present;
  }
  if (atom.present || atom.values.has(element)) return true;
  const prefixes = atom.prefixes;
  for (let i = 0; i < prefixes.length; i++) if (element.startsWith(prefixes[i]!)) return true;
  return atom.infixes.length > 0 && atom.containsInfix(element);
}

/**
 * Does the field value (raw, or lower-cased for a case-insensitive atom, as read by the EQL
 * field reader) satisfy the atom? Arrays: any element.
 */
export function atomHolds(atom: FieldAtom, value: unknown): boolean {
  return elementHolds(atom, value);
}

/** Two atoms with the same identity hold on exactly the same events. */
export function atomIdentity(atom: FieldAtom): string {
  return JSON.stringify([atom.field, atom.caseInsensitive, atom.present, [...atom.values].sort(), [...atom.prefixes].sort(), [...atom.infixes].sort()]);
}

interface AtomDraft {
  field: string;
  path: readonly string[];
  caseInsensitive: boolean;
  present: boolean;
  values: Set<string>;
  prefixes: Set<string>;
  infixes: Set<string>;
}

function draft(field: ExpressionNode & { kind: 'field' }, caseInsensitive: boolean): AtomDraft {
  return { field: field.name, path: field.path, caseInsensitive, present: false, values: new Set(), prefixes: new Set(), infixes: new Set() };
}

const NO_INFIX: ContainsAny = () => false;

function finish(d: AtomDraft): FieldAtom {
  if (d.present) return { field: d.field, path: d.path, caseInsensitive: d.caseInsensitive, present: true, values: new Set(), prefixes: [], infixes: [], containsInfix: NO_INFIX };
  const infixes = [...d.infixes];
  return {
    field: d.field, path: d.path, caseInsensitive: d.caseInsensitive, present: false, values: d.values, prefixes: [...d.prefixes], infixes,
    containsInfix: infixes.length === 0 ? NO_INFIX : compileContainsAny(infixes),
  };
}

function plainField(node: ExpressionNode): (ExpressionNode & { kind: 'field' }) | null {
  return node.kind === 'field' && !node.optional ? node : null;
}

function stringLiteral(node: ExpressionNode): string | null {
  return node.kind === 'literal' && typeof node.value === 'string' ? node.value : null;
}

/** Adds what one wildcard pattern (already case-folded as the matcher folds it) requires. */
function addPattern(d: AtomDraft, pattern: string): void {
  const firstWildcard = pattern.search(/[*?]/);
  if (firstWildcard < 0) d.values.add(pattern);
  else if (firstWildcard > 0) d.prefixes.add(pattern.slice(0, firstWildcard));
  else {
    const longest = pattern.split(/[*?]/).reduce((a, b) => (b.length > a.length ? b : a), '');
    if (longest === '') d.present = true;
    else d.infixes.add(longest);
  }
}

function leafAtom(node: ExpressionNode): FieldAtom | null {
  switch (node.kind) {
    case 'comparison': {
      if (node.op !== '==' && node.op !== '!=') return null;
      const field = plainField(node.left) ?? plainField(node.right);
      if (field === null) return null;
      const other = field === node.left ? node.right : node.left;
      if (node.op === '!=') {
        if (other.kind !== 'literal' || other.value !== null) return null;
        return finish({ ...draft(field, false), present: true });
      }
      const text = stringLiteral(other);
      if (text === null) return null;
      const d = draft(field, false);
      d.values.add(text);
      return finish(d);
    }
    case 'in': {
      const field = plainField(node.value);
      if (node.negated || field === null || node.list.length === 0) return null;
      const d = draft(field, node.caseInsensitive);
      for (const item of node.list) {
        const text = stringLiteral(item);
        if (text === null) return null;
        d.values.add(node.caseInsensitive ? text.toLowerCase() : text);
      }
      return finish(d);
    }
    case 'match': {
      const field = plainField(node.value);
      if (field === null) return null;
      const d = draft(field, node.caseInsensitive);
      const patterns = node.patterns.map((p: LiteralNode) => String(p.value));
      if (node.op === 'regex') d.present = true;
      else for (const raw of patterns) addPattern(d, node.caseInsensitive ? raw.toLowerCase() : raw);
      return finish(d);
    }
    default:
      return null;
  }
}

/** Characters most command lines and paths have: a run made only of them is a weaker infix. */
const COMMON_CHARACTERS = /[a-z0-9 ./_-]/g;

/** Longer runs first, then runs with more uncommon characters (`:` before `.`). */
function rarity(text: string): number {
  return text.length * 4 + (text.length - (text.match(COMMON_CHARACTERS)?.length ?? 0));
}

/** A single letter or digit: nearly every value has one, so it is not worth an atom. */
const WEAK_TEXT = /^[a-z0-9]$/i;

/** A regex's needs without the texts too weak to filter on (the matcher still tests them). */
function usefulNeeds(needs: RegexNeeds): RegexNeeds {
  return {
    prefix: needs.prefix,
    infixes: needs.infixes.filter((infix) => !WEAK_TEXT.test(infix)),
    anyOf: needs.anyOf.filter((characters) => !characters.every((c) => WEAK_TEXT.test(c))),
  };
}

/** The clauses a regex leaf requires (see the table above). */
function regexClauses(node: MatchNode): Clause[] {
  const field = plainField(node.value);
  if (field === null) return [];
  const present = [[finish({ ...draft(field, node.caseInsensitive), present: true })]];
  const found = regexNeeds(joinedRegexPattern(node), node.caseInsensitive);
  const needs = found?.map(usefulNeeds) ?? null;
  if (needs === null || needs.some((n) => n.prefix === '' && n.infixes.length === 0 && n.anyOf.length === 0)) return present;
  const byRarity = (texts: string[]): string[] => [...texts].sort((a, b) => rarity(b) - rarity(a));
  const atom = (prefixes: string[], infixes: string[]): FieldAtom => finish({ ...draft(field, node.caseInsensitive), prefixes: new Set(prefixes), infixes: new Set(infixes) });
  if (needs.length === 1) {
    const { prefix, infixes, anyOf } = needs[0]!;
    const clauses: Clause[] = [];
    for (const characters of anyOf) clauses.push([atom([], characters)]);
    for (const infix of byRarity(infixes)) clauses.push([atom([], [infix])]);
    // a one-character prefix ("/" of every path) filters little, and as the cheapest clause it
    // would be the one a disjunction picks: kept only when nothing else is needed
    if (prefix.length > 1 || (prefix !== '' && clauses.length === 0)) clauses.unshift([atom([prefix], [])]);
    return clauses;
  }
  const d = draft(field, node.caseInsensitive);
  for (const { prefix, infixes, anyOf } of needs) {
    if (prefix !== '') d.prefixes.add(prefix);
    else if (infixes.length > 0) d.infixes.add(byRarity(infixes)[0]!);
    else for (const c of anyOf[0]!) d.infixes.add(c);
  }
  return [[finish(d)]];
}

const MAX_CLAUSE_ATOMS = 16;

/** Fields nearly every process event shares a value of: a clause on them rarely skips a rule. */
const UNSELECTIVE_FIELDS: ReadonlySet<string> = new Set(['host.os.type', 'event.category', 'event.type', 'event.action']);

/**
 * Lower is better: how likely a clause is to skip a rule, and how cheap it is to test given the
 * free fields (resolved once per combination of their values, not per event).
 */
function clauseCost(clause: Clause, freeFields: ReadonlySet<string>): number {
  let worst = 0;
  for (const atom of clause) {
    let cost: number;
    if (atom.present) cost = 4;
    else if (UNSELECTIVE_FIELDS.has(atom.field)) cost = 3;
    else if (atom.infixes.length > 0) cost = 2;
    else cost = freeFields.has(atom.field) ? 0 : 1;
    worst = Math.max(worst, cost);
  }
  return worst * 100 + clause.length;
}

/** One clause from atoms: atoms on the same field and case handling merged. */
function mergeClause(atoms: readonly FieldAtom[]): Clause {
  const byKey = new Map<string, AtomDraft>();
  for (const atom of atoms) {
    const key = `${atom.field}\u0000${atom.caseInsensitive}`;
    let d = byKey.get(key);
    if (d === undefined) {
      d = { field: atom.field, path: atom.path, caseInsensitive: atom.caseInsensitive, present: false, values: new Set(), prefixes: new Set(), infixes: new Set() };
      byKey.set(key, d);
    }
    d.present ||= atom.present;
    for (const v of atom.values) d.values.add(v);
    for (const p of atom.prefixes) d.prefixes.add(p);
    for (const i of atom.infixes) d.infixes.add(i);
  }
  return [...byKey.values()].map(finish);
}

/**
 * The pseudo-field whose values are the lineage relations that hold for an event's process
 * (LineageTracker.relationsOf): no event has it, the rule index reads it from the rule set.
 */
export const LINEAGE_FIELD = '@lineage';

/**
 * The requirement of a stage's condition (see the table above). `freeFields` are fields the
 * index resolves without a per-event cost: a disjunction prefers clauses on them. Lineage
 * relations give clauses only with `lineage`, for an index that can read LINEAGE_FIELD.
 */
export function stageRequirement(condition: ExpressionNode, freeFields: ReadonlySet<string> = new Set(), options: { lineage?: boolean } = {}): StageRequirement {
  const leafClauses = (node: ExpressionNode): Clause[] => {
    const atom = leafAtom(node);
    return atom === null ? [] : [[atom]];
  };
  const requirement = (node: ExpressionNode): Clause[] => {
    switch (node.kind) {
      case 'logical': {
        if (node.op === 'and') return node.operands.flatMap(requirement);
        const chosen: FieldAtom[] = [];
        for (const operand of node.operands) {
          const clauses = requirement(operand);
          if (clauses.length === 0) return [];
          let best = clauses[0]!;
          for (const clause of clauses) if (clauseCost(clause, freeFields) < clauseCost(best, freeFields)) best = clause;
          chosen.push(...best);
        }
        const merged = mergeClause(chosen);
        return merged.length > MAX_CLAUSE_ATOMS ? [] : [merged];
      }
      case 'match':
        if (node.op === 'regex') return regexClauses(node);
        return leafClauses(node);
      case 'lineage': {
        if (options.lineage !== true) return [];
        const name = lineageRelationName(node.relation, lineageSubqueryKey(node.filter));
        return [[finish({ field: LINEAGE_FIELD, path: [LINEAGE_FIELD], caseInsensitive: false, present: false, values: new Set([name]), prefixes: new Set(), infixes: new Set() })]];
      }
      case 'comparison':
      case 'in':
        return leafClauses(node);
      default:
        return [];
    }
  };
  return requirement(condition);
}
