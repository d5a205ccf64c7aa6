import { describe, expect, it } from 'vitest';
import { compileQuery, type EqlEvent, type SequenceMatcher } from '../../src/eql/index.js';
import { eventBytes } from '../../src/eql/sequence.js';

function matcherFor(query: string, options: Parameters<Extract<ReturnType<typeof compileQuery>, { kind: 'sequence' }>['createMatcher']>[0] = {}): SequenceMatcher {
  const compiled = compileQuery(query);
  if (compiled.kind !== 'sequence') throw new Error('sequence expected');
  return compiled.createMatcher(options);
}

let clock = 0;
function ev(category: string, fields: Record<string, unknown>, at?: number): EqlEvent {
  clock = at ?? clock + 1;
  return { '@timestamp': clock, event: { category }, ...fields };
}

/** Pushes events and returns the ids of every completed sequence. */
function run(matcher: SequenceMatcher, events: EqlEvent[]): number[][] {
  return events.flatMap((e) => matcher.push(e)).map((m) => m.events.map((x) => x.id as number));
}

describe('sequence matcher', () => {
  it('describes the compiled sequence', () => {
    const compiled = compileQuery('sequence by host.id with maxspan=1m [process where a == 1] [file where b == 2] with runs=2');
    expect(compiled.kind).toBe('sequence');
    if (compiled.kind !== 'sequence') return;
    expect(compiled.categories).toEqual(['process', 'file', 'file']);
    expect(compiled.maxspanMs).toBe(60_000);
    expect([...compiled.fields].sort()).toEqual(['a', 'b', 'event.category', 'host.id']);
  });

  it('keeps only the most recent partial per stage and key', () => {
    const m = matcherFor('sequence [process where id <= 3] [process where true] [process where true]');
    const events = [1, 2, 3, 4, 5, 6].map((id) => ev('process', { id }));
    expect(run(m, events)).toEqual([[1, 2, 3], [2, 3, 4], [3, 4, 5]]);
    expect(m.stats.completed).toBe(3);
  });

  it('joins by sequence-level and per-stage keys, reporting the key values', () => {
    const m = matcherFor('sequence by host [process where true] by pid [network where true] by ppid');
    const matches = [
      ev('process', { id: 1, host: 'h1', pid: 10 }),
      ev('process', { id: 2, host: 'h2', pid: 10 }),
      ev('network', { id: 3, host: 'h1', ppid: 11 }),
      ev('network', { id: 4, host: 'h2', ppid: 10 }),
      ev('network', { id: 5, host: 'h1', ppid: 10 }),
    ].flatMap((e) => m.push(e));
    expect(matches.map((x) => [x.joinKeys, x.events.map((e) => e.id)])).toEqual([
      [['h2', 10], [2, 4]],
      [['h1', 10], [1, 5]],
    ]);
  });

  it('drops events whose required key is missing, but joins on null for ?optional keys', () => {
    const required = matcherFor('sequence by k [a where true] [b where true]');
    expect(run(required, [ev('a', { id: 1 }), ev('b', { id: 2 })])).toEqual([]);
    const optional = matcherFor('sequence by ?k [a where true] [b where true]');
    const matches = [ev('a', { id: 1 }), ev('b', { id: 2 })].flatMap((e) => optional.push(e));
    expect(matches.map((x) => [x.joinKeys, x.events.map((e) => e.id)])).toEqual([[[null], [1, 2]]]);
  });

  it('expands multi-valued keys into one key per distinct value', () => {
    const m = matcherFor('sequence by tag [a where true] [b where true]');
    const matches = [ev('a', { id: 1, tag: ['x', 'y', 'x', null] }), ev('b', { id: 2, tag: 'y' }), ev('b', { id: 3, tag: ['x'] })].flatMap((e) => m.push(e));
    expect(matches.map((x) => [x.joinKeys, x.events.map((e) => e.id)])).toEqual([
      [['y'], [1, 2]],
      [['x'], [1, 3]],
    ]);
  });

  it('expires partial sequences older than maxspan on event time', () => {
    const m = matcherFor('sequence with maxspan=10s [a where true] [b where true]');
    expect(run(m, [ev('a', { id: 1 }, 1_000), ev('b', { id: 2 }, 11_000)])).toEqual([[1, 2]]); // exactly maxspan: inside
    expect(run(m, [ev('a', { id: 3 }, 20_000), ev('b', { id: 4 }, 30_001)])).toEqual([]);
    expect(m.stats.expired).toBe(1);
    expect(m.stats.open).toBe(0);
  });

  it('reads ISO-8601 timestamps and a custom timestamp field', () => {
    const m = matcherFor('sequence with maxspan=1s [a where true] [b where true]', { timestampField: 'ts' });
    const at = (id: number, category: string, ts: string): EqlEvent => ({ id, ts, event: { category } });
    expect(run(m, [at(1, 'a', '2024-01-01T00:00:00.000Z'), at(2, 'b', '2024-01-01T00:00:00.900Z')])).toEqual([[1, 2]]);
    expect(run(m, [at(3, 'a', '2024-01-01T00:00:01.000Z'), at(4, 'b', '2024-01-01T00:00:02.001Z')])).toEqual([]);
  });

  it('sweeps expired partial sequences even when they are never touched again', () => {
    const m = matcherFor('sequence by k with maxspan=1s [a where true] [b where true]');
    for (let i = 0; i < 100; i++) m.push(ev('a', { id: i, k: i }, i));
    expect(m.stats.open).toBe(100);
    for (let i = 0; i < 300; i++) m.push(ev('c', { id: 1000 + i }, 10_000 + i));
    expect(m.stats.open).toBe(0);
    expect(m.stats.expired).toBe(100);
  });

  it('cuts open sequences of the key at an until event, but completes one the same event finishes', () => {
    const m = matcherFor('sequence by k [a where true] [b where true] [c where true] until [u where true]');
    const events = [
      ev('a', { id: 1, k: 1 }),
      ev('b', { id: 2, k: 1 }),
      ev('a', { id: 3, k: 2 }),
      ev('u', { id: 4, k: 1 }),
      ev('c', { id: 5, k: 1 }),
      ev('b', { id: 6, k: 2 }),
      ev('c', { id: 7, k: 2 }),
    ];
    expect(run(m, events)).toEqual([[3, 6, 7]]);
    const same = matcherFor('sequence [a where true] [b where true] until [b where true]');
    expect(run(same, [ev('a', { id: 1 }), ev('b', { id: 2 })])).toEqual([[1, 2]]);
  });

  it('repeats a stage with runs=N', () => {
    const m = matcherFor('sequence by k [a where true] [b where true] with runs=3');
    const events = [ev('a', { id: 1, k: 1 }), ev('b', { id: 2, k: 1 }), ev('b', { id: 3, k: 1 }), ev('b', { id: 4, k: 1 })];
    expect(run(m, events)).toEqual([[1, 2, 3, 4]]);
  });

  it('caps open sequences and counts evictions, oldest first', () => {
    const query = 'sequence by k [a where true] [b where true]';
    const m = matcherFor(query, { maxOpenSequences: 3 });
    for (let k = 1; k <= 5; k++) m.push(ev('a', { id: k, k }));
    expect(m.stats).toMatchObject({ open: 3, evicted: 2 });
    expect(run(m, [ev('b', { id: 10, k: 1 }), ev('b', { id: 11, k: 5 })])).toEqual([[5, 11]]);
    const atLimit = matcherFor(query, { maxOpenSequences: 5 });
    for (let k = 1; k <= 5; k++) atLimit.push(ev('a', { id: k, k }));
    expect(atLimit.stats).toMatchObject({ open: 5, evicted: 0 });
  });

  it('bounds the bytes its partial sequences hold, evicting the least recently advanced', () => {
    const compiled = compileQuery('sequence by k [a where true] [b where true] [c where true]', { limits: { maxSequenceBytes: 100_000 } });
    if (compiled.kind !== 'sequence') throw new Error('sequence expected');
    const m = compiled.createMatcher();
    const padding = 'p'.repeat(20_000); // about 40 KB an event
    for (let k = 1; k <= 6; k++) m.push(ev('a', { id: k, k, padding }));
    // Two fit in 100 KB; the four oldest went, counted like the open-sequence cap's evictions.
    expect(m.stats).toMatchObject({ open: 2, evicted: 4 });
    // A partial that advances grows, and is the most recent: the other one goes.
    m.push(ev('b', { id: 20, k: 5, padding }));
    expect(m.stats).toMatchObject({ open: 1, evicted: 5 });
    expect(run(m, [ev('c', { id: 30, k: 5 })])).toEqual([[5, 20, 30]]);
    // Small events are not touched by the byte bound.
    const small = compiled.createMatcher();
    for (let k = 1; k <= 200; k++) small.push(ev('a', { id: k, k }));
    expect(small.stats).toMatchObject({ open: 200, evicted: 0 });
  });

  it('estimates at least two bytes for every character an event holds', () => {
    const event = { process: { args: ['sh', 'x'.repeat(1_000)], command_line: `sh ${'x'.repeat(1_000)}` }, n: 1, ok: true };
    expect(eventBytes(event)).toBeGreaterThanOrEqual(2 * (2 + 1_000 + 1_003));
    const wide = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]));
    expect(eventBytes(wide)).toBeGreaterThan(10_000 * 8);
    // Many short arguments cost what they hold, no more (xargs runs them every day).
    const xargs = { process: { args: Array.from({ length: 5_000 }, (_, i) => `file${i}`) } };
    expect(eventBytes(xargs)).toBeGreaterThan(5_000 * 16);
    expect(eventBytes(xargs)).toBeLessThan(256 * 1024);
  });

  it('uses the compile-time limit unless the matcher overrides it', () => {
    const compiled = compileQuery('sequence by k [a where true] [b where true]', { limits: { maxOpenSequences: 2 } });
    if (compiled.kind !== 'sequence') throw new Error('sequence expected');
    const m = compiled.createMatcher();
    for (let k = 1; k <= 3; k++) m.push(ev('a', { id: k, k }));
    expect(m.stats).toMatchObject({ open: 2, evicted: 1 });
    expect(() => compiled.createMatcher({ maxOpenSequences: 0 })).toThrow(RangeError);
  });

  it('keeps matchers independent', () => {
    const compiled = compileQuery('sequence [a where true] [b where true]');
    if (compiled.kind !== 'sequence') throw new Error('sequence expected');
    const first = compiled.createMatcher();
    const second = compiled.createMatcher();
    first.push(ev('a', { id: 1 }));
    expect(run(second, [ev('b', { id: 2 })])).toEqual([]);
    expect(run(first, [ev('b', { id: 3 })])).toEqual([[1, 3]]);
  });
});
