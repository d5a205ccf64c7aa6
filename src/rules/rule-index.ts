/**
 * Offers each event only the rules that could match it. A rule is a list of stages (one for an
 * event query, one per bracket for a sequence); a stage accepts an event when the event's
 * `event.category` holds the stage's category (any category for `any where`) and every clause of
 * its requirement (stage-requirements.ts) holds. A rule is a candidate when one of its stages
 * accepts the event.
 *
 * Two levels keep this cheap:
 * - clauses that read only MEMO_FIELDS (event category, type and action, host.os.type, the
 *   process's and its parent's name and executable, user.id) depend on few distinct values, so
 *   the stages passing them are computed once per combination of those values and memoised in
 *   nested maps, one level per field (bounded: past its size the memo is cleared, which costs
 *   time, never correctness). The memo key is the raw values, as case-sensitive atoms read them;
 * - the other clauses are checked per event on the memoised candidates only, each distinct atom
 *   (field, case handling and texts) at most once per event however many rules share it
 *   (atom-table.ts).
 *
 * Field values are read with the EQL engine's own field reader (nested, dotted and array-of-object
 * paths alike), so an atom sees exactly the value the query would.
 *
 * A stage of a sequence after the first can only extend a partial sequence that completed the
 * stage before it: such a stage says which stages (`openAfter`) and accepts only while the
 * entry's owner (`isOpen`, the rule set asking the rule's sequence matcher) has one open. A
 * sequence whose first stage waits for an event this host rarely or never has (Defend's
 * `memfd_create`) is then not offered every exec its broad second stage would take.
 */
import type { EqlEvent } from '../eql/index.js';
import { fieldSlot } from '../eql/field-access.js';
import { AtomTable, type VirtualFields } from './atom-table.js';
import { atomHolds, type Clause, type FieldAtom, type StageRequirement } from './stage-requirements.js';

export interface StageFilter {
  /** Lower-cased category, or null for `any`. */
  category: string | null;
  requirement: StageRequirement;
  /**
   * The stage can use an event only while a partial sequence that completed one of stages
   * `from`..`to` is open; absent for a stage that can always use one (an event query, a first
   * stage).
   */
  openAfter?: { from: number; to: number };
}

export interface IndexEntry<T> {
  item: T;
  stages: readonly StageFilter[];
}

// Fields with few distinct values on a host: host.os.type is constant and most Linux rules pin it;
// the executables follow the names, and user ids are few. A clause on them costs nothing per event.
export const MEMO_FIELDS: ReadonlySet<string> = new Set([
  'event.category', 'event.type', 'event.action', 'host.os.type',
  'process.name', 'process.parent.name', 'process.executable', 'process.parent.executable', 'user.id',
]);

interface CompiledAtom {
  atom: FieldAtom;
  read: (event: EqlEvent) => unknown;
}

interface IndexedStage {
  category: string | null;
  memoClauses: CompiledAtom[][];
  /** Residual clauses as ids in the index's atom table. */
  residualClauses: number[][];
  /** StageFilter.openAfter, as [from, to], or [-1, -1] for always. */
  openFrom: number;
  openTo: number;
}

interface IndexedEntry<T> {
  item: T;
  stages: IndexedStage[];
}

/**
 * The memoised candidates of one combination of memo-field values: the entries that have a stage
 * passing the memo-level clauses, and those stages' residual clauses as one flat program, read by
 * candidates() in a tight loop:
 *
 *   candidate: item index, offset after the candidate, stage count, stages…
 *   stage:     offset after the stage, open from, open to, clause count, clauses…
 *              (open from -1: always live; no clause: accepts at once)
 *   clause:    atom count, atom ids…                            (holds when one atom does)
 */
interface MemoCandidates<T> {
  items: T[];
  program: Int32Array;
}

function compileAtom(atom: FieldAtom): CompiledAtom {
  const slot = fieldSlot(atom.path);
  return { atom, read: atom.caseInsensitive ? slot.readLower : slot.read };
}

function lowerList(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const v of list) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push(String(v).toLowerCase());
  return out;
}

const KEY_MARKER = '\u0004';

/**
 * A memo key part for one raw field value. A plain string is its own key (no allocation), and
 * so is a one-string array: every atom and the category test treat an array as "any element",
 * so ["start"] and "start" select the same stages. Anything else is typed JSON behind a marker
 * no plain key starts with, so no two values that could select differently share a key.
 */
function keyPart(value: unknown): string {
  if (typeof value === 'string') {
    if (!value.startsWith(KEY_MARKER)) return value;
  } else if (Array.isArray(value) && value.length === 1 && typeof value[0] === 'string' && !value[0].startsWith(KEY_MARKER)) {
    return value[0];
  }
  const list = Array.isArray(value) ? value : [value];
  return `${KEY_MARKER}${JSON.stringify(list, (_, v: unknown) => (v === undefined ? null : typeof v === 'bigint' ? { bigint: String(v) } : v))}`;
}

/**
 * Residual clauses in the order they are tested: those without infixes first (a hash lookup or a
 * read once the field is scanned), clauses with infixes (a substring search per infix) last.
 */
function residualOrder(clauses: readonly Clause[]): Clause[] {
  const searches = (clause: Clause): number => clause.reduce((n, atom) => n + atom.infixes.length, 0);
  return [...clauses].sort((a, b) => searches(a) - searches(b));
}

function clauseHolds(clause: CompiledAtom[], event: EqlEvent): boolean {
  for (let i = 0; i < clause.length; i++) if (atomHolds(clause[i]!.atom, clause[i]!.read(event))) return true;
  return false;
}

/** Nested maps, one level per memo field; the last level holds the candidates. */
type MemoNode<T> = Map<string, MemoNode<T> | MemoCandidates<T>>;

export class RuleIndex<T> {
  private readonly entries: IndexedEntry<T>[];
  private memo: MemoNode<T> = new Map();
  private memoSize = 0;
  private readonly memoSlots = [...MEMO_FIELDS].map((field) => fieldSlot(field.split('.')));
  /** mayOffer()'s candidates (reused, like candidatesInto's callers' arrays). */
  private readonly probeScratch: T[] = [];
  /** Distinct residual atoms over all rules, each checked at most once per event. */
  private readonly atoms: AtomTable;

  constructor(
    entries: readonly IndexEntry<T>[],
    private readonly maxMemoEntries = 4096,
    /** For stages with `openAfter`: is a partial sequence of `item` open after stages from..to? */
    private readonly isOpen: (item: T, from: number, to: number) => boolean = () => true,
    /** Readers of the pseudo-fields atoms may name (the lineage relations). */
    virtualFields?: VirtualFields,
  ) {
    this.atoms = new AtomTable(virtualFields);
    const idOf = (atom: FieldAtom): number => this.atoms.add(atom);
    const onMemoFields = (clause: Clause): boolean => clause.every((atom) => MEMO_FIELDS.has(atom.field));
    this.entries = entries.map((entry) => ({
      item: entry.item,
      stages: entry.stages.map((stage) => ({
        category: stage.category,
        memoClauses: stage.requirement.filter(onMemoFields).map((clause) => clause.map(compileAtom)),
        residualClauses: residualOrder(stage.requirement.filter((clause) => !onMemoFields(clause))).map((clause) => clause.map(idOf)),
        openFrom: stage.openAfter?.from ?? -1,
        openTo: stage.openAfter?.to ?? -1,
      })),
    }));
  }

  get size(): number {
    return this.entries.length;
  }

  candidates(event: EqlEvent): T[] {
    const out: T[] = [];
    out.length = this.candidatesInto(event, out);
    return out;
  }

  /**
   * Writes the candidates of `event` to the start of `out` and returns how many there are; what
   * `out` holds past them is left over from earlier events (the array is reused as it is: no
   * allocation per event, not even to shrink it).
   */
  candidatesInto(event: EqlEvent, out: T[], residual = true): number {
    let count = 0;
    const memoised = this.memoised(event);
    this.atoms.nextEvent();
    const { items, program } = memoised;
    const atoms = this.atoms;
    let p = 0;
    while (p < program.length) {
      const item = program[p]!;
      const candidateEnd = program[p + 1]!;
      let stages = program[p + 2]!;
      p += 3;
      let accepted = false;
      while (stages-- > 0 && !accepted) {
        const stageEnd = program[p]!;
        const openFrom = program[p + 1]!;
        // Without `residual` (mayOffer), a stage that is open accepts on its memo clauses alone.
        let clauses = residual ? program[p + 3]! : 0;
        if (openFrom >= 0 && !this.isOpen(items[item]!, openFrom, program[p + 2]!)) {
          p = stageEnd;
          continue;
        }
        p += 4;
        let holds = true;
        while (clauses-- > 0) {
          const count = program[p]!;
          const first = p + 1;
          let any = false;
          for (let i = first; i < first + count; i++) {
            if (atoms.holds(program[i]!, event)) {
              any = true;
              break;
            }
          }
          if (!any) {
            holds = false;
            break;
          }
          p = first + count;
        }
        accepted = holds;
        p = stageEnd;
      }
      if (accepted) out[count++] = items[item]!;
      p = candidateEnd;
    }
    return count;
  }

  /**
   * Whether `probe`, an object holding only MEMO_FIELDS (with the values its event's document
   * will hold), could be offered to any entry: some stage passes the memo-level clauses and, for
   * a later stage of a sequence, a partial sequence is open for it. The residual clauses are
   * taken as holding (they read fields the probe does not have), so false means that
   * candidatesInto() of the document would find nothing.
   */
  mayOffer(probe: EqlEvent): boolean {
    return this.candidatesInto(probe, this.probeScratch, false) > 0;
  }

  private memoised(event: EqlEvent): MemoCandidates<T> {
    const slots = this.memoSlots;
    const last = slots.length - 1;
    let node = this.memo;
    for (let i = 0; i < last; i++) {
      const part = keyPart(slots[i]!.read(event));
      let child = node.get(part) as MemoNode<T> | undefined;
      if (child === undefined) {
        child = new Map();
        node.set(part, child);
      }
      node = child;
    }
    const part = keyPart(slots[last]!.read(event));
    let memoised = node.get(part) as MemoCandidates<T> | undefined;
    if (memoised === undefined) {
      if (this.memoSize >= this.maxMemoEntries) {
        // Start over from an empty memo; the path just walked is rebuilt for this event.
        this.memo = new Map();
        this.memoSize = 0;
        return this.memoised(event);
      }
      memoised = this.memoCandidates(event, lowerList(slots[0]!.read(event)));
      node.set(part, memoised);
      this.memoSize++;
    }
    return memoised;
  }

  private memoCandidates(event: EqlEvent, categories: string[]): MemoCandidates<T> {
    const items: T[] = [];
    const program: number[] = [];
    for (const entry of this.entries) {
      const stages = entry.stages.filter(
        (stage) => (stage.category === null || categories.includes(stage.category)) && stage.memoClauses.every((clause) => clauseHolds(clause, event)),
      );
      if (stages.length === 0) continue;
      const start = program.length;
      program.push(items.length, 0, stages.length);
      items.push(entry.item);
      for (const stage of stages) {
        const stageStart = program.length;
        program.push(0, stage.openFrom, stage.openTo, stage.residualClauses.length);
        for (const clause of stage.residualClauses) program.push(clause.length, ...clause);
        program[stageStart] = program.length;
      }
      program[start + 1] = program.length;
    }
    return { items, program: Int32Array.from(program) };
  }
}
