/**
 * Process lineage for Elastic Defend's `descendant of [q]`, `child of [q]` and `event of [q]`
 * (dialect.ts), kept from the event stream itself: each event names its process
 * (`process.entity_id`) and that process's parent (`process.parent.entity_id`), which is all the
 * engine needs to know a process's ancestors without walking a tree.
 *
 * Semantics. A process "matched" q when one of its own events matched q (Defend's rules use exec
 * events). For the process of an event:
 * - `event of [q]`: the process matched q, on this event or an earlier one;
 * - `child of [q]`: its parent had matched q;
 * - `descendant of [q]`: its parent had matched q, or was itself a descendant of q (strict: a
 *   process is not its own descendant).
 * "Had" is as of the process's events: each event takes over what the parent has then, and what
 * a process has taken over it keeps (the relations only grow, so an orphan re-parented to init
 * stays a descendant). That is the original EQL's definition (endgameinc/eql), which relates
 * processes by their parent links, with one difference that matters on Linux only: there a child
 * is forked before its parent execs (a process runs `dnf` only after its fork), and the original
 * engine fixed a child's relations at its creation, so a child forked just before its parent
 * exec'd into a matching program was never related to it. Here that child is related from its
 * next event on, as Defend's own view by ancestry has it: its parent is the process that matched.
 * A grandparent's match reaches a process through its parent's lineage as of the parent's latest
 * event; since processes match at their exec, before they fork what runs under them, that is the
 * whole chain.
 *
 * Incremental, so the cost per event does not grow with the tree: a process with any relation
 * keeps three bitsets over the registered subqueries (matched itself; its parent had matched; an
 * ancestor had matched), updated from its parent's with an OR of a few words. Only processes with
 * some relation are kept (most have none): an event costs two lookups by entity id and one
 * evaluation of each registered subquery (shared between rules that write the same one); a
 * relation test is a bit test.
 *
 * Bounded like every other state (limits.ts maxLineageProcesses): at most that many processes
 * are kept, at least the half of them seen most recently; those not seen for the longest time
 * are forgotten (counted; Generations below), and their descendants seen after that have no
 * lineage through them. A process's `end` event moves it to a small ring of ended processes, so a
 * child the stream sees after its parent exited (a daemon's payload exec'ing after the double
 * fork) still takes over its lineage. A process the stream never saw (running before the agent
 * started) has no known match, so `descendant of` cannot be proved through it.
 *
 * Subqueries are registered while rules are compiled against a tracker, all before the first
 * event is observed; whoever evaluates a query that uses lineage must observe() every event of
 * the stream, in order, before evaluating the query on it (rule-set.ts does).
 */
import { structureKey, type EventFilterNode, type LineageRelation } from './ast.js';
import { fieldSlot } from './field-access.js';
import type { EqlEvent } from './index.js';
import { DEFAULT_LIMITS } from './limits.js';
import { OrderedMap } from '../insertion-order.js';

/** Identifies a subquery by its structure (positions aside): equal subqueries share a bit. */
export function lineageSubqueryKey(filter: EventFilterNode): string {
  return structureKey(filter);
}

/** How relationsOf() names a relation to a subquery. */
const RELATIONS: readonly LineageRelation[] = ['event', 'child', 'descendant'];

export function lineageRelationName(relation: LineageRelation, subqueryKey: string): string {
  return `${relation} ${subqueryKey}`;
}

export interface LineageStats {
  /** Processes tracked now (the ring of ended ones included). */
  processes: number;
  /** Processes forgotten to stay within the limit. */
  forgotten: number;
  /** Distinct subqueries evaluated on every event. */
  subqueries: number;
}

/** Bits per word: 30 keeps every word a small integer for V8 (31-bit signed with pointer compression). */
const WORD = 30;

/**
 * A process's three bitsets over the subqueries (matched itself; its parent had matched; an
 * ancestor had matched): the first word of each inline, the others (past 30 subqueries) in `more`
 * as [self, parent, ancestors] per word.
 */
class ProcessLineage {
  self = 0;
  parent = 0;
  ancestors = 0;
  more: number[] | null = null;
}

const readEntity = fieldSlot(['process', 'entity_id']).read;
const readParentEntity = fieldSlot(['process', 'parent', 'entity_id']).read;
const readEventType = fieldSlot(['event', 'type']).read;

function entityKey(value: unknown): string | null {
  if (typeof value === 'string') return value === '' ? null : value;
  if (typeof value === 'number') return String(value);
  return null;
}

function isEnd(event: EqlEvent): boolean {
  const type = readEventType(event);
  return type === 'end' || (Array.isArray(type) && type.includes('end'));
}

/** Takes over what the parent has: its matches (child of) and its matches with its own ancestors' (descendant of). */
function inheritInto(child: ProcessLineage, parent: ProcessLineage): void {
  child.parent |= parent.self;
  child.ancestors |= parent.self | parent.ancestors;
  const more = parent.more;
  if (more === null) return;
  const own = (child.more ??= new Array<number>(more.length).fill(0));
  for (let i = 0; i < more.length; i += 3) {
    own[i + 1]! |= more[i]!;
    own[i + 2]! |= more[i]! | more[i + 2]!;
  }
}

function setSelf(lineage: ProcessLineage, bit: number, words: number): void {
  if (bit < WORD) {
    lineage.self |= 1 << bit;
    return;
  }
  lineage.more ??= new Array<number>(3 * (words - 1)).fill(0);
  lineage.more[3 * (Math.floor(bit / WORD) - 1)]! |= 1 << bit % WORD;
}

function test(lineage: ProcessLineage, relation: LineageRelation, bit: number): boolean {
  const offset = relation === 'event' ? 0 : relation === 'child' ? 1 : 2;
  if (bit < WORD) {
    const word = offset === 0 ? lineage.self : offset === 1 ? lineage.parent : lineage.ancestors;
    return (word & (1 << bit)) !== 0;
  }
  const more = lineage.more;
  if (more === null) return false;
  return ((more[3 * (Math.floor(bit / WORD) - 1) + offset] ?? 0) & (1 << bit % WORD)) !== 0;
}

/**
 * Processes by entity id, about least recently used first out, without reordering on every use:
 * two generations, each up to half the limit; a process found only in the older one moves to the
 * newer, and when the newer is full the older is dropped (its processes forgotten) and the newer
 * becomes the older. A process in use keeps moving forward; an idle one goes within two
 * generations.
 */
class Generations {
  private young = new Map<string, ProcessLineage>();
  private old = new Map<string, ProcessLineage>();
  forgotten = 0;

  constructor(private readonly half: number) {}

  get size(): number {
    return this.young.size + this.old.size;
  }

  get(id: string): ProcessLineage | undefined {
    const young = this.young.get(id);
    if (young !== undefined) return young;
    const old = this.old.get(id);
    if (old !== undefined) {
      this.old.delete(id);
      this.add(id, old);
    }
    return old;
  }

  /** Looks without moving anything. */
  peek(id: string): ProcessLineage | undefined {
    return this.young.get(id) ?? this.old.get(id);
  }

  add(id: string, lineage: ProcessLineage): void {
    if (this.young.size >= this.half) {
      this.forgotten += this.old.size;
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(id, lineage);
  }

  delete(id: string): void {
    if (!this.young.delete(id)) this.old.delete(id);
  }
}

export class LineageTracker {
  private readonly matchers: ((event: EqlEvent) => boolean)[] = [];
  private readonly ids = new Map<string, number>();
  /** The relation names of each bit (lineageRelationName), built once at registration. */
  private readonly names: Record<LineageRelation, string>[] = [];
  private relationsEvent: object | null = null;
  private relations: string[] | null = null;
  private readonly live: Generations;
  /** Processes whose `end` was seen, oldest first. */
  private readonly ended = new OrderedMap<string, ProcessLineage>();
  private readonly maxEnded: number;
  private words = 0;
  private sealed = false;
  private lastEvent: object | null = null;
  private lastLineage: ProcessLineage | null = null;

  constructor(maxProcesses: number = DEFAULT_LIMITS.maxLineageProcesses) {
    if (!Number.isInteger(maxProcesses) || maxProcesses < 2) throw new RangeError(`maxProcesses must be an integer of at least 2, got ${maxProcesses}`);
    this.live = new Generations(Math.floor(maxProcesses / 2));
    this.maxEnded = Math.max(1, Math.floor(maxProcesses / 16));
  }

  /**
   * The bit of a subquery: the same `key` (the subquery's structure) gets the same bit, so rules
   * sharing a subquery share its evaluation. Only before the first observe().
   */
  register(key: string, matches: (event: EqlEvent) => boolean): number {
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    if (this.sealed) throw new Error('lineage subqueries must be registered before the first event is observed');
    const bit = this.matchers.length;
    this.matchers.push(matches);
    this.ids.set(key, bit);
    this.names.push({
      event: lineageRelationName('event', key),
      child: lineageRelationName('child', key),
      descendant: lineageRelationName('descendant', key),
    });
    return bit;
  }

  /**
   * Every relation that holds for the event's process (lineageRelationName), or null when none
   * does, the usual case: the rule index reads it as a field, so a rule that needs a relation is
   * not even offered the event of a process without one.
   */
  relationsOf(event: EqlEvent): string[] | null {
    if (event === this.relationsEvent) return this.relations;
    if (event === this.lastEvent && this.lastLineage === null) return null;
    let found: string[] | null = null;
    for (let bit = 0; bit < this.names.length; bit++) {
      const names = this.names[bit]!;
      for (const relation of RELATIONS) {
        if (this.holds(event, relation, bit)) (found ??= []).push(names[relation]);
      }
    }
    this.relationsEvent = event;
    this.relations = found;
    return found;
  }

  get subqueries(): number {
    return this.matchers.length;
  }

  /** Records `event`: what its process takes over from its parent, and the subqueries it matches. */
  observe(event: EqlEvent): void {
    if (event === this.lastEvent) return;
    if (!this.sealed) {
      this.sealed = true;
      this.words = Math.ceil(this.matchers.length / WORD);
    }
    this.lastEvent = event;
    this.lastLineage = null;
    if (this.matchers.length === 0) return;
    // While no process has a relation (a quiet host: no subquery ever matched), there is nothing
    // to take over: only a match of this event can start one, and only then is the id read.
    let id: string | null | undefined;
    let lineage: ProcessLineage | undefined;
    let kept = false;
    if (this.live.size > 0 || this.ended.size > 0) {
      id = entityKey(readEntity(event));
      if (id === null) return;
      lineage = this.live.get(id) ?? this.ended.get(id);
      kept = lineage !== undefined;
      const parentId = entityKey(readParentEntity(event));
      // looking the parent up moves it forward: a process whose children are active is in use
      const parent = parentId === null || parentId === id ? undefined : (this.live.get(parentId) ?? this.ended.get(parentId));
      if (parent !== undefined) inheritInto((lineage ??= new ProcessLineage()), parent);
      this.lastLineage = lineage ?? null;
    }
    // in registration order: a subquery's own lineage subqueries were registered before it
    const matchers = this.matchers;
    for (let i = 0; i < matchers.length; i++) {
      if (!matchers[i]!(event)) continue;
      if (lineage === undefined) {
        id ??= entityKey(readEntity(event));
        if (id === null) return;
        this.lastLineage = lineage = new ProcessLineage();
      }
      setSelf(lineage, i, this.words);
    }
    if (lineage === undefined || id == null) return;
    if (isEnd(event)) {
      this.live.delete(id);
      this.ended.delete(id);
      this.ended.set(id, lineage);
      if (this.ended.size > this.maxEnded) this.ended.delete(this.ended.oldest()![0]);
    } else if (!kept) {
      this.live.add(id, lineage);
    }
  }

  /** Does `relation` hold between the event's process and subquery `bit`? */
  holds(event: EqlEvent, relation: LineageRelation, bit: number): boolean {
    let lineage: ProcessLineage | null | undefined;
    if (event === this.lastEvent) lineage = this.lastLineage;
    else {
      const id = entityKey(readEntity(event));
      lineage = id === null ? undefined : (this.live.peek(id) ?? this.ended.get(id));
    }
    return lineage != null && test(lineage, relation, bit);
  }

  stats(): LineageStats {
    return { processes: this.live.size + this.ended.size, forgotten: this.live.forgotten, subqueries: this.matchers.length };
  }
}
