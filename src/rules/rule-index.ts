/**
 * Offers each event only the rules that could match it. A rule is a list of stages (one for an
 * event query, one per bracket for a sequence); a stage accepts an event when the event's
 * `event.category` holds the stage's category (any category for `any where`) and every pin
 * (query-pins.ts) holds. A rule is a candidate when one of its stages accepts the event.
 *
 * Whether a rule is a candidate depends only on the event's categories, types and actions, so
 * the candidate list is computed once per distinct combination of those and memoised. The memo
 * is bounded: past its size it is cleared, which costs time, never correctness.
 */
import type { EqlEvent } from '../eql/index.js';
import type { FieldPin, PinnableField } from './query-pins.js';

export interface StageFilter {
  /** Lower-cased category, or null for `any`. */
  category: string | null;
  pins: readonly FieldPin[];
}

export interface IndexEntry<T> {
  item: T;
  stages: readonly StageFilter[];
}

/** Values of an ECS keyword field, lower-cased; nested objects and dotted keys both count. */
export function keywordValues(event: EqlEvent, field: PinnableField): string[] {
  const dot = field.indexOf('.');
  const parent = event[field.slice(0, dot)];
  let value: unknown = typeof parent === 'object' && parent !== null ? (parent as Record<string, unknown>)[field.slice(dot + 1)] : undefined;
  if (value === undefined) value = event[field];
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const v of list) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push(String(v).toLowerCase());
  return out;
}

interface EventKeys {
  category: string[];
  type: string[];
  action: string[];
}

function stageAccepts(stage: StageFilter, keys: EventKeys): boolean {
  if (stage.category !== null && !keys.category.includes(stage.category)) return false;
  for (const pin of stage.pins) {
    const values = pin.field === 'event.action' ? keys.action : pin.field === 'event.type' ? keys.type : keys.category;
    if (!values.some((v) => pin.values.has(v))) return false;
  }
  return true;
}

export class RuleIndex<T> {
  private readonly memo = new Map<string, readonly T[]>();

  constructor(
    private readonly entries: readonly IndexEntry<T>[],
    private readonly maxMemoEntries = 4096,
  ) {}

  get size(): number {
    return this.entries.length;
  }

  candidates(event: EqlEvent): readonly T[] {
    const keys: EventKeys = {
      category: keywordValues(event, 'event.category'),
      type: keywordValues(event, 'event.type'),
      action: keywordValues(event, 'event.action'),
    };
    const memoKey = `${keys.category.join('\0')}\u0001${keys.type.join('\0')}\u0001${keys.action.join('\0')}`;
    let found = this.memo.get(memoKey);
    if (found === undefined) {
      found = this.entries.filter((e) => e.stages.some((s) => stageAccepts(s, keys))).map((e) => e.item);
      if (this.memo.size >= this.maxMemoEntries) this.memo.clear();
      this.memo.set(memoKey, found);
    }
    return found;
  }
}
