// Reordering and/or operands must never change a result: unit checks of the order, and a
// differential run of Elastic's Linux rules, estimated order against written order, over a
// varied event mix built from the rules' own literals (so that many of them match).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import type { ExpressionNode, LogicalNode } from '../../src/eql/ast.js';
import { orderedOperands } from '../../src/eql/evaluation-order.js';
import { compileQuery, parseQuery, type CompiledQuery, type EqlEvent } from '../../src/eql/index.js';
import { random } from '../support/random.js';
import { describeWithCorpus, CORPUS_DIR } from '../support/corpus.js';

const CORPUS = CORPUS_DIR;

function whereClause(query: string): LogicalNode {
  const ast = parseQuery(query);
  if (ast.body.kind !== 'eventQuery') throw new Error('not an event query');
  const condition = ast.body.filter.condition;
  if (condition.kind !== 'logical') throw new Error('not an and/or chain');
  return condition;
}

function orderOf(query: string): string[] {
  const text = query;
  return orderedOperands(whereClause(query)).map((node: ExpressionNode) => text.slice(node.start, node.end));
}

describe('estimated evaluation order', () => {
  it('runs a cheap equality before a wildcard list on a multi-valued field', () => {
    expect(orderOf('process where process.args : ("*a*", "*b*", "*c*") and process.name == "curl"')).toEqual([
      'process.name == "curl"',
      'process.args : ("*a*", "*b*", "*c*")',
    ]);
  });

  it('runs exclusions (not, !=) after the conditions that usually reject', () => {
    expect(orderOf('process where not process.parent.name in ("a", "b") and process.name in ("x", "y") and user.id != "0"')).toEqual([
      'process.name in ("x", "y")',
      'not process.parent.name in ("a", "b")',
      'user.id != "0"',
    ]);
  });

  it('puts a regular expression last in an and, and the likeliest cheap branch first in an or', () => {
    expect(orderOf('process where process.command_line regex~ ".*x.*" and process.name == "sh"')).toEqual([
      'process.name == "sh"',
      'process.command_line regex~ ".*x.*"',
    ]);
    expect(orderOf('process where process.command_line : "*x*" or process.name != "sh"')).toEqual([
      'process.name != "sh"',
      'process.command_line : "*x*"',
    ]);
  });

  it('keeps the written order on ties', () => {
    expect(orderOf('process where host.os.type == "linux" and event.type == "start" and event.action == "exec"')).toEqual([
      'host.os.type == "linux"',
      'event.type == "start"',
      'event.action == "exec"',
    ]);
  });

  it('leaves value position alone, where the three-valued and stops at the first non-boolean', () => {
    // `"x" and false` is null (no match of `== false`), `false and "x"` is false: order matters
    const event = { a: 'x' };
    expect((compileQuery('any where (a and false) == false') as Extract<CompiledQuery, { kind: 'event' }>).matches(event)).toBe(false);
    expect((compileQuery('any where (false and a) == false') as Extract<CompiledQuery, { kind: 'event' }>).matches(event)).toBe(true);
  });
});

// ---- differential run over the corpus rules ----

function corpusQueries(): { file: string; query: string }[] {
  const out: { file: string; query: string }[] = [];
  for (const folder of ['elastic-linux-process', 'elastic-linux-sequence']) {
    const dir = path.join(CORPUS, folder);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.toml')).sort()) {
      const document = parse(readFileSync(path.join(dir, file), 'utf8')) as { rule?: { query?: unknown } };
      if (typeof document.rule?.query === 'string') out.push({ file: `${folder}/${file}`, query: document.rule.query });
    }
  }
  return out;
}

/** Every literal a query compares a field with, per dotted field name. */
function collectLiterals(node: unknown, pool: Map<string, unknown[]>): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const item of node) collectLiterals(item, pool);
    return;
  }
  const n = node as { kind?: string; value?: unknown; left?: ExpressionNode; right?: ExpressionNode; list?: ExpressionNode[]; patterns?: { value: unknown }[] };
  const add = (field: unknown, values: unknown[]): void => {
    const f = field as ExpressionNode | undefined;
    if (f?.kind !== 'field') return;
    const list = pool.get(f.name) ?? [];
    list.push(...values);
    pool.set(f.name, list);
  };
  if (n.kind === 'comparison') {
    if (n.right?.kind === 'literal') add(n.left, [n.right.value]);
    if (n.left?.kind === 'literal') add(n.right, [n.left.value]);
  } else if (n.kind === 'in') {
    add(n.value, (n.list ?? []).filter((i) => i.kind === 'literal').map((i) => (i as { value: unknown }).value));
  } else if (n.kind === 'match') {
    add(n.value, (n.patterns ?? []).map((p) => p.value));
  }
  for (const value of Object.values(node)) collectLiterals(value, pool);
}


function setPath(event: EqlEvent, field: string, value: unknown): void {
  const segments = field.split('.');
  let object = event as Record<string, unknown>;
  for (const segment of segments.slice(0, -1)) {
    const child = object[segment];
    if (child === null || typeof child !== 'object' || Array.isArray(child)) object[segment] = {};
    object = object[segment] as Record<string, unknown>;
  }
  const last = segments[segments.length - 1]!;
  if (value === undefined) delete object[last];
  else object[last] = value;
}

/**
 * Events that each take most fields a randomly chosen rule tests from that rule's own literals
 * (so rules match or nearly match), plus noise from every rule: nulls, removed fields, arrays.
 */
function eventMix(count: number, pools: Map<string, unknown[]>[], seed: number): EqlEvent[] {
  const pool = new Map<string, unknown[]>();
  for (const p of pools) for (const [field, values] of p) pool.set(field, [...(pool.get(field) ?? []), ...values]);
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const fields = [...pool.keys()].sort();
  const fillers = ['', 'x', '/tmp/a b', 'A-1', '0'];
  const instantiate = (literal: unknown): unknown => {
    if (typeof literal !== 'string') return literal;
    let text = literal.replace(/\*/g, () => pick(fillers)).replace(/\?/g, () => pick(['a', '1', '/']));
    if (next() < 0.2) text = next() < 0.5 ? text.toUpperCase() : text.replace(/^./, (c) => c.toUpperCase());
    return text;
  };
  const names = ['bash', 'sh', 'curl', 'python3', 'ls', 'sudo', 'nc', 'base64', 'openssl'];
  const events: EqlEvent[] = [];
  let time = Date.UTC(2026, 0, 12, 10, 0, 0);
  for (let i = 0; i < count; i++) {
    time += Math.floor(next() * 800);
    const name = pick(names);
    const args = [name, pick(['-c', '-d', '-la', 'enc']), pick(['/tmp/x', 'id', 'http://203.0.113.9/x.sh'])];
    const event: EqlEvent = {
      '@timestamp': new Date(time).toISOString(),
      event: { category: ['process'], type: [pick(['start', 'start', 'end', 'change'])], action: pick(['exec', 'exec', 'fork', 'end']), id: `e${i}` },
      host: { id: pick(['h1', 'h2']), os: { type: pick(['linux', 'linux', 'linux', 'macos']) } },
      user: { id: pick(['0', '1000']), name: pick(['root', 'admin']) },
      process: {
        pid: 100 + i,
        entity_id: pick(['p1', 'p2', 'p3']),
        name,
        executable: `/usr/bin/${name}`,
        args,
        args_count: args.length,
        command_line: args.join(' '),
        parent: { name: pick(names), entity_id: pick(['p1', 'p2', 'p3']), pid: pick([1, 2, 3]), executable: '/usr/bin/bash', user: { id: '1000' }, group: { id: '1000' } },
      },
    };
    for (const [field, values] of pick(pools)) if (next() < 0.8) setPath(event, field, instantiate(pick(values)));
    const changes = Math.floor(next() * 4);
    for (let c = 0; c < changes; c++) {
      const field = pick(fields);
      const roll = next();
      if (roll < 0.05) setPath(event, field, null);
      else if (roll < 0.1) setPath(event, field, undefined);
      else if (roll < 0.3) setPath(event, field, [instantiate(pick(pool.get(field)!)), instantiate(pick(pool.get(pick(fields))!))]);
      else setPath(event, field, instantiate(pick(pool.get(field)!)));
    }
    events.push(event);
  }
  return events;
}

/** What a compiled query reports over a stream: per event, the ids of the events it matched. */
function run(compiled: CompiledQuery, events: readonly EqlEvent[]): string[] {
  const id = (e: EqlEvent): string => String((e.event as { id: string }).id);
  if (compiled.kind === 'event') return events.map((e) => (compiled.matches(e) ? id(e) : ''));
  const matcher = compiled.createMatcher();
  return events.map((e) => matcher.push(e).map((m) => `[${m.joinKeys.join(',')}] ${m.events.map(id).join(' ')}`).join(' | '));
}

describeWithCorpus('estimated order against written order on the corpus rules', () => {
  const queries = corpusQueries();
  const pools = queries.map(({ query }) => {
    const pool = new Map<string, unknown[]>();
    collectLiterals(parseQuery(query).body, pool);
    return pool;
  });
  const events = eventMix(4000, pools, 7);

  it('gives identical results for every rule, and the mix makes many rules match', () => {
    expect(queries).toHaveLength(266);
    let matches = 0;
    const matchingRules = new Set<string>();
    for (const { file, query } of queries) {
      const estimated = run(compileQuery(query), events);
      const written = run(compileQuery(query, { evaluationOrder: 'written' }), events);
      expect(estimated, file).toEqual(written);
      const found = estimated.filter((r) => r !== '').length;
      matches += found;
      if (found > 0) matchingRules.add(file);
    }
    // about 106 rules and 420 matches with this seed
    expect(matchingRules.size).toBeGreaterThan(80);
    expect(matches).toBeGreaterThan(300);
  });
});
