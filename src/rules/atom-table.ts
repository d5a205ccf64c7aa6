/**
 * The distinct field atoms of a rule set (stage-requirements.ts) with their results for the
 * current event. Each atom is tested at most once per event, and the values and prefixes of all
 * atoms on one field (with one case handling) are found together in one pass over the field's
 * elements: a hash lookup per element for the values, and for the prefixes one walk down a
 * character trie of them, as deep as the element matches some prefix. Only atoms that get no hit
 * and could still hold otherwise (infixes, presence, or a number, boolean or object element,
 * which the scan does not judge) then need their own test, and that test is atomHolds itself, so
 * the result is always the one atomHolds gives. Infixes stay per atom: a pass over every position
 * of every element for all infixes of a field cost more than the few atoms an event needs.
 */
import type { EqlEvent } from '../eql/index.js';
import { fieldSlot } from '../eql/field-access.js';
import { atomHolds, atomIdentity, type FieldAtom } from './stage-requirements.js';

/**
 * A trie of prefixes: the atoms whose prefix ends here, and the next characters (ASCII ones in an
 * array indexed by code, the rare others in a map).
 */
interface PrefixNode {
  ids: number[] | null;
  ascii: (PrefixNode | undefined)[] | null;
  other: Map<number, PrefixNode> | null;
}

function prefixNode(): PrefixNode {
  return { ids: null, ascii: null, other: null };
}

/** The atoms on one field with one case handling. */
interface FieldGroup {
  read: (event: EqlEvent) => unknown;
  valueIds: Map<string, number[]>;
  prefixes: PrefixNode;
  /** The event number the pass below was made for. */
  scannedFor: number;
  /** The field value of that event. */
  value: unknown;
  /** The value held a number, boolean or object: atoms not hit need their own test. */
  needsOwnTest: boolean;
}

function addTo<K>(map: Map<K, number[]>, key: K, id: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [id]);
  else if (!list.includes(id)) list.push(id);
}

function addPrefix(root: PrefixNode, prefix: string, id: number): void {
  let node = root;
  for (let i = 0; i < prefix.length; i++) {
    const code = prefix.charCodeAt(i);
    let child: PrefixNode | undefined;
    if (code < 128) {
      node.ascii ??= new Array<PrefixNode | undefined>(128).fill(undefined);
      child = node.ascii[code];
      if (child === undefined) node.ascii[code] = child = prefixNode();
    } else {
      node.other ??= new Map();
      child = node.other.get(code);
      if (child === undefined) node.other.set(code, (child = prefixNode()));
    }
    node = child;
  }
  node.ids ??= [];
  if (!node.ids.includes(id)) node.ids.push(id);
}

/** Readers of fields no event has (stage-requirements.ts LINEAGE_FIELD), by name. */
export type VirtualFields = ReadonlyMap<string, (event: EqlEvent) => unknown>;

export class AtomTable {
  private readonly atoms: FieldAtom[] = [];
  private readonly ids = new Map<string, number>();
  private readonly groupOf: FieldGroup[] = [];
  private readonly groups = new Map<string, FieldGroup>();
  private atomEvent = new Float64Array(0);
  private atomResult = new Uint8Array(0);
  private eventNumber = 0;

  constructor(private readonly virtualFields: VirtualFields = new Map()) {}

  get size(): number {
    return this.atoms.length;
  }

  /** The id of `atom`, shared with every atom of the same identity. */
  add(atom: FieldAtom): number {
    const identity = atomIdentity(atom);
    const known = this.ids.get(identity);
    if (known !== undefined) return known;
    const id = this.atoms.length;
    this.atoms.push(atom);
    this.ids.set(identity, id);
    const groupKey = `${atom.field}\u0000${atom.caseInsensitive}`;
    let group = this.groups.get(groupKey);
    if (group === undefined) {
      const slot = fieldSlot(atom.path);
      group = {
        read: this.virtualFields.get(atom.field) ?? (atom.caseInsensitive ? slot.readLower : slot.read),
        valueIds: new Map(),
        prefixes: prefixNode(),
        scannedFor: -1,
        value: null,
        needsOwnTest: false,
      };
      this.groups.set(groupKey, group);
    }
    this.groupOf.push(group);
    for (const value of atom.values) addTo(group.valueIds, value, id);
    for (const prefix of atom.prefixes) addPrefix(group.prefixes, prefix, id);
    this.atomEvent = new Float64Array(this.atoms.length).fill(-1);
    this.atomResult = new Uint8Array(this.atoms.length);
    return id;
  }

  /** Starts a new event: every result from here on is for it. */
  nextEvent(): void {
    this.eventNumber++;
  }

  /** Does atom `id` hold for the current event? */
  holds(id: number, event: EqlEvent): boolean {
    const n = this.eventNumber;
    if (this.atomEvent[id] === n) return this.atomResult[id] === 1;
    const group = this.groupOf[id]!;
    if (group.scannedFor !== n) {
      this.scan(group, event, n);
      if (this.atomEvent[id] === n) return true;
    }
    const atom = this.atoms[id]!;
    const holds = (group.needsOwnTest || atom.present || atom.infixes.length > 0) && atomHolds(atom, group.value);
    this.atomEvent[id] = n;
    this.atomResult[id] = holds ? 1 : 0;
    return holds;
  }

  private mark(ids: number[], n: number): void {
    for (let i = 0; i < ids.length; i++) {
      this.atomEvent[ids[i]!] = n;
      this.atomResult[ids[i]!] = 1;
    }
  }

  private scan(group: FieldGroup, event: EqlEvent, n: number): void {
    const value = group.read(event);
    group.scannedFor = n;
    group.value = value;
    group.needsOwnTest = false;
    this.scanElement(group, value, n);
  }

  private scanElement(group: FieldGroup, element: unknown, n: number): void {
    if (typeof element !== 'string') {
      if (Array.isArray(element)) for (let i = 0; i < element.length; i++) this.scanElement(group, element[i], n);
      else if (element !== null && element !== undefined) group.needsOwnTest = true;
      return;
    }
    const exact = group.valueIds.get(element);
    if (exact !== undefined) this.mark(exact, n);
    let node = group.prefixes;
    for (let i = 0; i < element.length; i++) {
      const code = element.charCodeAt(i);
      const child = code < 128 ? node.ascii?.[code] : node.other?.get(code);
      if (child === undefined) break;
      if (child.ids !== null) this.mark(child.ids, n);
      node = child;
    }
  }
}
