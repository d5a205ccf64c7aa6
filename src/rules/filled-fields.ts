/**
 * Which fields of a rule's query execwarden's events can give a value, and whether the query can
 * match this agent's events at all.
 *
 * The filled fields are not a kept list: they are what the event builder really writes
 * (src/ecs/field-inventory.ts produces documents and lists their fields). A rule that reads a
 * field outside them still loads, but that part of its query never sees a value, so the loader
 * warns about it.
 *
 * A part of a query that can never hold on this agent's events is left out of that warning: a
 * conjunction that requires `host.os.type`, `event.action`, `event.type`, `event.kind` or
 * `event.category` to equal only values execwarden never writes (a Windows branch of a
 * cross-platform rule, `event.action == "load_module"`) cannot be true, whatever its other fields
 * hold. A whole query that can never hold is reported once as such ("never matches on this
 * agent") instead of as a list of missing fields. Only exact tests count (`==`, `in`, `in~`, and
 * `:` without wildcards, case folded where the operator folds); anything else is assumed possible.
 */
import type { EventFilterNode, ExpressionNode, QueryAst } from '../eql/ast.js';
import { fieldInventory, KIND_FIELDS } from '../ecs/field-inventory.js';

export const FILLED_FIELDS: ReadonlySet<string> = fieldInventory().fields;

/** The fields in `fields` that execwarden never fills, sorted. */
export function unfilledFields(fields: Iterable<string>): string[] {
  const missing = new Set<string>();
  for (const field of fields) if (!FILLED_FIELDS.has(field)) missing.add(field);
  return [...missing].sort();
}

const KIND_FIELD_SET: ReadonlySet<string> = new Set(KIND_FIELDS);

export interface QueryReach {
  /** Fields read by the parts of the query that can hold on this agent's events. */
  fields: Set<string>;
  /** Why the whole query can never match here (null when it can). */
  neverMatches: string | null;
  /**
   * When it can never match because a stage reads events of a category execwarden does not
   * produce (network, file, dns, ...): that category.
   */
  missingCategory: string | null;
}

function literalStrings(nodes: readonly ExpressionNode[]): string[] | null {
  const values: string[] = [];
  for (const node of nodes) {
    if (node.kind !== 'literal' || typeof node.value !== 'string') return null;
    values.push(node.value);
  }
  return values;
}

/** For an exact test of a kind field on literals: the field and the values it accepts. */
function kindTest(node: ExpressionNode): { field: string; values: string[]; folded: boolean } | null {
  switch (node.kind) {
    case 'comparison': {
      if (node.op !== '==') return null;
      const [field, literal] = node.left.kind === 'field' ? [node.left, node.right] : [node.right, node.left];
      if (field.kind !== 'field' || !KIND_FIELD_SET.has(field.name)) return null;
      const values = literalStrings([literal]);
      return values ? { field: field.name, values, folded: false } : null;
    }
    case 'in': {
      if (node.negated || node.value.kind !== 'field' || !KIND_FIELD_SET.has(node.value.name)) return null;
      const values = literalStrings(node.list);
      return values ? { field: node.value.name, values, folded: node.caseInsensitive } : null;
    }
    case 'match': {
      if (node.op !== ':' || node.value.kind !== 'field' || !KIND_FIELD_SET.has(node.value.name)) return null;
      const values = literalStrings(node.patterns);
      if (!values || values.some((v) => v.includes('*') || v.includes('?'))) return null;
      return { field: node.value.name, values, folded: true };
    }
    default:
      return null;
  }
}

/** The reason a node can never hold, or null. */
function impossible(node: ExpressionNode): string | null {
  if (node.kind === 'lineage') {
    // no process of this agent's events can have matched a subquery that never holds here
    const reason = filterImpossible(node.filter);
    return reason === null ? null : `its '${node.relation} of' subquery can never hold: ${reason}`;
  }
  if (node.kind === 'logical') {
    const reasons = node.operands.map(impossible);
    if (node.op === 'and') return reasons.find((reason) => reason !== null) ?? null;
    return reasons.every((reason) => reason !== null) ? reasons[0] : null;
  }
  const test = kindTest(node);
  if (test === null) return null;
  const written = fieldInventory().values.get(test.field) ?? new Set<string>();
  const fold = (v: string): string => (test.folded ? v.toLowerCase() : v);
  const writtenFolded = new Set([...written].map(fold));
  if (test.values.some((v) => writtenFolded.has(fold(v)))) return null;
  const shown = test.values.map((v) => JSON.stringify(v)).join(', ');
  return `it needs ${test.field} ${test.values.length > 1 ? 'in' : '=='} ${shown}, which execwarden never writes`;
}

function collectFields(node: ExpressionNode, into: Set<string>): void {
  if (impossible(node) !== null) return;
  switch (node.kind) {
    case 'field':
    case 'stageField':
      into.add(node.name);
      return;
    case 'literal':
      return;
    case 'lineage':
      collectFields(node.filter.condition, into);
      return;
    case 'comparison':
    case 'arithmetic':
      collectFields(node.left, into);
      collectFields(node.right, into);
      return;
    case 'match':
      collectFields(node.value, into);
      return;
    case 'in':
      collectFields(node.value, into);
      for (const item of node.list) collectFields(item, into);
      return;
    case 'logical':
      for (const operand of node.operands) collectFields(operand, into);
      return;
    case 'not':
    case 'negate':
      collectFields(node.operand, into);
      return;
    case 'call':
      for (const arg of node.args) collectFields(arg, into);
      return;
  }
}

/** Why a `category where condition` can never hold on this agent's events, or null. */
function filterImpossible(filter: EventFilterNode): string | null {
  const categories = fieldInventory().values.get('event.category') ?? new Set<string>();
  if (filter.category !== null && !categories.has(filter.category)) {
    return `it reads ${filter.category} events, which execwarden does not produce`;
  }
  return impossible(filter.condition);
}

function producesCategory(category: string | null): boolean {
  return category === null || (fieldInventory().values.get('event.category') ?? new Set<string>()).has(category);
}

function filterReach(filter: EventFilterNode, into: Set<string>): string | null {
  const reason = filterImpossible(filter);
  if (reason === null) collectFields(filter.condition, into);
  return reason;
}

/** See the module header. Join keys count as read. */
export function queryReach(ast: QueryAst): QueryReach {
  const fields = new Set<string>();
  const body = ast.body;
  let neverMatches: string | null = null;
  let missingCategory: string | null = null;
  const reach = (filter: EventFilterNode): void => {
    const reason = filterReach(filter, fields);
    if (reason === null) return;
    // a category the agent does not produce is the reason to give, whichever stage comes first
    if (missingCategory === null && !producesCategory(filter.category)) {
      missingCategory = filter.category;
      neverMatches = reason;
    }
    neverMatches ??= reason;
  };
  if (body.kind === 'eventQuery') {
    reach(body.filter);
  } else {
    for (const key of body.joinKeys) collectFields(key, fields);
    for (const term of body.terms) {
      reach(term.filter);
      for (const key of term.joinKeys) collectFields(key, fields);
    }
    // An until stage that can never hold only never ends a sequence.
    if (body.kind === 'sequenceQuery' && body.until !== null) filterReach(body.until.filter, fields);
  }
  return { fields, neverMatches, missingCategory };
}
