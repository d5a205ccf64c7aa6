/**
 * Compiles expression nodes to closures, once per query. Evaluating an event calls the closures
 * and never looks at the tree again. Field paths are resolved to readers up front, constant
 * patterns and `in` lists are pre-lowered and indexed, and the hot paths allocate nothing.
 *
 * Elastic Defend's dialect adds two nodes whose value depends on more than the event: a lineage
 * relation (asks the rule set's LineageTracker, through `compileLineage`) and a field of an earlier
 * stage of a sequence (read from `stageScope.events`, which the sequence matcher points at the
 * partial sequence it is extending). Neither is shared between queries or memoised per event.
 *
 * Two modes, matching Elasticsearch (see the table in comparison.ts):
 * - value mode (`compileValue`) yields null, a scalar or an array; conditions are three-valued;
 * - condition mode (`compileCondition`) is used for the where-clause and the operands of
 *   and/or/not under it: a leaf counts as true only when it is exactly true, and `not` is
 *   "does not match", so `not (f == "x")` is true on a missing field.
 */
import {
  assertNever,
  someExpression,
  structureKey,
  type ComparisonNode,
  type ExpressionNode,
  type InNode,
  type LineageNode,
  type LiteralNode,
  type LogicalNode,
  type MatchNode,
} from './ast.js';
import {
  anyElement,
  isNullish,
  lowerIfString,
  scalarCompare,
  scalarEquals,
  scalarToString,
  type Scalar,
  valuesEqual,
} from './comparison.js';
import { fieldSlot } from './field-access.js';
import { orderedOperands } from './evaluation-order.js';
import { arithmetic, lookupFunction } from './functions.js';
import { DEFAULT_LIMITS, type EqlLimits } from './limits.js';
import { compileRegexMatch } from './regex-match.js';
import { compilePatternList, type StringMatcher } from './wildcard.js';

export type Evaluator = (event: Record<string, unknown>) => unknown;

export interface ExpressionCompiler {
  compileValue(node: ExpressionNode): Evaluator;
  compileCondition(node: ExpressionNode): Evaluator;
  /** Dotted names of every field read so far. */
  readonly fields: Set<string>;
}

/**
 * Leaves (comparisons, `in`, pattern matches) are shared between every compiled query and
 * remember their result for the most recent event object: the 266 Linux rules repeat the same
 * gates (`host.os.type == "linux"`, `event.type == "start"`, `event.action in (...)`), and each is
 * then computed once per event instead of once per rule. The key is the node's structure without
 * source positions; the registry stops growing at SHARED_LEAF_LIMIT entries.
 */
const sharedLeaves = new Map<string, Evaluator>();
const SHARED_LEAF_LIMIT = 100_000;

function structuralKey(node: ExpressionNode, mode: string): string {
  return mode + structureKey(node);
}

function memoizeLastEvent(evaluate: Evaluator): Evaluator {
  let lastEvent: object | null = null;
  let lastResult: unknown = null;
  return (event) => {
    if (event === lastEvent) return lastResult;
    lastResult = evaluate(event);
    lastEvent = event;
    return lastResult;
  };
}

/** Reads a rule set's lineage state or the partial sequence, not the event alone. */
export function dependsOnContext(node: ExpressionNode): boolean {
  return someExpression(node, (n) => n.kind === 'lineage' || n.kind === 'stageField');
}

function shared(node: ExpressionNode, mode: string, build: () => Evaluator): Evaluator {
  if (dependsOnContext(node)) return build();
  const key = structuralKey(node, mode);
  const existing = sharedLeaves.get(key);
  if (existing !== undefined) return existing;
  const evaluator = memoizeLastEvent(build());
  if (sharedLeaves.size < SHARED_LEAF_LIMIT) sharedLeaves.set(key, evaluator);
  return evaluator;
}

/** 'estimated': and/or operands in condition position run in evaluation-order.ts's order. */
export type EvaluationOrder = 'estimated' | 'written';

/** The events of the partial sequence a stage is being tried against (index = stage). */
export interface StageScope {
  events: readonly Record<string, unknown>[];
}

export interface ExpressionCompilerOptions {
  evaluationOrder?: EvaluationOrder;
  limits?: Readonly<EqlLimits>;
  /** Compiles a lineage relation (compile.ts binds it to a LineageTracker). */
  compileLineage?: (node: LineageNode) => Evaluator;
  /** Where references to earlier stages read from. */
  stageScope?: StageScope;
}

export function createExpressionCompiler(options: ExpressionCompilerOptions = {}): ExpressionCompiler {
  const fields = new Set<string>();
  const limits = options.limits ?? DEFAULT_LIMITS;
  const stageScope = options.stageScope;

  /** Reads a field of the event stage `stage` matched; null when the scope holds no such event. */
  const stageFieldReader = (node: Extract<ExpressionNode, { kind: 'stageField' }>, lower: boolean): Evaluator => {
    if (stageScope === undefined) throw new Error(`'${node.alias}.${node.name}' needs a sequence to read from`);
    fields.add(node.name);
    const slot = fieldSlot(node.path);
    const read = lower ? slot.readLower : slot.read;
    const stage = node.stage;
    return () => {
      const earlier = stageScope.events[stage];
      return earlier === undefined ? null : read(earlier);
    };
  };

  const compileLineage = (node: LineageNode): Evaluator => {
    if (options.compileLineage === undefined) throw new Error(`'${node.relation} of' needs a lineage tracker`);
    return options.compileLineage(node);
  };
  const operandsOf = options.evaluationOrder === 'written' ? (node: LogicalNode) => node.operands : orderedOperands;

  const fieldReader = (name: string, path: string[]): Evaluator => {
    fields.add(name);
    return fieldSlot(path).read;
  };

  /** Records the fields a shared leaf reads (its closures may come from another query's compile). */
  const collectFields = (node: ExpressionNode): void => {
    JSON.stringify(node, (key, value) => {
      const kind = value !== null && typeof value === 'object' ? (value as ExpressionNode).kind : undefined;
      if (kind === 'field' || kind === 'stageField') fields.add((value as { name: string }).name);
      return value;
    });
  };

  /** Reads a value with strings lower-cased; fields share the per-event lower-cased memo. */
  const compileLowerValue = (node: ExpressionNode): Evaluator => {
    if (node.kind === 'field') {
      fields.add(node.name);
      return fieldSlot(node.path).readLower;
    }
    if (node.kind === 'stageField') return stageFieldReader(node, true);
    const read = compileValue(node);
    return (event) => lowerArray(read(event));
  };

  const compileCondition = (node: ExpressionNode): Evaluator => {
    switch (node.kind) {
      case 'logical': {
        const operands = operandsOf(node).map(compileCondition);
        if (node.op === 'and') {
          if (operands.length === 2) {
            const [a, b] = operands;
            return (event) => a(event) === true && b(event) === true;
          }
          return (event) => {
            for (let i = 0; i < operands.length; i++) if (operands[i](event) !== true) return false;
            return true;
          };
        }
        return (event) => {
          for (let i = 0; i < operands.length; i++) if (operands[i](event) === true) return true;
          return false;
        };
      }
      case 'not': {
        const operand = compileCondition(node.operand);
        return (event) => operand(event) !== true;
      }
      case 'lineage':
        return compileLineage(node);
      case 'comparison':
        collectFields(node);
        return shared(node, 'c', () => compileComparison(node, true));
      case 'in':
        collectFields(node);
        return shared(node, 'c', () => compileIn(node, true));
      case 'field':
      case 'call': {
        // a multi-valued boolean (a field, or a function mapped over one) holds when any element is true
        const read = compileValue(node);
        return (event) => {
          const value = read(event);
          return value === true || (Array.isArray(value) && value.includes(true));
        };
      }
      default:
        return compileValue(node);
    }
  };

  const compileValue = (node: ExpressionNode): Evaluator => {
    switch (node.kind) {
      case 'literal': {
        const value = node.value;
        return () => value;
      }
      case 'field':
        return fieldReader(node.name, node.path);
      case 'stageField':
        return stageFieldReader(node, false);
      case 'lineage':
        return compileLineage(node);
      case 'comparison':
        collectFields(node);
        return shared(node, 'v', () => compileComparison(node, false));
      case 'match':
        collectFields(node);
        return shared(node, 'v', () => compileMatch(node));
      case 'in':
        collectFields(node);
        return shared(node, 'v', () => compileIn(node, false));
      case 'logical': {
        const operands = node.operands.map(compileValue);
        const isAnd = node.op === 'and';
        return (event) => {
          let sawNull = false;
          for (let i = 0; i < operands.length; i++) {
            const value = operands[i](event);
            if (value === null) sawNull = true;
            else if (value === !isAnd) return !isAnd;
            else if (value !== isAnd) return null;
          }
          return sawNull ? null : isAnd;
        };
      }
      case 'not': {
        const operand = compileValue(node.operand);
        return (event) => {
          const value = operand(event);
          return typeof value === 'boolean' ? !value : null;
        };
      }
      case 'arithmetic': {
        const left = compileValue(node.left);
        const right = compileValue(node.right);
        const op = node.op;
        const floatDivision = isFloatExpression(node.left) || isFloatExpression(node.right);
        return (event) => arithmetic(op, left(event), right(event), floatDivision);
      }
      case 'negate': {
        const operand = compileValue(node.operand);
        return (event) => {
          const value = operand(event);
          return typeof value === 'number' ? -value : null;
        };
      }
      case 'call':
        return compileCall(node);
      default:
        return assertNever(node, 'expression');
    }
  };

  const compileComparison = (node: ComparisonNode, inCondition: boolean): Evaluator => {
    const { op, left, right } = node;
    if (op === '==' || op === '!=') {
      const wantsEqual = op === '==';
      // comparing with the null literal tests for a missing value
      const nullSide = isNullLiteral(right) ? left : isNullLiteral(left) ? right : undefined;
      if (nullSide !== undefined) {
        const read = compileValue(nullSide);
        return (event) => isNullish(read(event)) === wantsEqual;
      }
      const constantSide = right.kind === 'literal' ? right : left.kind === 'literal' ? left : undefined;
      const otherSide = constantSide === right ? left : right;
      if (constantSide !== undefined && !(otherSide.kind === 'field' && otherSide.optional)) {
        const read = compileValue(otherSide);
        const equals = equalsConstant(constantSide.value as Scalar);
        const missing = inCondition && otherSide.kind === 'field' ? !wantsEqual : null;
        return (event) => {
          const value = read(event);
          return value === null ? missing : equals(value) === wantsEqual;
        };
      }
      const readLeft = compileValue(left);
      const readRight = compileValue(right);
      // an absent `?field` stands for the null literal, so `?x == ?y` is true when both are absent
      const leftOptional = left.kind === 'field' && left.optional;
      const rightOptional = right.kind === 'field' && right.optional;
      // in a condition a missing field makes != true (index-query semantics); elsewhere null stays null
      const leftMissing = inCondition && left.kind === 'field' ? !wantsEqual : null;
      const rightMissing = inCondition && right.kind === 'field' ? !wantsEqual : null;
      return (event) => {
        const a = readLeft(event);
        if (a === null) return leftOptional ? isNullish(readRight(event)) === wantsEqual : leftMissing;
        const b = readRight(event);
        if (b === null) return rightOptional ? !wantsEqual : rightMissing;
        return valuesEqual(a, b) === wantsEqual;
      };
    }
    const readLeft = compileValue(left);
    const readRight = compileValue(right);
    const test = orderingTest(op);
    return (event) => {
      const a = readLeft(event);
      if (a === null) return null;
      const b = readRight(event);
      if (b === null) return null;
      if (!Array.isArray(a) && !Array.isArray(b)) {
        const order = scalarCompare(a, b);
        return order === null ? false : test(order);
      }
      return anyElement(a, (x) =>
        anyElement(b, (y) => {
          const order = scalarCompare(x, y);
          return order !== null && test(order);
        }),
      );
    };
  };

  const compileMatch = (node: MatchNode): Evaluator => {
    const ci = node.caseInsensitive;
    const read = ci ? compileLowerValue(node.value) : compileValue(node.value);
    const matcher = compilePatternSet(node, limits);
    const test = (element: unknown): boolean => {
      const s = scalarToString(element);
      return s !== null && matcher(s);
    };
    return (event) => {
      const value = read(event);
      if (value === null) return null;
      if (typeof value === 'string') return matcher(value);
      return anyElement(value, test);
    };
  };

  const compileIn = (node: InNode, inCondition: boolean): Evaluator => {
    const ci = node.caseInsensitive;
    const read = ci ? compileLowerValue(node.value) : compileValue(node.value);
    const negated = node.negated;
    // in a condition `f not in (...)` is true on a missing field (index-query semantics)
    const missing = inCondition && node.value.kind === 'field' ? negated : null;
    const contains = compileMembership(node.list, ci, compileValue);
    return (event) => {
      const value = read(event);
      if (value === null) return contains.hasNull ? !negated : missing;
      const found = contains.test(value, event);
      return found !== negated;
    };
  };

  const compileCall = (node: Extract<ExpressionNode, { kind: 'call' }>): Evaluator => {
    const spec = lookupFunction(node.name);
    if (spec === undefined) throw new Error(`unknown function ${node.name}`); // the checker reports it first
    if (spec.arithmeticOperator !== undefined) {
      // divide(30, 4.0) divides as floats, exactly like 30 / 4.0
      const [left, right] = node.args;
      return compileValue({ kind: 'arithmetic', op: spec.arithmeticOperator, left, right, start: node.start, end: node.end });
    }
    const args = node.args.map(compileValue);
    const ci = node.caseInsensitive;
    const evaluate = spec.evaluate;
    const count = args.length;
    // one argument array per call site, refilled each time: a call never runs inside itself
    const values = new Array<unknown>(count);
    return (event) => {
      for (let i = 0; i < count; i++) values[i] = args[i](event);
      const first = values[0];
      if (!Array.isArray(first)) return evaluate(values, ci);
      // a multi-valued first argument: apply to each element, the result is multi-valued too
      const results: unknown[] = [];
      for (const element of first) {
        if (element === null || element === undefined) continue;
        values[0] = element;
        const result = evaluate(values, ci);
        if (result !== null) results.push(result);
      }
      return results.length === 0 ? null : results.length === 1 ? results[0] : results;
    };
  };

  return { compileValue, compileCondition, fields };
}

/** Equality with a constant, for a value that is not null: any element of an array. */
function equalsConstant(constant: Scalar): (value: unknown) => boolean {
  const test = (value: unknown): boolean => value === constant || (typeof value !== typeof constant && scalarEquals(value, constant));
  return (value) => {
    if (value === constant) return true;
    if (!Array.isArray(value)) return test(value);
    for (let i = 0; i < value.length; i++) {
      const element = value[i];
      if (element !== null && element !== undefined && (Array.isArray(element) ? anyElement(element, test) : test(element))) return true;
    }
    return false;
  };
}

function isNullLiteral(node: ExpressionNode): boolean {
  return node.kind === 'literal' && node.value === null;
}

function isFloatExpression(node: ExpressionNode): boolean {
  switch (node.kind) {
    case 'literal':
      return node.isFloat;
    case 'arithmetic':
      return isFloatExpression(node.left) || isFloatExpression(node.right);
    case 'negate':
      return isFloatExpression(node.operand);
    default:
      return false;
  }
}

function orderingTest(op: '<' | '<=' | '>' | '>='): (order: number) => boolean {
  switch (op) {
    case '<':
      return (order) => order < 0;
    case '<=':
      return (order) => order <= 0;
    case '>':
      return (order) => order > 0;
    case '>=':
      return (order) => order >= 0;
  }
}

/**
 * One matcher for all patterns of a match node: wildcard lists (see compilePatternList), or one
 * linear-time program for a `regex` list (see regex-match.ts). Values arrive lower-cased for the
 * case-insensitive forms.
 */
function compilePatternSet(node: MatchNode, limits: Readonly<EqlLimits>): StringMatcher {
  if (node.op === 'regex') return compileRegexMatch(node, limits);
  return compilePatternList(node.patterns.map((p: LiteralNode) => String(p.value)), node.caseInsensitive);
}

interface Membership {
  /** The list holds the null literal: a missing value is "in" it. */
  hasNull: boolean;
  test(value: unknown, event: Record<string, unknown>): boolean;
}

/** `in` lists: constants are indexed in Sets (strings, numbers, booleans); other items are evaluated. */
function compileMembership(list: ExpressionNode[], ci: boolean, compileValue: (n: ExpressionNode) => Evaluator): Membership {
  const strings = new Set<string>();
  const numbers = new Set<number>();
  const booleans = new Set<boolean>();
  const dynamic: Evaluator[] = [];
  let hasNull = false;
  for (const item of list) {
    if (item.kind === 'literal') {
      const value = item.value;
      if (value === null) hasNull = true;
      else if (typeof value === 'string') {
        strings.add(ci ? value.toLowerCase() : value);
        const n = value.length > 0 && value.trim() === value ? Number(value) : NaN;
        if (!Number.isNaN(n)) numbers.add(n);
      } else if (typeof value === 'number') {
        numbers.add(value);
        strings.add(String(value));
      } else booleans.add(value);
    } else {
      dynamic.push(compileValue(item));
    }
  }
  // values arrive already lower-cased for in~
  const testScalar = (element: unknown): boolean => {
    switch (typeof element) {
      case 'string':
        return strings.has(element);
      case 'number':
        return numbers.has(element);
      case 'boolean':
        return booleans.has(element);
      default:
        return false;
    }
  };
  if (dynamic.length === 0) {
    return {
      hasNull,
      test: (value) => (typeof value === 'string' ? strings.has(value) : anyElement(value, testScalar)),
    };
  }
  return {
    hasNull,
    test: (value, event) => {
      if (anyElement(value, testScalar)) return true;
      for (const read of dynamic) {
        const candidate = read(event);
        if (candidate === null) continue;
        if (valuesEqual(value, ci ? lowerArray(candidate) : candidate)) return true;
      }
      return false;
    },
  };
}

function lowerArray(value: unknown): unknown {
  return Array.isArray(value) ? value.map(lowerIfString) : lowerIfString(value);
}
