/**
 * Turns query text into a compiled query: parse, check, then build closures once. Event queries
 * become a single `matches(event)`; sequences become a plan from which any number of independent
 * streaming matchers can be created. Pipes, samples and missing-event stages are rejected here
 * with coded errors (detection rules do not use them).
 */
import { assertNever, type EventFilterNode, type ExpressionNode, type QueryAst, type SequenceQueryNode, type SequenceTermNode } from './ast.js';
import { createExpressionCompiler, type EvaluationOrder, type ExpressionCompiler } from './compile-expression.js';
import { EqlError, EqlErrorCode } from './errors.js';
import { fieldSlot } from './field-access.js';
import type { EqlEvent } from './index.js';
import { resolveLimits, type EqlLimits } from './limits.js';
import { parseQuery } from './parser.js';
import { checkQuery } from './semantics.js';
import { createSequenceMatcher, eventTimeReader, type CompiledStage, type SequenceMatcher } from './sequence.js';

export const EVENT_CATEGORY_FIELD = 'event.category';

export interface CompiledEventQuery {
  kind: 'event';
  source: string;
  /** The category after `where`'s left side; null for `any`. */
  category: string | null;
  /** Every field path the query reads, dotted. */
  fields: string[];
  matches(event: EqlEvent): boolean;
}

export interface SequenceMatcherCreateOptions {
  /** Field holding the event time: a number (ms since the epoch) or an ISO-8601 string. Default '@timestamp'. */
  timestampField?: string;
  /**
   * Field that orders events with equal timestamps. The matcher relies on the caller pushing
   * events in (timestamp, tiebreaker) order; the field is accepted for symmetry with
   * Elasticsearch's request and read by callers that sort.
   */
  tiebreakerField?: string;
  /** Overrides the limit the query was compiled with. */
  maxOpenSequences?: number;
}

export interface CompiledSequenceQuery {
  kind: 'sequence';
  source: string;
  /** Category of each stage, in order (a `with runs=N` stage appears N times); null for `any`. */
  categories: (string | null)[];
  fields: string[];
  maxspanMs: number | null;
  createMatcher(options?: SequenceMatcherCreateOptions): SequenceMatcher;
}

export type CompiledQuery = CompiledEventQuery | CompiledSequenceQuery;

export interface CompileOptions {
  limits?: Partial<EqlLimits>;
  /**
   * 'estimated' (the default) evaluates the operands of where-clause and/or chains cheapest and
   * most decisive first (evaluation-order.ts); 'written' keeps the query's order. Both give the
   * same results; 'written' exists to show that.
   */
  evaluationOrder?: EvaluationOrder;
}

export function compileQuery(text: string, options: CompileOptions = {}): CompiledQuery {
  const limits = resolveLimits(options.limits);
  const ast = parseQuery(text, limits);
  return compileAst(ast, text, limits, options.evaluationOrder);
}

export function compileAst(ast: QueryAst, source: string, limits: Readonly<EqlLimits>, evaluationOrder: EvaluationOrder = 'estimated'): CompiledQuery {
  if (ast.pipes.length > 0) {
    const pipe = ast.pipes[0];
    throw new EqlError(EqlErrorCode.PipesNotSupported, 'pipes are not supported in detection rules', source, pipe.start, pipe.end - pipe.start);
  }
  checkQuery(ast, source, limits);
  const body = ast.body;
  const compiler = createExpressionCompiler({ evaluationOrder, limits });
  switch (body.kind) {
    case 'eventQuery': {
      const matches = compileFilter(body.filter, compiler);
      return { kind: 'event', source, category: body.filter.category, fields: [...compiler.fields], matches };
    }
    case 'sequenceQuery':
      return compileSequence(body, source, limits, compiler);
    case 'sampleQuery':
      throw new EqlError(EqlErrorCode.UnsupportedFeature, 'sample queries are not supported', source, body.start, 6);
    default:
      return assertNever(body, 'query');
  }
}

function compileFilter(filter: EventFilterNode, compiler: ExpressionCompiler): (event: EqlEvent) => boolean {
  const condition = compiler.compileCondition(filter.condition);
  const category = filter.category;
  if (category === null) return (event) => condition(event) === true;
  compiler.fields.add(EVENT_CATEGORY_FIELD);
  const readCategory = fieldSlot(EVENT_CATEGORY_FIELD.split('.')).read;
  return (event) => {
    const value = readCategory(event);
    if (value !== category && !(Array.isArray(value) && value.includes(category))) return false;
    return condition(event) === true;
  };
}

function compileSequence(body: SequenceQueryNode, source: string, limits: Readonly<EqlLimits>, compiler: ExpressionCompiler): CompiledSequenceQuery {
  const missing = body.terms.find((term) => term.missing);
  if (missing !== undefined) {
    throw new EqlError(EqlErrorCode.UnsupportedFeature, 'missing-event stages (![...]) are not supported', source, missing.start, 1);
  }
  const compileStage = (term: SequenceTermNode): CompiledStage => {
    const keys: ExpressionNode[] = [...body.joinKeys, ...term.joinKeys];
    return {
      matches: compileFilter(term.filter, compiler),
      keyReaders: keys.map((key) => compiler.compileValue(key)),
      optionalKeys: keys.map((key) => key.kind === 'field' && key.optional),
    };
  };
  const stages: CompiledStage[] = [];
  const categories: (string | null)[] = [];
  for (const term of body.terms) {
    const stage = compileStage(term);
    for (let run = 0; run < term.runs; run++) {
      stages.push(stage);
      categories.push(term.filter.category);
    }
  }
  const until = body.until === null ? null : compileStage(body.until);
  const plan = { stages, until, maxspanMs: body.maxspanMs };
  const fields = [...compiler.fields];
  return {
    kind: 'sequence',
    source,
    categories,
    fields,
    maxspanMs: body.maxspanMs,
    createMatcher(options = {}) {
      const timestampField = options.timestampField ?? '@timestamp';
      const maxOpenSequences = options.maxOpenSequences ?? limits.maxOpenSequences;
      if (!Number.isInteger(maxOpenSequences) || maxOpenSequences < 1) {
        throw new RangeError(`maxOpenSequences must be a positive integer, got ${maxOpenSequences}`);
      }
      return createSequenceMatcher(plan, {
        timestampField,
        maxOpenSequences,
        readTimestamp: eventTimeReader(timestampField),
      });
    },
  };
}
