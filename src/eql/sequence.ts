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
 *   evicted and counted;
 * - earlier stages (Defend's dialect, `event0.process.command_line`): a stage whose condition
 *   reads the events of the partial sequence it would extend cannot be judged once per event; it
 *   is evaluated against each partial sequence the event's join key finds (at most one per key),
 *   with `stageScope.events` pointing at that partial's events while it runs.
 */
import type { EqlEvent } from './index.js';
import type { Evaluator, StageScope } from './compile-expression.js';
import { fieldSlot } from './field-access.js';
import { OrderedMap } from '../insertion-order.js';

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
  /**
   * Whether a partial sequence that completed one of the stages `from` to `to` (0-based) is open.
   * A stage after the first can take an event only when one completed the stage before it, so a
   * caller may skip offering events that only such a stage could take (the rule index does).
   */
  hasOpen(from: number, to: number): boolean;
}

/** One stage as the compiler prepares it. */
export interface CompiledStage {
  matches(event: EqlEvent): boolean;
  keyReaders: Evaluator[];
  /** Per key: written as `?field`, so null is a key value rather than no key. */
  optionalKeys: boolean[];
  /** The condition reads an earlier stage's event (through the plan's stageScope). */
  readsEarlierStages: boolean;
}

export interface SequencePlan {
  stages: CompiledStage[];
  until: CompiledStage | null;
  maxspanMs: number | null;
  /** Set to a partial sequence's events while a stage that reads earlier stages is evaluated. */
  stageScope: StageScope;
}

const NO_EVENTS: readonly EqlEvent[] = Object.freeze([]);

export interface SequenceMatcherOptions {
  timestampField: string;
  maxOpenSequences: number;
  /** Bytes (eventBytes) the partial sequences' events may hold; the oldest go beyond it. */
  maxSequenceBytes: number;
  /** Milliseconds since the epoch, NaN when the event has no usable time (see timestampMs). */
  readTimestamp: (event: EqlEvent) => number;
}

/** A partial sequence: the events of the stages it completed, in order. */
interface Partial {
  events: EqlEvent[];
  startMs: number;
  /** When it last advanced (a counter): the least recently advanced is evicted first. */
  advanced: number;
  /** eventBytes of its events. */
  bytes: number;
}

/** Objects and arrays past this many in one event are not walked; each counts as UNWALKED_BYTES. */
const EVENT_WALK_MAX_CONTAINERS = 4_096;
const UNWALKED_BYTES = 1_024;

/**
 * An upper estimate of the memory an event holds: every string at 2 bytes per UTF-16 unit behind
 * a header, other values and containers at a fixed cost. Strings shared with other structures
 * (the process table's images) are counted all the same: the partial keeps them alive. Every
 * string is counted (an argv of 5,000 short arguments costs what it holds, no more).
 */
export function eventBytes(event: EqlEvent): number {
  // Many sequences may keep the same event: it is walked once.
  const known = eventBytesMemo.get(event);
  if (known !== undefined) return known;
  const bytes = walkBytes(event);
  eventBytesMemo.set(event, bytes);
  return bytes;
}

const eventBytesMemo = new WeakMap<EqlEvent, number>();

function walkBytes(event: unknown): number {
  let bytes = 0;
  let containers = 0;
  const stack: unknown[] = [event];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') {
      bytes += 16 + 2 * value.length;
    } else if (value === null || typeof value !== 'object') {
      bytes += 8;
    } else if (++containers > EVENT_WALK_MAX_CONTAINERS) {
      bytes += UNWALKED_BYTES;
    } else if (Array.isArray(value)) {
      bytes += 16 + 8 * value.length;
      for (const item of value) {
        if (typeof item === 'string') bytes += 16 + 2 * item.length;
        else stack.push(item);
      }
    } else {
      bytes += 32;
      for (const key in value) {
        bytes += 16 + 2 * key.length;
        stack.push((value as Record<string, unknown>)[key]);
      }
    }
  }
  return bytes;
}

const SWEEP_INTERVAL = 256;

export function createSequenceMatcher(plan: SequencePlan, options: SequenceMatcherOptions): SequenceMatcher {
  const { stages, until, maxspanMs, stageScope } = plan;
  const lastStage = stages.length - 1;
  // Open partial sequences by the stage they completed, each by its encoded join key, in the
  // order they got there. A stage whose predecessor holds none cannot advance anything, so its
  // condition is not evaluated at all: for most events only the first stage of a sequence is.
  const open: OrderedMap<JoinKeyId, Partial>[] = Array.from({ length: Math.max(0, lastStage) }, () => new OrderedMap());
  const stats: SequenceMatcherStats = { open: 0, evicted: 0, expired: 0, completed: 0 };
  let total = 0;
  let heldBytes = 0;
  let advances = 0;
  const scratch: ScratchKey = { keys: [{ values: null, encoded: '' }] };
  let lastTimestamp = 0;
  let pushes = 0;

  const isExpired = (partial: Partial, now: number): boolean => maxspanMs !== null && now - partial.startMs > maxspanMs;

  const drop = (stage: number, key: JoinKeyId): void => {
    const partial = open[stage]!.get(key);
    if (partial === undefined) return;
    open[stage]!.delete(key);
    total--;
    heldBytes -= partial.bytes;
  };

  // Partials that completed the first stage are kept in the order of their start (events arrive
  // in time order and a newer partial goes to the end), so their sweep stops at the first one
  // still in time; later stages hold few and are swept whole. Expiry is also checked whenever a
  // partial would advance, so the sweep only frees memory sooner.
  const sweep = (now: number): void => {
    for (let stage = 0; stage < open.length; stage++) {
      const byKey = open[stage]!;
      for (const [key, partial] of byKey) {
        if (!isExpired(partial, now)) {
          if (stage === 0) break;
          continue;
        }
        byKey.delete(key);
        total--;
        heldBytes -= partial.bytes;
        stats.expired++;
      }
    }
  };

  /** Drops the least recently advanced partial sequence, over every stage. */
  const evictOldest = (): void => {
    let oldestStage = -1;
    let oldestKey: JoinKeyId = '';
    let oldestAdvance = Infinity;
    for (let stage = 0; stage < open.length; stage++) {
      const first = open[stage]!.oldest();
      if (first === undefined) continue;
      const [key, partial] = first;
      if (partial.advanced < oldestAdvance) {
        oldestAdvance = partial.advanced;
        oldestStage = stage;
        oldestKey = key;
      }
    }
    drop(oldestStage, oldestKey);
    stats.evicted++;
  };

  const store = (stage: number, key: JoinKeyId, partial: Partial, now: number): void => {
    // a newer partial replaces the older one and moves to the end
    drop(stage, key);
    if (total >= options.maxOpenSequences) {
      if (maxspanMs !== null) sweep(now);
      while (total >= options.maxOpenSequences) evictOldest();
    }
    partial.advanced = ++advances;
    open[stage]!.set(key, partial);
    total++;
    heldBytes += partial.bytes;
    // The least recently advanced go first; the one just stored is the most recent.
    while (heldBytes > options.maxSequenceBytes && total > 1) evictOldest();
  };

  const push = (event: EqlEvent): SequenceMatch[] => {
    const parsed = options.readTimestamp(event);
    const now = Number.isNaN(parsed) ? lastTimestamp : parsed;
    lastTimestamp = now;
    if (maxspanMs !== null && ++pushes % SWEEP_INTERVAL === 0) sweep(now);

    let completed: SequenceMatch[] | undefined;
    for (let stage = lastStage; stage >= 0; stage--) {
      if (stage > 0 && open[stage - 1]!.size === 0) continue;
      const definition = stages[stage]!;
      const perPartial = definition.readsEarlierStages;
      if (!perPartial && !definition.matches(event)) continue;
      const keys = joinKeysOf(definition, event, scratch);
      for (let k = 0; k < keys.length; k++) {
        const key = keys[k]!;
        if (stage === 0) {
          const partial: Partial = { events: [event], startMs: now, advanced: 0, bytes: 0 };
          if (lastStage === 0) {
            (completed ??= []).push({ joinKeys: keyValues(definition, event, key), events: partial.events });
            stats.completed++;
          } else {
            partial.bytes = eventBytes(event);
            store(0, key.encoded, partial, now);
          }
          continue;
        }
        const previous = open[stage - 1]!;
        const partial = previous.get(key.encoded);
        if (partial === undefined) continue;
        if (perPartial && !matchesAfter(definition, event, partial.events)) continue;
        previous.delete(key.encoded);
        total--;
        heldBytes -= partial.bytes;
        if (isExpired(partial, now)) {
          stats.expired++;
          continue;
        }
        partial.events.push(event);
        if (stage === lastStage) {
          (completed ??= []).push({ joinKeys: keyValues(definition, event, key), events: partial.events });
          stats.completed++;
        } else {
          partial.bytes += eventBytes(event);
          store(stage, key.encoded, partial, now);
        }
      }
    }
    if (until !== null && total > 0 && until.matches(event)) {
      // after the stages: an event that both completes a sequence and matches until completes it,
      // every partial sequence of its key that is still open (even one it just advanced) is cut
      for (const key of joinKeysOf(until, event, scratch)) for (let stage = 0; stage < lastStage; stage++) drop(stage, key.encoded);
    }
    stats.open = total;
    return completed ?? NO_MATCHES;
  };

  /** The stage's condition with the partial sequence's events in scope (stage 0 never reads one). */
  const matchesAfter = (definition: CompiledStage, event: EqlEvent, earlier: readonly EqlEvent[]): boolean => {
    stageScope.events = earlier;
    try {
      return definition.matches(event);
    } finally {
      stageScope.events = NO_EVENTS;
    }
  };

  const hasOpen = (from: number, to: number): boolean => {
    for (let stage = from; stage <= to; stage++) if (open[stage]!.size > 0) return true;
    return false;
  };

  return {
    push,
    hasOpen,
    get stats() {
      return { ...stats, open: total };
    },
  };
}

const NO_MATCHES: SequenceMatch[] = Object.freeze([]) as unknown as SequenceMatch[];

/**
 * How a join key is told apart from the others in the matcher's maps: with one key field, its
 * value itself (the maps compare primitives by value, so "5" and 5 stay apart, as they must); with
 * several, their values encoded into one string. Objects (which a key should not be) are encoded
 * in both cases.
 */
type JoinKeyId = unknown;

/**
 * One join key of an event. Keys that all hold one value are identified without building their
 * values (`values` null: keyValues() reads them again when a sequence completes, the only time
 * they are needed); an equal identity means equal values, so the completing event's values are
 * the sequence's.
 */
interface JoinKey {
  values: unknown[] | null;
  encoded: JoinKeyId;
}

/** A matcher's own one-key answer, filled in place: the common case allocates nothing. */
interface ScratchKey {
  keys: [JoinKey];
}

const NO_KEY: JoinKey[] = [];
const EMPTY_KEY: JoinKey[] = [{ values: [], encoded: '' }];
const KEY_SEPARATOR = '\u0001';

/** The key's values, read again from the event for a key identified without them. */
function keyValues(stage: CompiledStage, event: EqlEvent, key: JoinKey): unknown[] {
  if (key.values !== null) return key.values;
  return stage.keyReaders.map((read) => {
    const value = read(event);
    return value === undefined ? null : value;
  });
}

/** The identity of a single key field's value (see JoinKeyId). */
function singleKeyId(value: unknown): JoinKeyId {
  return value !== null && typeof value === 'object' ? encodeKeyValue(value) : value;
}

/**
 * Every join key an event has for a stage (none when a required key is missing). The returned
 * array is the matcher's scratch when the event has one key: use it before the next call.
 */
function joinKeysOf(stage: CompiledStage, event: EqlEvent, scratch: ScratchKey): JoinKey[] {
  const readers = stage.keyReaders;
  if (readers.length === 0) return EMPTY_KEY;
  const key = scratch.keys[0];
  if (readers.length === 1) {
    const value = readers[0]!(event);
    if (Array.isArray(value)) return expandedJoinKeysOf(stage, event);
    if (value === null || value === undefined) {
      if (!stage.optionalKeys[0]) return NO_KEY;
      key.encoded = null;
    } else {
      key.encoded = singleKeyId(value);
    }
    key.values = null;
    return scratch.keys;
  }
  // several keys, each a single value: one key, built without intermediate arrays
  let encoded = '';
  for (let i = 0; i < readers.length; i++) {
    const value = readers[i]!(event);
    if (Array.isArray(value)) return expandedJoinKeysOf(stage, event);
    if (value === null || value === undefined) {
      if (!stage.optionalKeys[i]) return NO_KEY;
      encoded = i === 0 ? 'z' : `${encoded}${KEY_SEPARATOR}z`;
    } else {
      encoded = i === 0 ? encodeKeyValue(value) : `${encoded}${KEY_SEPARATOR}${encodeKeyValue(value)}`;
    }
  }
  key.encoded = encoded;
  key.values = null;
  return scratch.keys;
}

/** Every combination of the values of multi-valued keys. */
function expandedJoinKeysOf(stage: CompiledStage, event: EqlEvent): JoinKey[] {
  const readers = stage.keyReaders;
  let keys: { values: unknown[]; parts: string[] }[] = [{ values: [], parts: [] }];
  for (let i = 0; i < readers.length; i++) {
    const value = readers[i]!(event);
    const choices = keyChoices(value, stage.optionalKeys[i]!);
    if (choices.length === 0) return NO_KEY;
    const next: { values: unknown[]; parts: string[] }[] = [];
    for (const key of keys) {
      for (const choice of choices) next.push({ values: [...key.values, choice], parts: [...key.parts, encodeKeyValue(choice)] });
    }
    keys = next;
  }
  const single = readers.length === 1;
  return keys.map((key) => ({ values: key.values, encoded: single ? singleKeyId(key.values[0]) : key.parts.join(KEY_SEPARATOR) }));
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
    const utc = utcTimestampMs(value);
    if (!Number.isNaN(utc)) return utc;
    if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
    return Date.parse(value);
  }
  if (Array.isArray(value) && value.length > 0) return timestampMs(value[0]);
  return NaN;
}

/** The digits at `from`..`from + count` as a number, or -1 when one is not a digit. */
function digitsAt(text: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * The form the events of this agent (and of Elastic's agents) carry, `YYYY-MM-DDTHH:MM:SS`, an
 * optional fraction and `Z`, read without Date.parse's general parser: the number Date.parse
 * gives, or NaN for anything else (the caller then asks Date.parse). Fraction digits past the
 * milliseconds are cut, as Date.parse cuts them; years before 1000 are left to Date.parse.
 */
function utcTimestampMs(text: string): number {
  const length = text.length;
  if (
    length < 20 || text.charCodeAt(length - 1) !== 90 /* Z */ || text.charCodeAt(4) !== 45 /* - */ || text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 /* T */ || text.charCodeAt(13) !== 58 /* : */ || text.charCodeAt(16) !== 58
  ) {
    return NaN;
  }
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
    return NaN;
  }
  let ms = 0;
  if (length > 20) {
    const digits = length - 21;
    if (text.charCodeAt(19) !== 46 /* . */ || digits === 0 || digitsAt(text, 20, digits) < 0) return NaN;
    ms = digitsAt(text, 20, Math.min(3, digits)) * 10 ** Math.max(0, 3 - digits);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}
