/**
 * EQL syntax tree. Every node is a discriminated union member on `kind` with the source span it
 * came from (`start` inclusive, `end` exclusive, as offsets into the query text).
 */

export interface Span {
  start: number;
  end: number;
}

export type LiteralValue = string | number | boolean | null;

export interface LiteralNode extends Span {
  kind: 'literal';
  value: LiteralValue;
  /** Numbers written with a fraction or exponent: they force floating-point division. */
  isFloat: boolean;
}

export interface FieldNode extends Span {
  kind: 'field';
  /** Path segments, e.g. ['process', 'parent', 'name']. */
  path: string[];
  /** The dotted name, e.g. 'process.parent.name'. */
  name: string;
  /** Written as `?field`: a field missing from the mapping is not an error. */
  optional: boolean;
}

export type ComparisonOperator = '==' | '!=' | '<' | '<=' | '>' | '>=';
export type ArithmeticOperator = '+' | '-' | '*' | '/' | '%';
export type MatchOperator = ':' | 'like' | 'regex';

export interface ComparisonNode extends Span {
  kind: 'comparison';
  op: ComparisonOperator;
  left: ExpressionNode;
  right: ExpressionNode;
}

/** `:`, `like`, `like~`, `regex`, `regex~`: the right side is one or more string constants. */
export interface MatchNode extends Span {
  kind: 'match';
  op: MatchOperator;
  caseInsensitive: boolean;
  value: ExpressionNode;
  patterns: LiteralNode[];
}

export interface InNode extends Span {
  kind: 'in';
  negated: boolean;
  caseInsensitive: boolean;
  value: ExpressionNode;
  list: ExpressionNode[];
}

/** A chain of `and` or of `or`, flattened: `a and b and c` has three operands. */
export interface LogicalNode extends Span {
  kind: 'logical';
  op: 'and' | 'or';
  operands: ExpressionNode[];
}

export interface NotNode extends Span {
  kind: 'not';
  operand: ExpressionNode;
}

export interface ArithmeticNode extends Span {
  kind: 'arithmetic';
  op: ArithmeticOperator;
  left: ExpressionNode;
  right: ExpressionNode;
}

export interface NegateNode extends Span {
  kind: 'negate';
  operand: ExpressionNode;
}

export interface CallNode extends Span {
  kind: 'call';
  /** Function name as written (resolved case-insensitively by the checker). */
  name: string;
  caseInsensitive: boolean;
  args: ExpressionNode[];
}

/**
 * Elastic Defend's dialect, inside a sequence: a field of the event an earlier stage of the same
 * partial sequence matched, written `<alias>.<field>` where `[ ... ] as <alias>` named that stage
 * (`event0.process.command_line`).
 */
export interface StageFieldNode extends Span {
  kind: 'stageField';
  /** The stage's name as written. */
  alias: string;
  /** Position of the named stage in the sequence (0-based), i.e. of its event in the match. */
  stage: number;
  /** Path of the field inside that event, e.g. ['process', 'command_line']. */
  path: string[];
  /** The dotted field name inside that event. */
  name: string;
}

/**
 * Elastic Defend's dialect (from the original EQL): a relation between the event's process and
 * processes a subquery matched. `descendant of [q]`: some ancestor of the process (its parent, the
 * parent's parent, ...) had an event matching q; `child of [q]`: its parent did; `event of [q]`:
 * the process itself did. See lineage.ts for when a match counts.
 */
export type LineageRelation = 'descendant' | 'child' | 'event';

export interface LineageNode extends Span {
  kind: 'lineage';
  relation: LineageRelation;
  filter: EventFilterNode;
}

export type ExpressionNode =
  | LiteralNode
  | FieldNode
  | StageFieldNode
  | LineageNode
  | ComparisonNode
  | MatchNode
  | InNode
  | LogicalNode
  | NotNode
  | ArithmeticNode
  | NegateNode
  | CallNode;

/** `category where condition`; category null for `any`. */
export interface EventFilterNode extends Span {
  kind: 'eventFilter';
  category: string | null;
  condition: ExpressionNode;
}

export interface EventQueryNode extends Span {
  kind: 'eventQuery';
  filter: EventFilterNode;
}

export interface SequenceTermNode extends Span {
  kind: 'sequenceTerm';
  filter: EventFilterNode;
  joinKeys: ExpressionNode[];
  /** `with runs=N`: the term stands for N consecutive identical stages. */
  runs: number;
  /** Written as `![...]`: a missing event. */
  missing: boolean;
  /** Elastic Defend's dialect: the name given with `[ ... ] as <name>`, null when unnamed. */
  alias: string | null;
}

export interface SequenceQueryNode extends Span {
  kind: 'sequenceQuery';
  joinKeys: ExpressionNode[];
  maxspanMs: number | null;
  terms: SequenceTermNode[];
  until: SequenceTermNode | null;
}

export interface SampleQueryNode extends Span {
  kind: 'sampleQuery';
  joinKeys: ExpressionNode[];
  terms: SequenceTermNode[];
}

export interface PipeNode extends Span {
  kind: 'pipe';
  name: string;
  args: ExpressionNode[];
}

export type QueryBodyNode = EventQueryNode | SequenceQueryNode | SampleQueryNode;

export interface QueryAst extends Span {
  kind: 'query';
  body: QueryBodyNode;
  pipes: PipeNode[];
}

export function assertNever(value: never, what = 'node'): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(value)}`);
}

/** The expressions directly under `node` (a lineage subquery's condition counts as one). */
export function expressionChildren(node: ExpressionNode): ExpressionNode[] {
  switch (node.kind) {
    case 'literal':
    case 'field':
    case 'stageField':
      return [];
    case 'comparison':
    case 'arithmetic':
      return [node.left, node.right];
    case 'match':
      return [node.value, ...node.patterns];
    case 'in':
      return [node.value, ...node.list];
    case 'logical':
      return node.operands;
    case 'not':
    case 'negate':
      return [node.operand];
    case 'call':
      return node.args;
    case 'lineage':
      return [node.filter.condition];
    default:
      return assertNever(node, 'expression');
  }
}

/** True when `node` or any expression under it satisfies `test`. */
export function someExpression(node: ExpressionNode, test: (node: ExpressionNode) => boolean): boolean {
  if (test(node)) return true;
  for (const child of expressionChildren(node)) if (someExpression(child, test)) return true;
  return false;
}

/** A node's structure without its source positions: equal subtrees get equal keys. */
export function structureKey(node: object): string {
  return JSON.stringify(node, (key, value) => (key === 'start' || key === 'end' ? undefined : value));
}
