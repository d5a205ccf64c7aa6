/**
 * Reading a field path from an event. Events are ECS documents that may be nested
 * (`{process: {name: "sh"}}`), flat with dotted keys (`{"process.name": "sh"}`) or a mix of both
 * (`{process: {"parent.name": "bash"}}`). Arrays of objects on the way are searched element by
 * element and their values collected, as Elasticsearch flattens them when indexing.
 *
 * The common case, a fully nested path, is a plain walk with no allocation (for the fields rules
 * read most, a walk written out per field: see DIRECT); the dotted-key fallback only runs when the
 * walk finds nothing, and tries the dotted keys of an object only if the object has any (known
 * once per object of the event being read): rules read many fields an event does not have, and
 * each such miss would otherwise look up every dotted combination.
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

function plain(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * The fields rules read most, each read by a property access of its own. A load written with a
 * fixed name at its own site stays fast, where the generic reader's keyed loads are shared by
 * every field and slow down as more fields go through them. Only plain nested objects are walked
 * here; undefined (a missing field, a dotted key, an array of objects on the way) is left to the
 * generic search, so a defined answer is the one the generic reader gives.
 */
const DIRECT: Readonly<Record<string, (event: Record<string, unknown>) => unknown>> = {
  'event.category': (e) => plain(e.event)?.category,
  'event.type': (e) => plain(e.event)?.type,
  'event.action': (e) => plain(e.event)?.action,
  'event.kind': (e) => plain(e.event)?.kind,
  'host.os.type': (e) => plain(plain(e.host)?.os)?.type,
  'user.id': (e) => plain(e.user)?.id,
  'user.name': (e) => plain(e.user)?.name,
  'group.id': (e) => plain(e.group)?.id,
  'container.id': (e) => plain(e.container)?.id,
  'process.name': (e) => plain(e.process)?.name,
  'process.executable': (e) => plain(e.process)?.executable,
  'process.args': (e) => plain(e.process)?.args,
  'process.args_count': (e) => plain(e.process)?.args_count,
  'process.command_line': (e) => plain(e.process)?.command_line,
  'process.working_directory': (e) => plain(e.process)?.working_directory,
  'process.entity_id': (e) => plain(e.process)?.entity_id,
  'process.pid': (e) => plain(e.process)?.pid,
  'process.interactive': (e) => plain(e.process)?.interactive,
  'process.env_vars': (e) => plain(e.process)?.env_vars,
  'process.user.id': (e) => plain(plain(e.process)?.user)?.id,
  'process.group.id': (e) => plain(plain(e.process)?.group)?.id,
  'process.parent.name': (e) => plain(plain(e.process)?.parent)?.name,
  'process.parent.executable': (e) => plain(plain(e.process)?.parent)?.executable,
  'process.parent.args': (e) => plain(plain(e.process)?.parent)?.args,
  'process.parent.args_count': (e) => plain(plain(e.process)?.parent)?.args_count,
  'process.parent.command_line': (e) => plain(plain(e.process)?.parent)?.command_line,
  'process.parent.entity_id': (e) => plain(plain(e.process)?.parent)?.entity_id,
  'process.parent.interactive': (e) => plain(plain(e.process)?.parent)?.interactive,
};

export function compileFieldReader(path: readonly string[]): FieldReader {
  const segments = path.map(propertyKey);
  const length = segments.length;
  if (length === 1) {
    // One segment is one key, dots and all (a backquoted `process.name`): never the nested path.
    const key = segments[0];
    return (event) => normalizeValue(event[key]);
  }
  const direct = DIRECT[path.join('.')];
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
    if (!hasDottedKeys(object)) {
      const child = object[segments[from]];
      return child === undefined ? undefined : resolve(child, from + 1);
    }
    for (let to = from; to < length; to++) {
      const child = object[joined[from][to]];
      if (child === undefined) continue;
      const found = resolve(child, to + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  if (direct !== undefined) {
    return (event) => {
      const value = direct(event);
      if (value !== undefined) return normalizeValue(value);
      fallbackFor(event);
      return normalizeValue(resolve(event, 0));
    };
  }
  const first = segments[0];
  const second = segments[1];
  if (length === 2) {
    return (event) => {
      const parent = event[first];
      if (parent !== null && typeof parent === 'object' && !Array.isArray(parent)) {
        const value = (parent as Record<string, unknown>)[second];
        if (value !== undefined) return normalizeValue(value);
      }
      fallbackFor(event);
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
    fallbackFor(event);
    return normalizeValue(resolve(event, 0));
  };
}

/**
 * Whether an object has a key with a dot in it: remembered per object while the same event is
 * being read (the objects of one event are read many times over, then never again), in two small
 * arrays searched in order, since an event has few objects on the way to its missing fields.
 */
let dottedFor: object | null = null;
const dottedObjects: object[] = [];
const dottedAnswers: boolean[] = [];
let dottedCount = 0;
const MAX_DOTTED_MEMO = 32;

function hasDottedKeys(object: Record<string, unknown>): boolean {
  for (let i = 0; i < dottedCount; i++) if (dottedObjects[i] === object) return dottedAnswers[i]!;
  let found = false;
  for (const key in object) {
    if (key.includes('.')) {
      found = true;
      break;
    }
  }
  if (dottedCount < MAX_DOTTED_MEMO) {
    dottedObjects[dottedCount] = object;
    dottedAnswers[dottedCount] = found;
    dottedCount++;
  }
  return found;
}

/** Starts the dotted-key memo over for a new event (the readers call it before a fallback). */
function fallbackFor(event: object): void {
  if (event === dottedFor) return;
  dottedFor = event;
  // the slots are overwritten, not released: no allocation per event
  dottedCount = 0;
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
    lowerValue = typeof value === 'string' ? value.toLowerCase() : Array.isArray(value) ? lowerElements(value) : value;
    lowerEvent = event;
    return lowerValue;
  };
  return { read, readLower };
}

/** The array with its strings lower-cased: the array itself when none changes (args mostly are). */
function lowerElements(values: readonly unknown[]): unknown[] {
  let lowered: unknown[] | null = null;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value !== 'string') continue;
    const lower = value.toLowerCase();
    if (lower === value) continue;
    lowered ??= values.slice();
    lowered[i] = lower;
  }
  return lowered ?? (values as unknown[]);
}
