/**
 * Offers each event only the rules that could match it. A rule is a list of stages (one for an
 * event query, one per bracket for a sequence); a stage accepts an event when the event's
 * `event.category` holds the stage's category (any category for `any where`) and every pin
 * (query-pins.ts) holds. A rule is a candidate when one of its stages accepts the event.
 *
 * Two levels keep this cheap:
 * - pins on event.category, event.type, event.action, process.name and host.os.type depend on few distinct
 *   values, so the stages passing them are computed once per combination and memoised (bounded:
 *   past its size the memo is cleared, which costs time, never correctness);
 * - pins on any other field are checked per event on the memoised candidates only.
 *
 * Field values are read with the EQL engine's own field reader (nested, dotted and array-of-object
 * paths alike), so a pin sees exactly the value the query would.
 */
import type { EqlEvent } from '../eql/index.js';
import { fieldSlot, type FieldSlot } from '../eql/field-access.js';
import type { FieldPin } from './query-pins.js';

export interface StageFilter {
  /** Lower-cased category, or null for `any`. */
  category: string | null;
  pins: readonly FieldPin[];
}

export interface IndexEntry<T> {
  item: T;
  stages: readonly StageFilter[];
}

// host.os.type is constant per host, and most Linux rules pin it: resolving it at the memo level
// saves a residual check per rule and event.
const MEMO_FIELDS = ['event.category', 'event.type', 'event.action', 'process.name', 'host.os.type'] as const;

interface CompiledPin {
  slot: FieldSlot;
  pin: FieldPin;
}

interface IndexedStage {
  category: string | null;
  memoPins: CompiledPin[];
  residualPins: CompiledPin[];
}

interface IndexedEntry<T> {
  item: T;
  stages: IndexedStage[];
}

/** A memoised candidate: the entry and those of its stages that passed the memo-level pins. */
interface MemoCandidate<T> {
  item: T;
  /** Residual pin lists of the stages left; one empty list means no per-event check. */
  residual: CompiledPin[][];
}

function elementHolds(pin: FieldPin, value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (pin.values === null) return true;
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') text = String(value).toLowerCase();
  else return false;
  if (pin.values.has(text)) return true;
  for (const prefix of pin.prefixes) if (text.startsWith(prefix)) return true;
  return false;
}

/** Does the (lower-cased) field value satisfy the pin? Arrays: any element. */
export function pinHolds(pin: FieldPin, value: unknown): boolean {
  if (Array.isArray(value)) {
    for (const element of value) if (elementHolds(pin, element)) return true;
    return false;
  }
  return elementHolds(pin, value);
}

function compilePin(pin: FieldPin): CompiledPin {
  return { slot: fieldSlot(pin.field.split('.')), pin };
}

function lowerList(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const v of list) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push(String(v).toLowerCase());
  return out;
}

const KEY_CONTROL = /[\u0000-\u0004]/;

/**
 * A memo key part for one lower-cased field value: the common plain string as is (no
 * allocation), anything else as JSON behind a marker, so no two different values share a key.
 */
function keyPart(value: unknown): string {
  if (typeof value === 'string' && !KEY_CONTROL.test(value)) return value;
  const list = Array.isArray(value) ? value : [value];
  // Objects become 0 and missing values null: neither can collide with a string.
  return `\u0004${JSON.stringify(list.map((v) => (v === null || v === undefined ? null : typeof v === 'object' ? 0 : String(v).toLowerCase())))}`;
}

function allHold(pins: CompiledPin[], event: EqlEvent): boolean {
  for (let i = 0; i < pins.length; i++) if (!pinHolds(pins[i]!.pin, pins[i]!.slot.readLower(event))) return false;
  return true;
}

function anyStageHolds(stages: CompiledPin[][], event: EqlEvent): boolean {
  for (let i = 0; i < stages.length; i++) if (allHold(stages[i]!, event)) return true;
  return false;
}

export class RuleIndex<T> {
  private readonly entries: IndexedEntry<T>[];
  private readonly memo = new Map<string, MemoCandidate<T>[]>();
  private readonly memoSlots = MEMO_FIELDS.map((field) => fieldSlot(field.split('.')));

  constructor(
    entries: readonly IndexEntry<T>[],
    private readonly maxMemoEntries = 4096,
  ) {
    const memoFields: readonly string[] = MEMO_FIELDS;
    this.entries = entries.map((entry) => ({
      item: entry.item,
      stages: entry.stages.map((stage) => ({
        category: stage.category,
        memoPins: stage.pins.filter((p) => memoFields.includes(p.field)).map(compilePin),
        residualPins: stage.pins.filter((p) => !memoFields.includes(p.field)).map(compilePin),
      })),
    }));
  }

  get size(): number {
    return this.entries.length;
  }

  candidates(event: EqlEvent): T[] {
    let memoKey = '';
    for (let i = 0; i < this.memoSlots.length; i++) memoKey += `${keyPart(this.memoSlots[i]!.readLower(event))}\u0000`;
    let memoised = this.memo.get(memoKey);
    if (memoised === undefined) {
      memoised = this.memoCandidates(event, lowerList(this.memoSlots[0]!.readLower(event)));
      if (this.memo.size >= this.maxMemoEntries) this.memo.clear();
      this.memo.set(memoKey, memoised);
    }
    const out: T[] = [];
    for (let i = 0; i < memoised.length; i++) {
      const candidate = memoised[i]!;
      if (anyStageHolds(candidate.residual, event)) out.push(candidate.item);
    }
    return out;
  }

  private memoCandidates(event: EqlEvent, categories: string[]): MemoCandidate<T>[] {
    const out: MemoCandidate<T>[] = [];
    for (const entry of this.entries) {
      const residual: CompiledPin[][] = [];
      for (const stage of entry.stages) {
        if (stage.category !== null && !categories.includes(stage.category)) continue;
        if (!allHold(stage.memoPins, event)) continue;
        residual.push(stage.residualPins);
      }
      if (residual.length > 0) out.push({ item: entry.item, residual });
    }
    return out;
  }
}
