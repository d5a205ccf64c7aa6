/**
 * Runs a set of loaded rules over a stream of events. Each event meets only its candidate rules
 * (rule-index.ts); event rules answer at once, sequence rules keep per-rule streaming state (one
 * SequenceMatcher each) and answer when a sequence completes. Matches an exception covers are
 * dropped and counted. Pure: no clock, no I/O.
 *
 * Rules in Defend's dialect that use process lineage (`descendant of`, ...) share one
 * LineageTracker per set: each such rule is compiled against it when the set is built, and every
 * event is observed in it before any rule sees the event, candidate or not, so the lineage is
 * the whole stream's. A new set (a reload) starts with no lineage.
 */
import type { ExpressionNode } from '../eql/ast.js';
import { LineageTracker, type CompiledQuery, type EqlEvent, type LineageStats, type SequenceMatcher } from '../eql/index.js';
import { ExceptionList } from './exceptions.js';
import { MEMO_FIELDS, RuleIndex, type StageFilter } from './rule-index.js';
import { atomHolds, LINEAGE_FIELD, stageRequirement } from './stage-requirements.js';
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
  /** Cap on processes the lineage tracker remembers (EQL's default when omitted). */
  maxLineageProcesses?: number;
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
  /** Present when a rule uses process lineage. */
  lineage?: LineageStats;
}

interface RuleRunner {
  rule: LoadedRule;
  /** The rule's query, compiled against the set's lineage tracker when it uses lineage. */
  compiled: CompiledQuery;
  matcher: SequenceMatcher | null;
}

/**
 * One filter per bracket of the query (a `with runs=N` bracket stands for N identical stages, and
 * one filter covers them all), `until` included, each with its requirement. A bracket whose
 * stages all come after the first is live only while a partial sequence that completed the stage
 * before one of them is open; `until` only while any partial sequence is.
 */
export function indexStages(rule: LoadedRule, options: { lineage?: boolean } = {}): StageFilter[] {
  // a rule's filters depend on its query alone: worked out once, whatever sets it joins
  const cache = options.lineage === true ? stagesWithLineage : stagesWithoutLineage;
  let stages = cache.get(rule.compiled);
  if (stages === undefined) {
    stages = computeStages(rule.compiled, options);
    cache.set(rule.compiled, stages);
  }
  return stages;
}

const stagesWithLineage = new WeakMap<CompiledQuery, StageFilter[]>();
const stagesWithoutLineage = new WeakMap<CompiledQuery, StageFilter[]>();

function computeStages(compiled: CompiledQuery, options: { lineage?: boolean }): StageFilter[] {
  const body = compiled.ast.body;
  const category = (name: string | null): string | null => (name === null || name.toLowerCase() === 'any' ? null : name.toLowerCase());
  const requirement = (condition: ExpressionNode) => stageRequirement(condition, MEMO_FIELDS, options);
  if (body.kind === 'eventQuery') return [{ category: category(body.filter.category), requirement: requirement(body.filter.condition) }];
  const filters: StageFilter[] = [];
  let first = 0;
  for (const { filter, runs } of body.terms) {
    const stage: StageFilter = { category: category(filter.category), requirement: requirement(filter.condition) };
    if (first > 0) stage.openAfter = { from: first - 1, to: first + runs - 2 };
    filters.push(stage);
    first += runs;
  }
  if (body.kind === 'sequenceQuery' && body.until !== null) {
    filters.push({ category: category(body.until.filter.category), requirement: requirement(body.until.filter.condition), openAfter: { from: 0, to: first - 2 } });
  }
  return filters;
}

/** The fields of an event that its kind alone fixes. */
export interface EventShape {
  'event.category': readonly string[];
  'event.type': readonly string[];
  'event.action': string;
}

function stageMayAccept(stage: StageFilter, shape: EventShape): boolean {
  if (stage.category !== null && !shape['event.category'].some((c) => c.toLowerCase() === stage.category)) return false;
  return stage.requirement.every((clause) =>
    clause.some((atom) => {
      const value = (shape as unknown as Record<string, unknown>)[atom.field];
      if (value === undefined) return true;
      return atomHolds(atom, atom.caseInsensitive ? lowerCased(value) : value);
    }),
  );
}

function lowerCased(value: unknown): unknown {
  if (typeof value === 'string') return value.toLowerCase();
  return Array.isArray(value) ? value.map(lowerCased) : value;
}

export class RuleSet {
  readonly rules: readonly LoadedRule[];
  readonly exceptions: ExceptionList;
  private readonly index: RuleIndex<RuleRunner>;
  private readonly runners: RuleRunner[];
  private readonly counters = { events: 0, evaluations: 0, matches: 0, suppressed: 0, errors: 0 };
  private readonly matchesByRule = new Map<string, number>();
  private readonly suppressedByRule = new Map<string, number>();
  /** Null when no rule uses lineage. */
  private readonly lineage: LineageTracker | null;
  /** The candidates of the event being evaluated (reused: evaluate() does not nest). */
  private readonly scratch: RuleRunner[] = [];

  constructor(rules: readonly LoadedRule[], options: RuleSetOptions = {}) {
    this.rules = rules;
    this.exceptions = options.exceptions ?? ExceptionList.empty();
    const tracker = rules.some((rule) => rule.compiled.lineage !== null) ? new LineageTracker(options.maxLineageProcesses) : null;
    this.lineage = tracker;
    this.runners = rules.map((rule) => {
      const compiled = tracker === null ? rule.compiled : rule.compiled.withLineage(tracker);
      return {
        rule,
        compiled,
        matcher: compiled.kind === 'sequence'
          ? compiled.createMatcher({
              timestampField: options.timestampField ?? '@timestamp',
              ...(rule.tiebreakerField === null ? {} : { tiebreakerField: rule.tiebreakerField }),
              ...(options.maxOpenSequences === undefined ? {} : { maxOpenSequences: options.maxOpenSequences }),
            })
          : null,
      };
    });
    // with a tracker, a rule needing a lineage relation is offered only the events of processes that have one
    const lineage = tracker === null ? {} : { lineage: true };
    this.index = new RuleIndex(
      this.runners.map((runner) => ({ item: runner, stages: indexStages(runner.rule, lineage) })),
      undefined,
      (runner, from, to) => runner.matcher === null || runner.matcher.hasOpen(from, to),
      tracker === null ? undefined : new Map([[LINEAGE_FIELD, (event: EqlEvent) => tracker.relationsOf(event)]]),
    );
  }

  get size(): number {
    return this.rules.length;
  }

  /**
   * Which of the given event shapes (the fields an action fixes: event.category, event.type,
   * event.action) some stage of some rule could accept. A stage could when its category fits and
   * each clause of its requirement either holds on the shape or reads another field (unknown
   * until the event is there). With process lineage every shape counts: the tracker learns from
   * every event. The agent builds documents only for the shapes returned (and all of them when
   * it writes events out), so an event no rule can match costs no document.
   */
  shapesMatched<K extends string>(shapes: ReadonlyMap<K, EventShape>): Set<K> {
    if (this.lineage !== null) return new Set(shapes.keys());
    const needed = new Set<K>();
    const stages = this.runners.flatMap((runner) => indexStages(runner.rule));
    for (const [key, shape] of shapes) {
      if (stages.some((stage) => stageMayAccept(stage, shape))) needed.add(key);
    }
    return needed;
  }

  /** Whether mayOffer() can ever say no (not with process lineage). */
  get gates(): boolean {
    return this.lineage === null;
  }

  /**
   * False when no rule could take an event whose memo fields (rule-index.ts: category, type,
   * action, host.os.type, the process's and its parent's name and executable, user.id) are those
   * of `probe`: its document need not be built. Always true with process lineage, which learns
   * from every event.
   */
  mayOffer(probe: object): boolean {
    return this.lineage !== null || this.index.mayOffer(probe as EqlEvent);
  }

  /** The rules `event` is offered to. */
  candidates(event: EqlEvent): LoadedRule[] {
    return this.index.candidates(event).map((runner) => runner.rule);
  }

  /** Feeds one event; returns the matches it completes, exceptions already applied. */
  evaluate(event: EqlEvent): RuleMatch[] {
    this.counters.events++;
    if (this.lineage !== null) {
      try {
        this.lineage.observe(event);
      } catch {
        this.counters.errors++;
      }
    }
    const candidates = this.scratch;
    const count = this.index.candidatesInto(event, candidates);
    let out: RuleMatch[] | undefined;
    for (let i = 0; i < count; i++) {
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
      ...(this.lineage === null ? {} : { lineage: this.lineage.stats() }),
    };
  }

  private run(runner: RuleRunner, event: EqlEvent): RuleMatch[] | undefined {
    const { rule, compiled, matcher } = runner;
    if (matcher === null) {
      if (compiled.kind !== 'event' || !compiled.matches(event)) return undefined;
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
