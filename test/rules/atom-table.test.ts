import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseQuery } from '../../src/eql/index.js';
import { fieldSlot } from '../../src/eql/field-access.js';
import { loadRules } from '../../src/rules/index.js';
import { AtomTable } from '../../src/rules/atom-table.js';
import { atomHolds, stageRequirement, type FieldAtom } from '../../src/rules/stage-requirements.js';
import { literalEventMix } from './support/literal-event-mix.js';
import { describeWithCorpus, CORPUS_DIR } from '../support/corpus.js';

const CORPUS = CORPUS_DIR;

/** Every atom of every stage of the queries. */
function atomsOf(sources: readonly string[]): FieldAtom[] {
  const atoms: FieldAtom[] = [];
  for (const source of sources) {
    const body = parseQuery(source).body;
    const filters = body.kind === 'eventQuery' ? [body.filter] : body.terms.map((t) => t.filter);
    for (const filter of filters) for (const clause of stageRequirement(filter.condition)) atoms.push(...clause);
  }
  return atoms;
}

describeWithCorpus('AtomTable', () => {
  it('gives every atom the result atomHolds gives, over the corpus rules and events made of their literals', async () => {
    const { rules } = await loadRules([join(CORPUS, 'elastic-linux-process'), join(CORPUS, 'elastic-linux-sequence')]);
    const sources = rules.map((r) => r.compiled.source);
    const atoms = atomsOf(sources);
    const table = new AtomTable();
    const ids = atoms.map((atom) => table.add(atom));
    expect(table.size).toBeLessThan(atoms.length); // shared atoms get one id
    let held = 0;
    const wrong: string[] = [];
    const events = literalEventMix(sources, 1500, 5);
    events.forEach((event, e) => {
      table.nextEvent();
      // Every other event is asked in reverse, so no result depends on which atom of a field comes first.
      const order = e % 2 === 0 ? atoms.map((_, i) => i) : atoms.map((_, i) => atoms.length - 1 - i);
      for (const i of order) {
        const atom = atoms[i]!;
        const slot = fieldSlot(atom.path);
        const expected = atomHolds(atom, atom.caseInsensitive ? slot.readLower(event) : slot.read(event));
        if (table.holds(ids[i]!, event) !== expected) wrong.push(`event ${e}, atom on ${atom.field}: expected ${expected}`);
        if (expected) held++;
      }
    });
    expect(wrong).toEqual([]);
    expect(held).toBeGreaterThan(events.length);
  });
});
