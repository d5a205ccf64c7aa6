/**
 * Runs a set of loaded rules over a stream of events. Each event meets only its candidate rules
 * (rule-index.ts); event rules answer at once, sequence rules keep per-rule streaming state (one
 * SequenceMatcher each) and answer when a sequence completes. Matches an exception covers are
 * dropped and counted. Pure: no clock, no I/O.
 */
import { parseQuery, type EqlEvent, type SequenceMatcher } from '../eql/index.js';
import { ExceptionList } from './exceptions.js';
import { MEMO_FIELDS, RuleIndex, type StageFilter } from './rule-index.js';
import { stageRequirement } from './stage-requirements.js';
import type { LoadedRule } from './rule-types.js';

export interface RuleMatch {
  rule: LoadedRule;
  kind: 'event' | 'sequence';
  /** The matched event, or the events of a sequence in order. */
  events: EqlEvent[];
  /** The sequence's join key values; empty for event rules. */
  joinKeys: unknown[];
}

export interface RuleSetOptions {
  exceptions?: ExceptionList;
  /** Field holding event time for sequence maxspan; default `@timestamp`. */
  timestampField?: string;
  /** Cap on open partial sequences per sequence rule (EQL's default when omitted). */
  maxOpenSequences?: number;
}

export interface RuleSetStats {
  events: number;
  /** Rule evaluations performed (candidate rules met by events). */
  evaluations: number;
  matches: number;
  suppressed: number;
  /** Evaluations that threw (a bug or a hostile event); the rule is treated as not matching. */
  errors: number;
  matchesByRule: Record<string, number>;
  suppressedByRule: Record<string, number>;
  sequences: Record<string, { open: number; evicted: number; expired: number; completed: number }>;
}

interface RuleRunner {
  rule: LoadedRule;
  matcher: SequenceMatcher | null;
}

/**
 * One filter per bracket of the query (a `with runs=N` bracket stands for N identical stages, and
 * one filter covers them all), `until` included, each with its requirement.
 */
export function indexStages(rule: LoadedRule): StageFilter[] {
  const body = parseQuery(rule.compiled.source).body;
  const terms = body.kind === 'eventQuery' ? [body] : [...body.terms, ...(body.kind === 'sequenceQuery' && body.until !== null ? [body.until] : [])];
  return terms.map(({ filter }) => ({
    category: filter.category === null || filter.category.toLowerCase() === 'any' ? null : filter.category.toLowerCase(),
    requirement: stageRequirement(filter.condition, MEMO_FIELDS),
  }));
}

export class RuleSet {
  readonly rules: readonly LoadedRule[];
  readonly exceptions: ExceptionList;
  private readonly index: RuleIndex<RuleRunner>;
  private readonly runners: RuleRunner[];
  private readonly counters = { events: 0, evaluations: 0, matches: 0, suppressed: 0, errors: 0 };
  private readonly matchesByRule = new Map<string, number>();
  private readonly suppressedByRule = new Map<string, number>();

  constructor(rules: readonly LoadedRule[], options: RuleSetOptions = {}) {
    this.rules = rules;
    this.exceptions = options.exceptions ?? ExceptionList.empty();
    this.runners = rules.map((rule) => ({
      rule,
      matcher: rule.compiled.kind === 'sequence'
        ? rule.compiled.createMatcher({
            timestampField: options.timestampField ?? '@timestamp',
            ...(rule.tiebreakerField === null ? {} : { tiebreakerField: rule.tiebreakerField }),
            ...(options.maxOpenSequences === undefined ? {} : { maxOpenSequences: options.maxOpenSequences }),
          })
        : null,
    }));
    this.index = new RuleIndex(this.runners.map((runner) => ({ item: runner, stages: indexStages(runner.rule) })));
  }

  get size(): number {
    return this.rules.length;
  }

  /** The rules `event` is offered to. */
  candidates(event: EqlEvent): LoadedRule[] {
    return this.index.candidates(event).map((runner) => runner.rule);
  }

  /** Feeds one event; returns the matches it completes, exceptions already applied. */
  evaluate(event: EqlEvent): RuleMatch[] {
    this.counters.events++;
    const candidates = this.index.candidates(event);
    let out: RuleMatch[] | undefined;
    for (let i = 0; i < candidates.length; i++) {
      const runner = candidates[i]!;
      this.counters.evaluations++;
      let found: RuleMatch[] | undefined;
      try {
        found = this.run(runner, event);
      } catch {
        this.counters.errors++;
        continue;
      }
      if (found === undefined) continue;
      for (const match of found) {
        if (this.exceptions.size > 0 && this.exceptions.suppress(match.rule.ruleId, match.events) !== undefined) {
          this.counters.suppressed++;
          bump(this.suppressedByRule, match.rule.ruleId);
          continue;
        }
        this.counters.matches++;
        bump(this.matchesByRule, match.rule.ruleId);
        (out ??= []).push(match);
      }
    }
    return out ?? [];
  }

  stats(): RuleSetStats {
    const sequences: RuleSetStats['sequences'] = {};
    for (const runner of this.runners) if (runner.matcher !== null) sequences[runner.rule.ruleId] = { ...runner.matcher.stats };
    return {
      ...this.counters,
      matchesByRule: Object.fromEntries(this.matchesByRule),
      suppressedByRule: Object.fromEntries(this.suppressedByRule),
      sequences,
    };
  }

  private run(runner: RuleRunner, event: EqlEvent): RuleMatch[] | undefined {
    const { rule, matcher } = runner;
    if (matcher === null) {
      if (rule.compiled.kind !== 'event' || !rule.compiled.matches(event)) return undefined;
      return [{ rule, kind: 'event', events: [event], joinKeys: [] }];
    }
    const completed = matcher.push(event);
    if (completed.length === 0) return undefined;
    return completed.map((m) => ({ rule, kind: 'sequence', events: m.events, joinKeys: m.joinKeys }));
  }
}

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}
