/**
 * Events built from the rules' own string literals, so that differential tests meet the rules'
 * edges: names, parent names, arguments and paths the rules look for (wildcards filled with
 * random text, case sometimes changed), as single values or arrays, on nested or dotted keys,
 * now and then a number, an object or a missing value. Over the corpus rules, about one event in
 * five matches a rule (45 different rules for 6000 events, seed 11); most others nearly do.
 */
import { parseQuery } from '../../../src/eql/index.js';
import type { ExpressionNode } from '../../../src/eql/ast.js';
import { random } from '../../support/random.js';
import { execMix } from './exec-mix.js';

/** Field name -> string literals compared with it anywhere in the queries. */
export function harvestLiterals(sources: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (field: string, value: unknown): void => {
    if (typeof value !== 'string') return;
    const list = out.get(field) ?? [];
    list.push(value);
    out.set(field, list);
  };
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(visit);
    const n = node as ExpressionNode;
    if (n.kind === 'comparison' || n.kind === 'in' || n.kind === 'match') {
      const [field, others] =
        n.kind === 'comparison' ? (n.left.kind === 'field' ? [n.left, [n.right]] : [n.right, [n.left]]) : [n.value, n.kind === 'in' ? n.list : n.patterns];
      if (field.kind === 'field') for (const other of others) if (other.kind === 'literal') add(field.name, other.value);
    }
    for (const value of Object.values(node)) visit(value);
  };
  for (const source of sources) visit(parseQuery(source).body);
  return out;
}

function setPath(event: Record<string, unknown>, path: string[], value: unknown): void {
  let node = event;
  for (const segment of path.slice(0, -1)) {
    const child = node[segment];
    if (child === null || typeof child !== 'object' || Array.isArray(child)) node[segment] = {};
    node = node[segment] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** `count` events over the literals of `sources`, deterministic for a seed. */
export function literalEventMix(sources: readonly string[], count: number, seed = 1): Record<string, unknown>[] {
  const next = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const literals = harvestLiterals(sources);
  const fields = [...literals.keys()];
  const instantiate = (literal: string): string => {
    let text = literal.replace(/\*/g, () => pick(['', '', 'x', '/tmp/', ' -v '])).replace(/\?/g, () => pick(['a', '1', '/']));
    const roll = next();
    if (roll < 0.1) text = text.toUpperCase();
    else if (roll < 0.15) text = text.charAt(0).toUpperCase() + text.slice(1);
    return text;
  };
  const base = execMix(count, seed);
  const events: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const event = structuredClone(base[i]!);
    const changes = 1 + Math.floor(next() * 6);
    for (let c = 0; c < changes; c++) {
      const field = pick(fields);
      const path = field.split('.');
      const roll = next();
      let value: unknown;
      if (roll < 0.55) value = instantiate(pick(literals.get(field)!));
      else if (roll < 0.85) value = Array.from({ length: 1 + Math.floor(next() * 3) }, () => instantiate(pick(literals.get(field)!)));
      else if (roll < 0.9) value = Math.floor(next() * 3);
      else if (roll < 0.93) value = { nested: instantiate(pick(literals.get(field)!)) };
      else value = null;
      if (next() < 0.1) {
        // the same field as a dotted key at the top level
        event[field] = value;
        setPath(event, path, undefined);
      } else setPath(event, path, value);
      if (field === 'process.args' && Array.isArray(value)) setPath(event, ['process', 'command_line'], value.join(' '));
    }
    events.push(event);
  }
  return events;
}
