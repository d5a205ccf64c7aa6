/**
 * Streaming sequence matcher with Elasticsearch's semantics. Events must be pushed in time order
 * (timestamp, then tiebreaker); the matcher does not reorder.
 *
 * State: for each stage but the last, and each join key, only the most recent partial sequence
 * that has completed that stage (a newer one replaces an older one, as Elasticsearch keeps it).
 * Each event is tried against the stages from the last to the first, so one event never advances
 * the same partial sequence twice: `[serial<=3][true][true]` over 1..5 yields 1,2,3 / 2,3,4 / 3,4,5.
 *
 * - join keys: the sequence-level `by` keys followed by the stage's own; a multi-valued key
 *   expands to one key per distinct value (several multi-valued keys: every combination); a
 *   missing key drops the event from that stage, unless the key is written `?field`, where null
 *   is itself a key;
 * - maxspan: a partial sequence whose first event is more than maxspan older than the current
 *   event is dropped (counted as expired), lazily when touched and in a periodic sweep;
 * - until: an event matching the until stage drops every open partial sequence with its key; it
 *   is applied after the stages, so a sequence the same event completes is still reported;
 * - cap: at most `maxOpenSequences` partial sequences; beyond it the least recently advanced is
 *   evicted and counted.
 */
import type { EqlEvent } from './index.js';
import type { Evaluator } from './compile-expression.js';
import { fieldSlot } from './field-access.js';

export interface SequenceMatch {
  joinKeys: unknown[];
  events: EqlEvent[];
}

export interface SequenceMatcherStats {
  open: number;
  evicted: number;
  expired: number;
  completed: number;
}

export interface SequenceMatcher {
  push(event: EqlEvent): SequenceMatch[];
  readonly stats: SequenceMatcherStats;
}

/** One stage as the compiler prepares it. */
export interface CompiledStage {
  matches(event: EqlEvent): boolean;
  keyReaders: Evaluator[];
  /** Per key: written as `?field`, so null is a key value rather than no key. */
  optionalKeys: boolean[];
}

export interface SequencePlan {
  stages: CompiledStage[];
  until: CompiledStage | null;
  maxspanMs: number | null;
}

export interface SequenceMatcherOptions {
  timestampField: string;
  maxOpenSequences: number;
  /** Milliseconds since the epoch, NaN when the event has no usable time (see timestampMs). */
  readTimestamp: (event: EqlEvent) => number;
}

interface Partial {
  events: EqlEvent[];
  joinKeys: unknown[];
  startMs: number;
}

const SWEEP_INTERVAL = 256;

export function createSequenceMatcher(plan: SequencePlan, options: SequenceMatcherOptions): SequenceMatcher {
  const { stages, until, maxspanMs } = plan;
  const lastStage = stages.length - 1;
  const partials = new Map<string, Partial>();
  const stats: SequenceMatcherStats = { open: 0, evicted: 0, expired: 0, completed: 0 };
  let lastTimestamp = 0;
  let pushes = 0;

  // Open partial sequences per stage they completed (a partial's stage is its event count - 1).
  // A stage whose predecessor holds none cannot advance anything, so its condition is not
  // evaluated at all: for most events only the first stage of a sequence is.
  const openAt = new Array<number>(stages.length).fill(0);

  const isExpired = (partial: Partial, now: number): boolean => maxspanMs !== null && now - partial.startMs > maxspanMs;

  const drop = (slot: string, partial: Partial): void => {
    partials.delete(slot);
    openAt[partial.events.length - 1]--;
  };

  const sweep = (now: number): void => {
    for (const [slot, partial] of partials) {
      if (isExpired(partial, now)) {
        drop(slot, partial);
        stats.expired++;
      }
    }
  };

  const store = (slot: string, partial: Partial, now: number): void => {
    // a newer partial replaces the older one and moves to the end
    const replaced = partials.get(slot);
    if (replaced !== undefined) drop(slot, replaced);
    if (partials.size >= options.maxOpenSequences) {
      if (maxspanMs !== null) sweep(now);
      while (partials.size >= options.maxOpenSequences) {
        const oldest = partials.keys().next().value as string;
        drop(oldest, partials.get(oldest)!);
        stats.evicted++;
      }
    }
    partials.set(slot, partial);
    openAt[partial.events.length - 1]++;
  };

  const push = (event: EqlEvent): SequenceMatch[] => {
    const parsed = options.readTimestamp(event);
    const now = Number.isNaN(parsed) ? lastTimestamp : parsed;
    lastTimestamp = now;
    if (maxspanMs !== null && ++pushes % SWEEP_INTERVAL === 0) sweep(now);

    let completed: SequenceMatch[] | undefined;
    for (let stage = lastStage; stage >= 0; stage--) {
      if (stage > 0 && openAt[stage - 1] === 0) continue;
      const definition = stages[stage];
      if (!definition.matches(event)) continue;
      for (const key of joinKeysOf(definition, event)) {
        if (stage === 0) {
          const partial: Partial = { events: [event], joinKeys: key.values, startMs: now };
          if (lastStage === 0) {
            (completed ??= []).push({ joinKeys: key.values, events: partial.events });
            stats.completed++;
          } else {
            store(slotOf(0, key.encoded), partial, now);
          }
          continue;
        }
        const previousSlot = slotOf(stage - 1, key.encoded);
        const partial = partials.get(previousSlot);
        if (partial === undefined) continue;
        drop(previousSlot, partial);
        if (isExpired(partial, now)) {
          stats.expired++;
          continue;
        }
        partial.events.push(event);
        if (stage === lastStage) {
          (completed ??= []).push({ joinKeys: partial.joinKeys, events: partial.events });
          stats.completed++;
        } else {
          store(slotOf(stage, key.encoded), partial, now);
        }
      }
    }
    if (until !== null && partials.size > 0 && until.matches(event)) {
      // after the stages: an event that both completes a sequence and matches until completes it,
      // every partial sequence of its key that is still open (even one it just advanced) is cut
      for (const key of joinKeysOf(until, event)) {
        for (let stage = 0; stage < lastStage; stage++) {
          const slot = slotOf(stage, key.encoded);
          const partial = partials.get(slot);
          if (partial !== undefined) drop(slot, partial);
        }
      }
    }
    stats.open = partials.size;
    return completed ?? NO_MATCHES;
  };

  return {
    push,
    get stats() {
      return { ...stats, open: partials.size };
    },
  };
}

const NO_MATCHES: SequenceMatch[] = Object.freeze([]) as unknown as SequenceMatch[];

function slotOf(stage: number, encodedKey: string): string {
  return `${stage}\u0000${encodedKey}`;
}

interface JoinKey {
  values: unknown[];
  encoded: string;
}

const NO_KEY: JoinKey[] = [];
const EMPTY_KEY: JoinKey[] = [{ values: [], encoded: '' }];

/** Every join key an event has for a stage (none when a required key is missing). */
function joinKeysOf(stage: CompiledStage, event: EqlEvent): JoinKey[] {
  const readers = stage.keyReaders;
  if (readers.length === 0) return EMPTY_KEY;
  // the common case, every key a single value: one key, built without intermediate arrays
  const values = new Array<unknown>(readers.length);
  let encoded = '';
  for (let i = 0; i < readers.length; i++) {
    const value = readers[i](event);
    if (Array.isArray(value)) return expandedJoinKeysOf(stage, event);
    if (value === null || value === undefined) {
      if (!stage.optionalKeys[i]) return NO_KEY;
      values[i] = null;
      encoded += '\u0001z';
    } else {
      values[i] = value;
      encoded += `\u0001${encodeKeyValue(value)}`;
    }
  }
  return [{ values, encoded }];
}

/** Every combination of the values of multi-valued keys. */
function expandedJoinKeysOf(stage: CompiledStage, event: EqlEvent): JoinKey[] {
  const readers = stage.keyReaders;
  let keys: JoinKey[] = [{ values: [], encoded: '' }];
  for (let i = 0; i < readers.length; i++) {
    const value = readers[i](event);
    const choices = keyChoices(value, stage.optionalKeys[i]);
    if (choices.length === 0) return NO_KEY;
    const next: JoinKey[] = [];
    for (const key of keys) {
      for (const choice of choices) {
        next.push({ values: [...key.values, choice], encoded: `${key.encoded}\u0001${encodeKeyValue(choice)}` });
      }
    }
    keys = next;
  }
  return keys;
}

function keyChoices(value: unknown, optional: boolean): unknown[] {
  if (value === null || value === undefined) return optional ? [null] : [];
  if (!Array.isArray(value)) return [value];
  const distinct: unknown[] = [];
  const seen = new Set<string>();
  for (const element of value.flat(Infinity)) {
    if (element === null || element === undefined) continue;
    const encoded = encodeKeyValue(element);
    if (seen.has(encoded)) continue;
    seen.add(encoded);
    distinct.push(element);
  }
  if (distinct.length === 0) return optional ? [null] : [];
  return distinct;
}

function encodeKeyValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return `s${value}`;
    case 'number':
      return `n${value}`;
    case 'boolean':
      return value ? 'bt' : 'bf';
    default:
      return value === null ? 'z' : `j${JSON.stringify(value)}`;
  }
}

const eventTimeReaders = new Map<string, (event: EqlEvent) => number>();

/**
 * Reads and parses the time of an event, once per event object for every sequence rule: the
 * reader is shared per field path and remembers the most recent event (events are immutable).
 */
export function eventTimeReader(field: string): (event: EqlEvent) => number {
  let reader = eventTimeReaders.get(field);
  if (reader === undefined) {
    const read = fieldSlot(field.split('.')).read;
    let lastEvent: object | null = null;
    let lastMs = NaN;
    reader = (event) => {
      if (event !== lastEvent) {
        lastMs = timestampMs(read(event));
        lastEvent = event;
      }
      return lastMs;
    };
    eventTimeReaders.set(field, reader);
  }
  return reader;
}

/**
 * Milliseconds since the epoch from a timestamp field: a number (ms), a string of digits (ms,
 * optionally with a fraction) or an ISO-8601 date string. NaN when it is none of these.
 */
export function timestampMs(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
    return Date.parse(value);
  }
  if (Array.isArray(value) && value.length > 0) return timestampMs(value[0]);
  return NaN;
}
