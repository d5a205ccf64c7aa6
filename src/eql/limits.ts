/**
 * Resource limits for parsing and running EQL. Rules come from files a user may not have written,
 * so every structure whose size a query controls is bounded. The defaults fit Elastic's published
 * rules with room to spare (the longest Linux process rule is about 10 KB).
 */
export interface EqlLimits {
  /** Longest accepted query text, in UTF-16 code units. */
  maxQueryLength: number;
  /** Deepest nesting of expressions (parentheses, operators, function calls). */
  maxDepth: number;
  /** Most values in one `in (...)` list, `: (...)` pattern list or function argument list. */
  maxListSize: number;
  /** Most partial sequences a sequence matcher keeps at once; the oldest is evicted beyond it. */
  maxOpenSequences: number;
  /**
   * Most bytes the events of one matcher's partial sequences may hold (an upper estimate:
   * sequence.ts eventBytes); the least recently advanced are evicted beyond it. A partial keeps
   * its events whole, and an event's command line may be 128 KiB: 10,000 of them would be
   * gigabytes, and the process they run in holds a few hundred megabytes of heap.
   */
  maxSequenceBytes: number;
  /**
   * Longest `regex` pattern, in UTF-16 code units, after the patterns of one operator are joined
   * with `|` (as Elasticsearch does). 1,000 is Elasticsearch's `index.max_regex_length` default.
   */
  maxRegexLength: number;
  /**
   * Largest compiled program (RE2 instructions) of one `regex` operator. Matching is linear in the
   * value, but each character can cost up to the program's size: a 10,000-instruction program
   * took 3 s on a 100 KB value, a 3,000-instruction one 0.3 s. Elastic's Linux rules need 511.
   */
  maxRegexProgramSize: number;
  /**
   * Most processes whose lineage (Defend's `descendant of`, `child of`, `event of`) one rule set
   * remembers; those not seen for the longest time are forgotten to stay within it, and at least
   * half of it, the most recently seen, are always kept (lineage.ts). Half the default is the
   * process table's default size, so every live process of a busy host fits.
   */
  maxLineageProcesses: number;
}

export const DEFAULT_LIMITS: Readonly<EqlLimits> = Object.freeze({
  maxQueryLength: 65_536,
  maxDepth: 128,
  maxListSize: 4_096,
  maxOpenSequences: 10_000,
  maxSequenceBytes: 16 * 1024 * 1024,
  maxRegexLength: 1_000,
  maxRegexProgramSize: 2_000,
  maxLineageProcesses: 65_536,
});

export function resolveLimits(overrides?: Partial<EqlLimits>): Readonly<EqlLimits> {
  if (overrides === undefined) return DEFAULT_LIMITS;
  const merged: EqlLimits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof EqlLimits)[]) {
    const value = overrides[key];
    if (value !== undefined) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`EQL limit ${key} must be a positive integer, got ${value}`);
      merged[key] = value;
    }
  }
  return Object.freeze(merged);
}
