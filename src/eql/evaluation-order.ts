/**
 * The order in which the operands of an `and`/`or` in condition position are evaluated.
 *
 * Why reordering is safe: in condition position an `and` holds when every operand is exactly
 * true and an `or` when one is (compile-expression.ts), so the result is the same in any order;
 * operands have no side effects (evaluation only reads the event and fills per-event memos) and
 * do not throw on any event shape. Value position (`(a and b) == x`, function arguments) keeps
 * the written order, because its three-valued `and` returns null at the first non-boolean
 * operand and is therefore order-sensitive.
 *
 * The estimate: each node gets a cost (rough work units, a Set lookup on one string being 1) and
 * the probability that it holds. Operands of an `and` run cheapest-per-rejection first
 * (cost / P(false)), those of an `or` cheapest-per-acceptance first (cost / P(true)); this is the
 * classic order for independent filters. Probabilities are coarse guesses by operator: an equality,
 * `in` or pattern list on a field rarely holds, `!=`, `not` and `!= null` almost always do. Ties
 * keep the written order, so the result is deterministic.
 */
import type { ExpressionNode, LogicalNode } from './ast.js';

export interface ConditionEstimate {
  /** Expected work to evaluate the node, after its own operands have been ordered. */
  cost: number;
  /** Guessed probability that the node holds on an event. */
  pTrue: number;
}

const RARELY = 0.1;
const OFTEN = 0.9;
const EVEN = 0.5;
/** Probabilities are kept away from 0 and 1 so that ratios stay finite. */
const clamp = (p: number): number => Math.min(0.99, Math.max(0.01, p));

/** Fields that usually hold several strings (each element is tested). */
const MULTI_VALUED = /(^|\.)(args|env_vars)$|\.capabilities\.(effective|permitted)$/;
/** Fields whose values are usually long (a pattern scans them). */
const LONG_TEXT = /(^|\.)(command_line|env_vars|args)$/;

function fieldFactor(node: ExpressionNode): number {
  if (node.kind !== 'field' && node.kind !== 'stageField') return 3; // a computed value: a function or arithmetic on the way
  return (MULTI_VALUED.test(node.name) ? 4 : 1) * (LONG_TEXT.test(node.name) ? 2 : 1);
}

function valueCost(node: ExpressionNode): number {
  switch (node.kind) {
    case 'literal':
      return 0;
    case 'field':
    case 'stageField':
      return 1;
    case 'call':
      return 5 + node.args.reduce((sum, arg) => sum + valueCost(arg), 0);
    case 'arithmetic':
      return 2 + valueCost(node.left) + valueCost(node.right);
    case 'negate':
    case 'not':
      return 1 + valueCost(node.operand);
    default:
      return estimateCondition(node).cost;
  }
}

/** Cost and probability of a node in condition position. */
export function estimateCondition(node: ExpressionNode): ConditionEstimate {
  switch (node.kind) {
    case 'logical': {
      const ordered = orderOperands(node.op, node.operands.map(estimateCondition));
      return node.op === 'and' ? chainAnd(ordered) : chainOr(ordered);
    }
    case 'not': {
      const inner = estimateCondition(node.operand);
      return { cost: inner.cost, pTrue: clamp(1 - inner.pTrue) };
    }
    case 'comparison': {
      const { op, left, right } = node;
      const cost = 1 + valueCost(left) + valueCost(right);
      if (op === '==') return { cost, pTrue: RARELY };
      if (op === '!=') return { cost, pTrue: OFTEN };
      return { cost: cost + 1, pTrue: EVEN };
    }
    case 'in':
      return { cost: fieldFactor(node.value) + valueCost(node.value), pTrue: node.negated ? OFTEN : RARELY };
    case 'match': {
      let perValue = 0;
      for (const pattern of node.patterns) {
        const text = String(pattern.value);
        if (node.op === 'regex') perValue += 20;
        else if (text.includes('*') || text.includes('?')) perValue += 1;
      }
      return { cost: valueCost(node.value) + fieldFactor(node.value) * Math.max(1, perValue), pTrue: RARELY };
    }
    case 'field':
    case 'stageField':
      return { cost: 2, pTrue: EVEN };
    case 'lineage':
      // a map lookup and a bit test, memoised per event (lineage.ts); most processes have no such ancestor
      return { cost: 2, pTrue: RARELY };
    case 'literal':
      return { cost: 0, pTrue: node.value === true ? 0.99 : 0.01 };
    case 'call':
    case 'arithmetic':
    case 'negate':
      return { cost: valueCost(node), pTrue: EVEN };
  }
}

function chainAnd(ordered: ConditionEstimate[]): ConditionEstimate {
  let cost = 0;
  let reach = 1;
  for (const e of ordered) {
    cost += reach * e.cost;
    reach *= e.pTrue;
  }
  return { cost, pTrue: clamp(reach) };
}

function chainOr(ordered: ConditionEstimate[]): ConditionEstimate {
  let cost = 0;
  let reach = 1;
  for (const e of ordered) {
    cost += reach * e.cost;
    reach *= 1 - e.pTrue;
  }
  return { cost, pTrue: clamp(1 - reach) };
}

function orderOperands(op: 'and' | 'or', estimates: ConditionEstimate[]): ConditionEstimate[] {
  return evaluationOrder(op, estimates).map((i) => estimates[i]);
}

/** Indices of `estimates` in the order the operands of an `op` chain should run. */
function evaluationOrder(op: 'and' | 'or', estimates: readonly ConditionEstimate[]): number[] {
  const rank = (e: ConditionEstimate): number => e.cost / (op === 'and' ? 1 - e.pTrue : e.pTrue);
  return estimates.map((_, i) => i).sort((a, b) => rank(estimates[a]) - rank(estimates[b]) || a - b);
}

/** The operands of an and/or chain in condition position, in the order to evaluate them. */
export function orderedOperands(node: LogicalNode): ExpressionNode[] {
  const order = evaluationOrder(node.op, node.operands.map(estimateCondition));
  return order.map((i) => node.operands[i]);
}
