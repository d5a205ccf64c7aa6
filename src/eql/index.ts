/**
 * Public surface of the EQL engine: parse and compile EQL queries (Elasticsearch's dialect, or
 * Elastic Defend's: dialect.ts), evaluate event queries on ECS events and run sequences on an
 * event stream. Knows nothing of rule files.
 */
/**
 * An ECS event: nested objects, flat dotted keys ("process.name") or a mix. Treat an event as
 * immutable once it is handed to the engine: field values and shared conditions are memoised
 * for the most recent event object, so evaluate a changed event as a new object.
 */
export type EqlEvent = Record<string, unknown>;

export type { EqlLimits } from './limits.js';
export { DEFAULT_LIMITS } from './limits.js';
export { EqlError, EqlErrorCode } from './errors.js';
export type { QueryAst } from './ast.js';
export type { EvaluationOrder } from './compile-expression.js';
export { parseQuery } from './parser.js';
export { compileQuery } from './compile.js';
export type {
  CompiledQuery,
  CompiledEventQuery,
  CompiledSequenceQuery,
  CompileOptions,
  SequenceMatcherCreateOptions,
} from './compile.js';
export type { SequenceMatcher, SequenceMatch, SequenceMatcherStats } from './sequence.js';
export { FUNCTION_NAMES } from './functions.js';
export { DEFAULT_DIALECT, type EqlDialect } from './dialect.js';
export { LineageTracker, type LineageStats } from './lineage.js';
