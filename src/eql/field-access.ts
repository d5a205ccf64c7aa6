/**
 * Reading a field path from an event. Events are ECS documents that may be nested
 * (`{process: {name: "sh"}}`), flat with dotted keys (`{"process.name": "sh"}`) or a mix of both
 * (`{process: {"parent.name": "bash"}}`). Arrays of objects on the way are searched element by
 * element and their values collected, as Elasticsearch flattens them when indexing.
 *
 * The common case, a fully nested path, is a plain walk with no allocation; the dotted-key
 * fallback only runs when the walk finds nothing.
 *
 * Many rules read the same fields of the same event (host.os.type, event.type, process.name), so
 * each field path has one shared slot that remembers the value it read for the most recent event
 * object, and its lower-cased form for the case-insensitive operators. An event must therefore
 * not be mutated in place between evaluations; a new event object is always read afresh.
 */
import { normalizeValue } from './comparison.js';

export type FieldReader = (event: Record<string, unknown>) => unknown;

/**
 * The same text as an internalized string. Keys cut out of a query (split, slice) are not, and a
 * keyed property load with such a key looks it up in the string table on every call, which made a
 * field read cost a microsecond instead of nanoseconds.
 */
function propertyKey(text: string): string {
  return Object.keys({ [text]: true })[0]!;
}

export function compileFieldReader(path: readonly string[]): FieldReader {
  const segments = path.map(propertyKey);
  const length = segments.length;
  if (length === 1) {
    const key = segments[0];
    return (event) => normalizeValue(event[key]);
  }
  // joined[i][j] is the dotted key made of segments i..j (inclusive)
  const joined: string[][] = segments.map((_, i) => segments.map((__, j) => (j >= i ? propertyKey(segments.slice(i, j + 1).join('.')) : '')));
  const resolve = (value: unknown, from: number): unknown => {
    if (from === length) return value;
    if (value === null || typeof value !== 'object') return undefined;
    if (Array.isArray(value)) {
      const index = arrayIndex(segments[from]);
      if (index >= 0) return resolve(value[index], from + 1);
      let collected: unknown[] | undefined;
      for (const element of value) {
        const found = resolve(element, from);
        if (found === undefined || found === null) continue;
        collected ??= [];
        if (Array.isArray(found)) collected.push(...found);
        else collected.push(found);
      }
      return collected;
    }
    const object = value as Record<string, unknown>;
    for (let to = from; to < length; to++) {
      const child = object[joined[from][to]];
      if (child === undefined) continue;
      const found = resolve(child, to + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  const first = segments[0];
  const second = segments[1];
  if (length === 2) {
    return (event) => {
      const parent = event[first];
      if (parent !== null && typeof parent === 'object' && !Array.isArray(parent)) {
        const value = (parent as Record<string, unknown>)[second];
        if (value !== undefined) return normalizeValue(value);
      }
      return normalizeValue(resolve(event, 0));
    };
  }
  return (event) => {
    let current: unknown = event;
    for (let i = 0; i < length; i++) {
      if (current === null || typeof current !== 'object') {
        current = undefined;
        break;
      }
      current = (current as Record<string, unknown>)[segments[i]];
    }
    if (current !== undefined) return normalizeValue(current);
    return normalizeValue(resolve(event, 0));
  };
}

function arrayIndex(segment: string): number {
  return /^[0-9]+$/.test(segment) ? Number(segment) : -1;
}

/** The shared, memoising reader of one field path. */
export interface FieldSlot {
  read(event: Record<string, unknown>): unknown;
  /** The value with every string lower-cased (arrays element by element). */
  readLower(event: Record<string, unknown>): unknown;
}

const slots = new Map<string, FieldSlot>();

export function fieldSlot(path: readonly string[]): FieldSlot {
  const name = path.join('\u0000');
  let slot = slots.get(name);
  if (slot === undefined) {
    slot = createSlot(compileFieldReader(path));
    slots.set(name, slot);
  }
  return slot;
}

function createSlot(reader: FieldReader): FieldSlot {
  let lastEvent: object | null = null;
  let lastValue: unknown = null;
  let lowerEvent: object | null = null;
  let lowerValue: unknown = null;
  const read = (event: Record<string, unknown>): unknown => {
    if (event === lastEvent) return lastValue;
    const value = reader(event);
    lastEvent = event;
    lastValue = value;
    return value;
  };
  const readLower = (event: Record<string, unknown>): unknown => {
    if (event === lowerEvent) return lowerValue;
    const value = read(event);
    lowerValue = typeof value === 'string' ? value.toLowerCase() : Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? v.toLowerCase() : v)) : value;
    lowerEvent = event;
    return lowerValue;
  };
  return { read, readLower };
}
