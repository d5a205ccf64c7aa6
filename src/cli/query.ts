/**
 * `execwarden query '<EQL>' [FILE…|-]`: runs one EQL query over NDJSON events and prints each
 * match as a JSON line: the event itself for an event query, `{"join_keys":[…],"events":[…]}`
 * for a sequence. A query that does not compile prints the error with a caret under the spot
 * and exits 2. One that compiles but reads fields execwarden never fills, or compares with an
 * unquoted word, gets a warning on stderr and runs (query-warnings.ts).
 */
import { compileQuery, EqlError, type CompiledQuery } from '../eql/index.js';
import { EXIT_OK, EXIT_USAGE } from './exit.js';
import type { CommandIo } from './io.js';
import { readEvents, writeJsonLine, writeText } from './ndjson.js';
import { queryWarnings } from './query-warnings.js';

export interface QueryActionOptions {
  query: string;
  files: string[];
  /** Event time for sequence maxspan. Default `@timestamp`. */
  timestampField?: string;
  /** Orders events with equal times in sequences. Default: none. */
  tiebreakerField?: string;
}

export interface QueryResult {
  exitCode: number;
  events: number;
  matches: number;
  malformed: number;
}

export const queryCommand = {
  name: 'query',
  arguments: '<eql> [files...]',
  description: 'Run an EQL query over ECS events (NDJSON files, or - for stdin) and print the matches as NDJSON',
  options: [
    { flags: '--timestamp-field <field>', description: 'event time field for sequence maxspan', defaultValue: '@timestamp' },
    { flags: '--tiebreaker-field <field>', description: 'field ordering sequence events with equal times' },
  ],
} as const;

export async function queryAction(options: QueryActionOptions, io: CommandIo): Promise<QueryResult> {
  const result: QueryResult = { exitCode: EXIT_OK, events: 0, matches: 0, malformed: 0 };
  let compiled: CompiledQuery;
  try {
    compiled = compileQuery(options.query);
  } catch (error) {
    if (!(error instanceof EqlError)) throw error;
    await writeText(io.stderr, `execwarden: query error: ${error.render(options.query)}\n`);
    return { ...result, exitCode: EXIT_USAGE };
  }
  for (const warning of queryWarnings(compiled.ast, options.query)) await writeText(io.stderr, `execwarden: ${warning}\n`);
  const matcher = compiled.kind === 'sequence'
    ? compiled.createMatcher({
        timestampField: options.timestampField ?? '@timestamp',
        ...(options.tiebreakerField === undefined ? {} : { tiebreakerField: options.tiebreakerField }),
      })
    : null;
  const records = readEvents(options.files, io, result);
  for await (const { value: event } of records) {
    if (io.signal?.aborted) break;
    result.events++;
    if (matcher === null) {
      if (compiled.kind === 'event' && compiled.matches(event)) {
        result.matches++;
        await writeJsonLine(io.stdout, event);
      }
      continue;
    }
    for (const match of matcher.push(event)) {
      result.matches++;
      await writeJsonLine(io.stdout, { join_keys: match.joinKeys, events: match.events });
    }
  }
  return result;
}
