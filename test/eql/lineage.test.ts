import { describe, expect, it } from 'vitest';
import { compileQuery, DEFAULT_LIMITS, LineageTracker, parseQuery, type CompiledEventQuery, type EqlEvent } from '../../src/eql/index.js';
import { eqlErrorOf as errorOf } from '../support/helpers.js';

let clock = 0;

/** A process event of `entity` (child of `parent`), shaped like the agent's. */
function proc(entity: string | null, parent: string | null, name: string, action: 'exec' | 'fork' | 'end' = 'exec', extra: Record<string, unknown> = {}): EqlEvent {
  clock++;
  return {
    '@timestamp': clock,
    event: { category: ['process'], type: [action === 'end' ? 'end' : 'start'], action },
    process: { ...(entity === null ? {} : { entity_id: entity }), name, parent: parent === null ? {} : { entity_id: parent } },
    ...extra,
  };
}

function defendEventQuery(query: string, limits?: Partial<typeof DEFAULT_LIMITS>): CompiledEventQuery {
  const compiled = compileQuery(query, { dialect: 'defend', ...(limits === undefined ? {} : { limits }) });
  if (compiled.kind !== 'event') throw new Error('event query expected');
  return compiled;
}

/** Feeds the stream through the query's tracker, as a rule set does; the names of the events that matched. */
function run(query: CompiledEventQuery, events: EqlEvent[]): string[] {
  const matched: string[] = [];
  for (const event of events) {
    query.lineage?.observe(event);
    if (query.matches(event)) matched.push((event.process as { name: string }).name);
  }
  return matched;
}

describe('lineage: parsing', () => {
  it('parses descendant of, child of and event of where not is allowed, in any case', () => {
    const ast = parseQuery('process where not descendant of [process where a == 1] and Child Of [process where b == 2] or event of [any where true]', undefined, 'defend');
    if (ast.body.kind !== 'eventQuery') throw new Error('event query expected');
    const condition = ast.body.filter.condition;
    expect(condition.kind === 'logical' && condition.op).toBe('or');
    if (condition.kind !== 'logical') return;
    const [and, eventOf] = condition.operands;
    expect(and!.kind === 'logical' && and!.operands.map((o) => (o.kind === 'not' ? `not ${o.operand.kind}` : o.kind))).toEqual(['not lineage', 'lineage']);
    expect(eventOf).toMatchObject({ kind: 'lineage', relation: 'event', filter: { category: null } });
    if (and!.kind === 'logical' && and!.operands[1]!.kind === 'lineage') expect(and!.operands[1]!.relation).toBe('child');
  });

  it('keeps event.x a field: only `event of` is the relation', () => {
    const q = defendEventQuery('process where event.action == "exec"');
    expect(q.lineage).toBeNull();
    expect(q.fields).toContain('event.action');
  });

  it.each([
    [
      'process where descendant of [process where a == 1]',
      "EQL0205 'descendant of' (process lineage) is Elastic Defend's dialect, not Elasticsearch EQL at 1:15",
      'process where descendant of [process where a == 1]\n              ^^^^^^^^^^^^^',
    ],
    [
      'process where x == 1 and\n  child of [process where a == 1]',
      "EQL0205 'child of' (process lineage) is Elastic Defend's dialect, not Elasticsearch EQL at 2:3",
      '  child of [process where a == 1]\n  ^^^^^^^^',
    ],
  ])('is an error with a caret in Elasticsearch\'s dialect: %s', (query, message, rendered) => {
    const error = errorOf(() => compileQuery(query));
    expect(error.message).toBe(message);
    expect(error.render()).toBe(`${message}\n${rendered}`);
  });

  it.each([
    ['process where descendant of process where a == 1', "EQL0102 expected '[', found 'process' at 1:29", 'process where descendant of process where a == 1\n                            ^^^^^^^'],
    ['process where descendant of [process where a == 1', "EQL0102 expected ']', found end of query at 1:50", undefined],
    ['process where descendant of [where a == 1]', "EQL0102 expected an event category, found 'where' at 1:30", undefined],
  ])('reports a malformed relation with its position: %s', (query, message, rendered) => {
    const error = errorOf(() => compileQuery(query, { dialect: 'defend' }));
    expect(error.message).toBe(message);
    if (rendered !== undefined) expect(error.render()).toBe(`${message}\n${rendered}`);
  });

  it('checks the subquery like any condition', () => {
    expect(errorOf(() => compileQuery('process where descendant of [process where nofn(a)]', { dialect: 'defend' })).message).toBe("EQL0201 unknown function 'nofn' at 1:44");
  });

  it('counts the relation and its subquery toward the nesting limit', () => {
    const nested = (levels: number): string => `process where ${'descendant of [process where '.repeat(levels)}a == 1${']'.repeat(levels)}`;
    expect(() => parseQuery(nested(3), { maxDepth: 7 }, 'defend')).not.toThrow();
    expect(errorOf(() => parseQuery(nested(4), { maxDepth: 7 }, 'defend')).code).toBe('EQL0302');
  });
});

describe('lineage: evaluation on a stream', () => {
  const tree = (): EqlEvent[] => [
    proc('sshd', 'init', 'sshd'),
    proc('bash', 'sshd', 'bash'),
    proc('dnf', 'bash', 'bash', 'fork'),
    proc('dnf', 'bash', 'dnf'),
    proc('sh', 'dnf', 'dnf', 'fork'),
    proc('sh', 'dnf', 'sh'),
    proc('curl', 'sh', 'curl'),
    proc('other', 'bash', 'ls'),
  ];

  it('a forked copy matched as itself: its image is its parent\'s until it execs', () => {
    // `sh` was forked by dnf, so its fork event names dnf; curl is then a child of a dnf process
    expect(run(defendEventQuery('process where event.action == "exec" and child of [process where process.name == "dnf"]'), tree())).toEqual(['sh', 'curl']);
  });

  it('descendant of: every process below one that matched, not the process itself', () => {
    const q = defendEventQuery('process where event.action == "exec" and descendant of [process where event.action == "exec" and process.name == "dnf"]');
    expect(q.lineage).not.toBeNull();
    expect(run(q, tree())).toEqual(['sh', 'curl']);
  });

  it('child of: only the direct children', () => {
    expect(run(defendEventQuery('process where event.action == "exec" and child of [process where event.action == "exec" and process.name == "dnf"]'), tree())).toEqual(['sh']);
    expect(run(defendEventQuery('process where child of [process where process.name == "sshd"]'), tree())).toEqual(['bash']);
  });

  it('event of: the process itself matched, on this event or an earlier one', () => {
    const q = defendEventQuery('process where event.action == "end" and event of [process where process.name == "dnf"]');
    expect(run(q, [...tree(), proc('dnf', 'bash', 'dnf', 'end'), proc('curl', 'sh', 'curl', 'end')])).toEqual(['dnf']);
  });

  it('not descendant of holds for a process with no such ancestor, and for one the stream never described', () => {
    const q = defendEventQuery('process where event.action == "exec" and not descendant of [process where process.name == "dnf"]');
    expect(run(q, [...tree(), proc(null, null, 'anonymous')])).toEqual(['sshd', 'bash', 'dnf', 'ls', 'anonymous']);
  });

  it('relates a child forked before its parent exec\'d into the match from the child\'s next event on', () => {
    const q = defendEventQuery('process where event.action == "exec" and descendant of [process where process.name == "dnf"]');
    const events = [
      proc('p', 'init', 'bash'),
      proc('early', 'p', 'bash', 'fork'),
      proc('p', 'init', 'dnf'), // p execs dnf after forking `early`
      proc('early', 'p', 'early-child'),
      proc('late', 'p', 'late-child'),
    ];
    expect(run(q, events)).toEqual(['early-child', 'late-child']);
  });

  it('keeps a relation once taken over: a re-parented orphan stays a descendant', () => {
    const q = defendEventQuery('process where event.action == "exec" and descendant of [process where process.name == "dnf"]');
    const events = [proc('d', 'init', 'dnf'), proc('kid', 'd', 'sh', 'fork'), proc('kid', 'init', 'payload')];
    expect(run(q, events)).toEqual(['payload']);
  });

  it('keeps the lineage of a process its parent outlived: a daemon payload exec after the double fork', () => {
    const q = defendEventQuery('process where event.action == "exec" and descendant of [process where process.name == "dnf"]');
    const events = [proc('d', 'init', 'dnf'), proc('d', 'init', 'dnf', 'end'), proc('orphan', 'd', 'payload')];
    expect(run(q, events)).toEqual(['payload']);
  });

  it('nests: a relation inside a subquery', () => {
    const q = defendEventQuery('process where descendant of [process where child of [process where process.name == "sshd"]]');
    // bash is the child of sshd; below it: dnf (its fork event still names bash), sh, curl, ls
    expect(run(q, tree())).toEqual(['bash', 'dnf', 'dnf', 'sh', 'curl', 'ls']);
  });

  it('a subquery over another category: a network event of a descendant', () => {
    const q = defendEventQuery('network where descendant of [process where process.name == "dnf"]');
    const connect = { ...proc('curl', 'sh', 'curl'), event: { category: ['network'], type: ['start'], action: 'connection_attempted' } };
    expect(run(q, [...tree(), connect])).toEqual(['curl']);
  });

  it('events without entity ids neither fail nor relate', () => {
    const q = defendEventQuery('process where descendant of [process where true]');
    expect(run(q, [proc(null, null, 'a'), proc('x', null, 'b'), { event: { category: 'process' } } as EqlEvent])).toEqual([]);
  });

  it('keeps only processes with a relation', () => {
    const q = defendEventQuery('process where descendant of [process where process.name == "dnf"]');
    run(q, [...Array.from({ length: 100 }, (_, i) => proc(`n${i}`, 'init', 'ls')), proc('d', 'init', 'dnf'), proc('k', 'd', 'sh')]);
    expect(q.lineage!.stats().processes).toBe(2);
  });

  it('is bounded: keeps the most recently seen half of the limit, never more than the limit', () => {
    const query = 'process where descendant of [process where process.name == "dnf"]';
    const limit = 6;
    /** dnf, then `others` unrelated processes, then a child of dnf. */
    const childMatches = (others: number): { matched: string[]; forgotten: number } => {
      const q = defendEventQuery(query, { maxLineageProcesses: limit });
      // only processes with some relation are kept: the others are dnf runs of their own
      const matched = run(q, [proc('dnf', 'init', 'dnf'), ...Array.from({ length: others }, (_, i) => proc(`x${i}`, 'init', 'dnf'))]);
      matched.push(...run(q, [proc('child', 'dnf', 'child')]));
      expect(q.lineage!.stats().processes).toBeLessThanOrEqual(limit);
      return { matched, forgotten: q.lineage!.stats().forgotten };
    };
    // dnf is among the 3 most recently seen processes: kept
    expect(childMatches(limit / 2 - 1)).toEqual({ matched: ['child'], forgotten: 0 });
    // `limit` processes came after it: forgotten
    const over = childMatches(limit);
    expect(over.matched).toEqual([]);
    expect(over.forgotten).toBeGreaterThan(0);
    expect(DEFAULT_LIMITS.maxLineageProcesses).toBe(65_536);
  });

  it('keeps a parent that keeps having children, however many others come and go', () => {
    const q = defendEventQuery('process where descendant of [process where process.name == "dnf"]', { maxLineageProcesses: 4 });
    const events = [proc('dnf', 'init', 'dnf')];
    for (let i = 0; i < 50; i++) events.push(proc(`noise${i}`, 'init', 'noise'), proc(`kid${i}`, 'dnf', 'kid'));
    expect(run(q, events)).toEqual(Array.from({ length: 50 }, () => 'kid'));
    expect(q.lineage!.stats().forgotten).toBeGreaterThan(0);
  });

  it('keeps more than 30 subqueries apart', () => {
    const tracker = new LineageTracker();
    const queries = Array.from({ length: 40 }, (_, i) => compileQuery(`process where child of [process where process.name == "p${i}"]`, { dialect: 'defend', lineage: tracker }) as CompiledEventQuery);
    const events = [proc('a', 'init', 'p35'), proc('b', 'a', 'child'), proc('c', 'init', 'p3'), proc('d', 'c', 'child')];
    const hits = events.map((event) => {
      tracker.observe(event);
      return queries.flatMap((q, i) => (q.matches(event) ? [i] : []));
    });
    expect(hits).toEqual([[], [35], [], [3]]);
  });

  it('a deep chain costs the same per event: each process is computed from its parent only', () => {
    const q = defendEventQuery('process where descendant of [process where process.name == "root-of-chain"]');
    const depth = 20_000;
    const events = [proc('c0', 'init', 'root-of-chain'), ...Array.from({ length: depth }, (_, i) => proc(`c${i + 1}`, `c${i}`, `n${i + 1}`))];
    const matched = run(q, events);
    expect(matched).toHaveLength(depth);
    expect(q.lineage!.stats()).toMatchObject({ processes: depth + 1, subqueries: 1 });
  });

  it('shares one tracker and one bit between queries with the same subquery', () => {
    const tracker = new LineageTracker();
    const a = compileQuery('process where descendant of [process where process.name == "dnf"]', { dialect: 'defend', lineage: tracker });
    const b = compileQuery('process where process.name == "sh" and child of [process where process.name == "dnf"]', { dialect: 'defend', lineage: tracker });
    expect(a.lineage).toBe(tracker);
    expect(b.lineage).toBe(tracker);
    expect(tracker.subqueries).toBe(1);
    const rebound = a.withLineage(new LineageTracker());
    expect(rebound.lineage).not.toBe(tracker);
    const plain = compileQuery('process where true', { dialect: 'defend' });
    expect(plain.withLineage(tracker)).toBe(plain);
  });

  it('refuses a subquery registered after the first event', () => {
    const tracker = new LineageTracker();
    tracker.observe(proc('a', null, 'a'));
    expect(() => compileQuery('process where event of [process where true]', { dialect: 'defend', lineage: tracker })).toThrow(/before the first event/);
  });
});
