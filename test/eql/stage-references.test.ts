import { describe, expect, it } from 'vitest';
import { compileQuery, parseQuery, type EqlEvent, type SequenceMatcher } from '../../src/eql/index.js';
import { eqlErrorOf as errorOf } from '../support/helpers.js';

let clock = 0;
function ev(category: string, fields: Record<string, unknown>): EqlEvent {
  clock += 1000;
  return { '@timestamp': clock, event: { category }, ...fields };
}

function matcherFor(query: string): SequenceMatcher {
  const compiled = compileQuery(query, { dialect: 'defend' });
  if (compiled.kind !== 'sequence') throw new Error('sequence expected');
  return compiled.createMatcher();
}

function run(matcher: SequenceMatcher, events: EqlEvent[]): number[][] {
  return events.flatMap((e) => matcher.push(e)).map((m) => m.events.map((x) => x.id as number));
}

describe('named stages: parsing', () => {
  it('names a stage with `as` and turns name.field in a later stage into a reference to its event', () => {
    const ast = parseQuery('sequence [process where a == 1] as event0 [process where b == event0.process.name]', undefined, 'defend');
    if (ast.body.kind !== 'sequenceQuery') throw new Error('sequence expected');
    expect(ast.body.terms.map((t) => t.alias)).toEqual(['event0', null]);
    const condition = ast.body.terms[1]!.filter.condition;
    expect(condition.kind === 'comparison' && condition.right).toMatchObject({ kind: 'stageField', alias: 'event0', stage: 0, path: ['process', 'name'], name: 'process.name' });
  });

  it('counts stages, not brackets: a reference is to the position of the named stage in the match', () => {
    const ast = parseQuery('sequence [a where true] with runs=2 [b where true] as named [c where x == named.y]', undefined, 'defend');
    if (ast.body.kind !== 'sequenceQuery') throw new Error('sequence expected');
    const condition = ast.body.terms[2]!.filter.condition;
    expect(condition.kind === 'comparison' && condition.right).toMatchObject({ kind: 'stageField', stage: 2 });
  });

  it('leaves a field that only looks like a name alone when no stage has that name', () => {
    const ast = parseQuery('sequence [a where true] as first [b where event0.x == 1]', undefined, 'defend');
    if (ast.body.kind !== 'sequenceQuery') throw new Error('sequence expected');
    const condition = ast.body.terms[1]!.filter.condition;
    expect(condition.kind === 'comparison' && condition.left.kind).toBe('field');
  });

  it.each([
    [
      'sequence [a where true] as event0 [b where true]',
      "EQL0205 named stages ('as <name>') are Elastic Defend's dialect, not Elasticsearch EQL at 1:25",
      'sequence [a where true] as event0 [b where true]\n                        ^^',
      'elasticsearch',
    ],
    [
      'sequence [a where true] as event0 [b where x == event1.y] as event1',
      "EQL0203 'event1' names this stage or a later one; only an earlier stage can be read at 1:49",
      'sequence [a where true] as event0 [b where x == event1.y] as event1\n                                                ^^^^^^',
      'defend',
    ],
    [
      'sequence [a where x == event0.y] as event0 [b where true]',
      "EQL0203 'event0' names this stage or a later one; only an earlier stage can be read at 1:24",
      undefined,
      'defend',
    ],
    [
      'sequence [a where true] as event0 by k [b where true] by event0.k',
      "EQL0203 'event0' names a stage; join keys and until cannot read an earlier stage at 1:58",
      undefined,
      'defend',
    ],
    [
      'sequence [a where true] as event0 [b where true] until [c where x == event0.x]',
      "EQL0203 'event0' names a stage; join keys and until cannot read an earlier stage at 1:70",
      undefined,
      'defend',
    ],
    [
      'sequence [a where true] as event0 [process where descendant of [process where x == event0.x]]',
      "EQL0203 'event0' names a stage; a lineage subquery cannot read an earlier stage at 1:84",
      undefined,
      'defend',
    ],
    ['sequence [a where true] as e [b where true] as e', "EQL0203 stage name 'e' is already used at 1:48", undefined, 'defend'],
    ['sequence [a where true] as [b where true]', "EQL0102 expected a stage name after 'as', found '[' at 1:28", undefined, 'defend'],
    ['sequence [a where true] as e with runs=2 [b where true]', 'EQL0203 a named stage cannot repeat (with runs) at 1:30', undefined, 'defend'],
    ['sequence [a where true] [b where true] until [c where true] as e', 'EQL0203 only a stage of a sequence can be named at 1:61', undefined, 'defend'],
  ] as const)('reports %s with its position', (query, message, rendered, dialect) => {
    const error = errorOf(() => compileQuery(query, { dialect }));
    expect(error.message).toBe(message);
    if (rendered !== undefined) expect(error.render()).toBe(`${message}\n${rendered}`);
  });

  it('lists the referenced fields among the fields the query reads', () => {
    const q = compileQuery('sequence [a where true] as e0 [b where startswith~(p.cmd, e0.q.cmd)]', { dialect: 'defend' });
    expect(q.fields).toEqual(expect.arrayContaining(['p.cmd', 'q.cmd']));
  });
});

describe('named stages: evaluation', () => {
  const secretSearch = `
    sequence by parent with maxspan=10s
      [process where name == "find"] as event0
      [process where name == "find" and not startswith~(cmd, event0.cmd)] as event1
      [process where name == "find" and not startswith~(cmd, event1.cmd)]`;

  it('reads each stage against the event the named stage matched in the same partial sequence', () => {
    const m = matcherFor(secretSearch);
    const events = [
      ev('process', { id: 1, parent: 'p', name: 'find', cmd: 'find / -name id_rsa' }),
      ev('process', { id: 2, parent: 'p', name: 'find', cmd: 'FIND / -name id_rsa -print' }), // starts with event0's command line: not a new search
      ev('process', { id: 3, parent: 'p', name: 'find', cmd: 'find /home -name .env' }),
      ev('process', { id: 4, parent: 'p', name: 'find', cmd: 'find /etc -name shadow' }),
    ];
    // 2 does not advance [1]; it starts a partial of its own, which 3 then advances
    expect(run(m, events)).toEqual([[2, 3, 4]]);
  });

  it('keeps partials of different join keys apart', () => {
    const m = matcherFor(secretSearch);
    const events = [
      ev('process', { id: 1, parent: 'a', name: 'find', cmd: 'find /a' }),
      ev('process', { id: 2, parent: 'b', name: 'find', cmd: 'find /b' }),
      ev('process', { id: 3, parent: 'a', name: 'find', cmd: 'find /a/deeper' }),
      ev('process', { id: 4, parent: 'b', name: 'find', cmd: 'find /c' }),
      ev('process', { id: 5, parent: 'b', name: 'find', cmd: 'find /d' }),
    ];
    expect(run(m, events)).toEqual([[2, 4, 5]]);
  });

  it('reads a stage other than the one just before', () => {
    const m = matcherFor('sequence [a where true] as first [b where true] [c where path == first.path]');
    const events = [ev('a', { id: 1, path: '/tmp/x' }), ev('b', { id: 2, path: '/other' }), ev('c', { id: 3, path: '/tmp/x' })];
    expect(run(m, events)).toEqual([[1, 2, 3]]);
    const miss = matcherFor('sequence [a where true] as first [b where true] [c where path == first.path]');
    expect(run(miss, [ev('a', { id: 1, path: '/tmp/x' }), ev('b', { id: 2, path: '/tmp/x' }), ev('c', { id: 3, path: '/tmp/y' })])).toEqual([]);
  });

  it('judges one event against each partial its keys find: nothing is remembered per event', () => {
    // event 3 has two join key values and meets two partials; only one has the same name
    const m = matcherFor('sequence by host [a where true] as e0 [b where name == e0.name]');
    const events = [ev('a', { id: 1, host: 'h1', name: 'x' }), ev('a', { id: 2, host: 'h2', name: 'y' }), ev('b', { id: 3, host: ['h1', 'h2'], name: 'y' })];
    expect(run(m, events)).toEqual([[2, 3]]);
  });

  it('treats a field the earlier event lacks as missing', () => {
    const m = matcherFor('sequence [a where true] as e0 [b where not startswith~(cmd, e0.cmd)]');
    expect(run(m, [ev('a', { id: 1 }), ev('b', { id: 2, cmd: 'x' })])).toEqual([[1, 2]]);
    const eq = matcherFor('sequence [a where true] as e0 [b where cmd == e0.cmd]');
    expect(run(eq, [ev('a', { id: 1 }), ev('b', { id: 2, cmd: 'x' })])).toEqual([]);
  });

  it('still expires partials on maxspan before a stage that reads them is judged', () => {
    const m = matcherFor('sequence with maxspan=1s [a where true] as e0 [b where v == e0.v]');
    const first = ev('a', { id: 1, v: 1 });
    clock += 5000;
    expect(run(m, [first, ev('b', { id: 2, v: 1 })])).toEqual([]);
    expect(m.stats.expired).toBe(1);
  });
});
