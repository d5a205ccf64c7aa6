/**
 * Turns query text into a compiled query: parse, check, then build closures once. Event queries
 * become a single `matches(event)`; sequences become a plan from which any number of independent
 * streaming matchers can be created. Pipes, samples and missing-event stages are rejected here
 * with coded errors (detection rules do not use them).
 *
 * A query in Defend's dialect that uses lineage (`descendant of`, ...) registers its subqueries in
 * a LineageTracker, the one given in the options or else one of its own, exposed as `lineage`:
 * its results depend on the events that tracker observed, so whoever runs the query must
 * observe() every event of the stream in it first. withLineage() compiles the same query against
 * another tracker, so several queries (a rule set) share one tracker and one pass per event.
 */
import { assertNever, someExpression, type EventFilterNode, type ExpressionNode, type LineageNode, type QueryAst, type SequenceQueryNode, type SequenceTermNode } from './ast.js';
import { createExpressionCompiler, type EvaluationOrder, type ExpressionCompiler, type StageScope } from './compile-expression.js';
import { DEFAULT_DIALECT, type EqlDialect } from './dialect.js';
import { EqlError, EqlErrorCode } from './errors.js';
import { fieldSlot } from './field-access.js';
import type { EqlEvent } from './index.js';
import { resolveLimits, type EqlLimits } from './limits.js';
import { LineageTracker, lineageSubqueryKey } from './lineage.js';
import { parseQuery } from './parser.js';
import { checkQuery } from './semantics.js';
import { createSequenceMatcher, eventTimeReader, type CompiledStage, type SequenceMatcher } from './sequence.js';

export const EVENT_CATEGORY_FIELD = 'event.category';

/** What every compiled query carries besides its kind. */
interface CompiledCommon {
  source: string;
  /** The parsed query (read-only: the compiled closures were built from it). */
  ast: QueryAst;
  dialect: EqlDialect;
  /**
   * The tracker the query's lineage relations read, or null when it has none. Observe every event
   * in it before evaluating the query on the event.
   */
  lineage: LineageTracker | null;
  /** The same query compiled against `tracker` (this query itself when it uses no lineage). */
  withLineage(tracker: LineageTracker): CompiledQuery;
}

export interface CompiledEventQuery extends CompiledCommon {
  kind: 'event';
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

export interface CompiledSequenceQuery extends CompiledCommon {
  kind: 'sequence';
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
  /** Default: Elasticsearch's. */
  dialect?: EqlDialect;
  /** Where lineage subqueries are registered; default: a tracker of the query's own. */
  lineage?: LineageTracker;
}

export function compileQuery(text: string, options: CompileOptions = {}): CompiledQuery {
  const limits = resolveLimits(options.limits);
  const dialect = options.dialect ?? DEFAULT_DIALECT;
  const ast = parseQuery(text, limits, dialect);
  return compileAst(ast, text, limits, options.evaluationOrder, { dialect, ...(options.lineage === undefined ? {} : { lineage: options.lineage }) });
}

function usesLineage(ast: QueryAst): boolean {
  const body = ast.body;
  const terms = body.kind === 'eventQuery' ? [body] : [...body.terms, ...(body.kind === 'sequenceQuery' && body.until !== null ? [body.until] : [])];
  return terms.some((term) => someExpression(term.filter.condition, (node) => node.kind === 'lineage'));
}

export function compileAst(
  ast: QueryAst,
  source: string,
  limits: Readonly<EqlLimits>,
  evaluationOrder: EvaluationOrder = 'estimated',
  context: { dialect?: EqlDialect; lineage?: LineageTracker } = {},
): CompiledQuery {
  if (ast.pipes.length > 0) {
    const pipe = ast.pipes[0];
    throw new EqlError(EqlErrorCode.PipesNotSupported, 'pipes are not supported in detection rules', source, pipe.start, pipe.end - pipe.start);
  }
  checkQuery(ast, source, limits);
  const body = ast.body;
  const dialect = context.dialect ?? DEFAULT_DIALECT;
  const lineage = usesLineage(ast) ? (context.lineage ?? new LineageTracker(limits.maxLineageProcesses)) : null;
  const stageScope: StageScope = { events: [] };
  let compiler: ExpressionCompiler;
  const compileLineage = (node: LineageNode) => {
    const subquery = compileFilter(node.filter, compiler);
    const bit = lineage!.register(lineageSubqueryKey(node.filter), subquery);
    const relation = node.relation;
    const tracker = lineage!;
    return (event: EqlEvent) => tracker.holds(event, relation, bit);
  };
  compiler = createExpressionCompiler({ evaluationOrder, limits, compileLineage, stageScope });
  const common: CompiledCommon = {
    source,
    ast,
    dialect,
    lineage,
    withLineage(tracker) {
      return lineage === null ? compiled : compileAst(ast, source, limits, evaluationOrder, { dialect, lineage: tracker });
    },
  };
  let compiled: CompiledQuery;
  switch (body.kind) {
    case 'eventQuery': {
      const matches = compileFilter(body.filter, compiler);
      compiled = { ...common, kind: 'event', category: body.filter.category, fields: [...compiler.fields], matches };
      return compiled;
    }
    case 'sequenceQuery':
      compiled = compileSequence(body, source, limits, compiler, stageScope, common);
      return compiled;
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

function compileSequence(
  body: SequenceQueryNode,
  source: string,
  limits: Readonly<EqlLimits>,
  compiler: ExpressionCompiler,
  stageScope: StageScope,
  common: CompiledCommon,
): CompiledSequenceQuery {
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
      readsEarlierStages: someExpression(term.filter.condition, (node) => node.kind === 'stageField'),
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
  const plan = { stages, until, maxspanMs: body.maxspanMs, stageScope };
  const fields = [...compiler.fields];
  return {
    ...common,
    kind: 'sequence',
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
        maxSequenceBytes: limits.maxSequenceBytes,
        readTimestamp: eventTimeReader(timestampField),
      });
    },
  };
}
