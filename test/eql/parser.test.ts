import { describe, expect, it } from 'vitest';
import { compileQuery, DEFAULT_LIMITS, parseQuery } from '../../src/eql/index.js';
import { eqlErrorOf as errorOf } from '../support/helpers.js';

describe('parser', () => {
  it('parses an event query with precedence: not binds looser than comparison, and looser than or', () => {
    const ast = parseQuery('process where not a == 1 and b : "x" or c in (1, 2)');
    expect(ast.body.kind).toBe('eventQuery');
    if (ast.body.kind !== 'eventQuery') return;
    const condition = ast.body.filter.condition;
    expect(condition.kind).toBe('logical');
    if (condition.kind !== 'logical') return;
    expect(condition.op).toBe('or');
    const [left, right] = condition.operands;
    expect(left.kind === 'logical' && left.op).toBe('and');
    if (left.kind === 'logical') expect(left.operands[0].kind).toBe('not');
    expect(right.kind).toBe('in');
  });

  it('parses arithmetic with * before +', () => {
    const ast = parseQuery('any where 1 + 2 * 3 == 7');
    if (ast.body.kind !== 'eventQuery') throw new Error('event query expected');
    const cond = ast.body.filter.condition;
    expect(cond.kind === 'comparison' && cond.left.kind === 'arithmetic' && cond.left.op).toBe('+');
    expect(ast.body.filter.category).toBeNull();
  });

  it('parses sequences with by, maxspan, runs and until', () => {
    const ast = parseQuery('sequence by host.id with maxspan=5m [process where true] by a [file where true] by b with runs=3 until [process where false] by c');
    if (ast.body.kind !== 'sequenceQuery') throw new Error('sequence expected');
    expect(ast.body.maxspanMs).toBe(300_000);
    expect(ast.body.joinKeys).toHaveLength(1);
    expect(ast.body.terms.map((t) => t.runs)).toEqual([1, 3]);
    expect(ast.body.until?.filter.category).toBe('process');
  });

  it('accepts maxspan before by, and every time unit', () => {
    for (const [span, ms] of [['10ms', 10], ['2s', 2000], ['1m', 60_000], ['1h', 3_600_000], ['1d', 86_400_000]] as const) {
      const ast = parseQuery(`sequence with maxspan=${span} by x [a where true] [b where true]`);
      expect(ast.body.kind === 'sequenceQuery' && [ast.body.maxspanMs, ast.body.joinKeys.length]).toEqual([ms, 1]);
    }
  });

  it('accepts keywords as inner field segments, backquoted fields and ?optional fields', () => {
    const q = compileQuery('any where event.sequence == 1 and `odd name`.x == 2 and ?maybe == null');
    expect(q.fields.sort()).toEqual(['event.sequence', 'maybe', 'odd name.x']);
  });

  it.each([
    ['process wher true', "EQL0102 unexpected token 'wher' at 1:9", 'process wher true\n        ^^^^'],
    ['process where a ==', 'EQL0102 unexpected end of query at 1:19', 'process where a ==\n                  ^'],
    ['process where\n  a == 1 and and b', "EQL0102 unexpected token 'and' at 2:14", '  a == 1 and and b\n             ^^^'],
    ['process where (a == 1', "EQL0102 expected ')', found end of query at 1:22", 'process where (a == 1\n                     ^'],
    ['process where a : b', "EQL0203 ':' expects string constants, found 'b' at 1:19", 'process where a : b\n                  ^'],
    ['process where foo(a)', "EQL0201 unknown function 'foo' at 1:15", 'process where foo(a)\n              ^^^^^^'],
    ['process where length(a, b)', "EQL0202 function 'length' expects 1 arguments, found 2 at 1:15", 'process where length(a, b)\n              ^^^^^^^^^^^^'],
    ['process where length~(a)', "EQL0201 function 'length' has no case-insensitive variant 'length~' at 1:15", 'process where length~(a)\n              ^^^^^^^^^^'],
    ['process where cidrMatch(ip, "10.0.0.0/33")', "EQL0203 invalid CIDR block '10.0.0.0/33' at 1:29", 'process where cidrMatch(ip, "10.0.0.0/33")\n                            ^^^^^^^^^^^^^'],
    ['process where a regex "("', 'EQL0203 invalid regular expression', undefined],
    ['process where true | head 5', 'EQL0204 pipes are not supported in detection rules at 1:20', 'process where true | head 5\n                   ^^^^^^^^'],
    ['sequence [a where true]', 'EQL0102 a sequence needs at least two stages, found 1 at 1:24', undefined],
    ['sequence with maxspan=5 [a where true] [b where true]', 'EQL0206 expected a time unit (ms, s, m, h or d) right after the number at 1:25', undefined],
    ['sequence [a where true] by x [b where true]', 'EQL0207 inconsistent number of join keys: expected 1, found 0 at 1:30', undefined],
    ['sample by x [a where true] [b where true]', 'EQL0205 sample queries are not supported at 1:1', undefined],
    ['sequence [a where true] ![b where true] [c where true]', 'EQL0205 missing-event stages (![...]) are not supported at 1:25', undefined],
  ])('reports %s with its position', (query, message, rendered) => {
    const error = errorOf(() => compileQuery(query));
    expect(error.message.startsWith(message)).toBe(true);
    expect(error.code).toBe(message.slice(0, 7));
    if (rendered !== undefined) expect(error.render()).toBe(`${error.message}\n${rendered}`);
  });

  it('renders against a source passed in, and reports line and column', () => {
    const error = errorOf(() => parseQuery('process where\n  x === 1'));
    expect([error.line, error.column, error.length]).toEqual([2, 7, 1]);
    expect(error.render('process where\n  x === 1')).toBe("EQL0102 unexpected token '=' at 2:7\n  x === 1\n      ^");
  });
});

describe('limits', () => {
  it('are frozen', () => {
    expect(Object.isFrozen(DEFAULT_LIMITS)).toBe(true);
    expect(() => {
      (DEFAULT_LIMITS as { maxDepth: number }).maxDepth = 1;
    }).toThrow(TypeError);
  });

  it('query length: at the limit passes, one over fails', () => {
    const base = 'any where a == "';
    const fill = (length: number): string => base + 'x'.repeat(length - base.length - 1) + '"';
    expect(() => parseQuery(fill(DEFAULT_LIMITS.maxQueryLength))).not.toThrow();
    const error = errorOf(() => parseQuery(fill(DEFAULT_LIMITS.maxQueryLength + 1)));
    expect(error.code).toBe('EQL0301');
    expect(() => parseQuery(fill(100), { maxQueryLength: 99 })).toThrow('EQL0301 query is 100 characters long, the limit is 99');
  });

  it('nesting depth: at the limit passes, one over fails', () => {
    // each parenthesis level is one level of depth, the outer condition is the first
    const nested = (levels: number): string => `any where ${'('.repeat(levels)}a == 1${')'.repeat(levels)}`;
    expect(() => parseQuery(nested(DEFAULT_LIMITS.maxDepth - 1))).not.toThrow();
    expect(errorOf(() => parseQuery(nested(DEFAULT_LIMITS.maxDepth))).code).toBe('EQL0302');
    expect(() => parseQuery(nested(4), { maxDepth: 5 })).not.toThrow();
    expect(() => parseQuery(nested(5), { maxDepth: 5 })).toThrow('EQL0302 expression nests deeper than the limit of 5');
  });

  it('long operator chains count as depth too', () => {
    expect(() => parseQuery(`any where a == ${Array(4).fill('1').join(' + ')}`, { maxDepth: 5 })).not.toThrow();
    expect(errorOf(() => parseQuery(`any where a == ${Array(10).fill('1').join(' + ')}`, { maxDepth: 5 })).code).toBe('EQL0302');
  });

  it('list size: at the limit passes, one over fails', () => {
    const list = (n: number): string => `any where a in (${Array.from({ length: n }, (_, i) => i).join(',')})`;
    expect(() => parseQuery(list(DEFAULT_LIMITS.maxListSize))).not.toThrow();
    expect(errorOf(() => parseQuery(list(DEFAULT_LIMITS.maxListSize + 1))).code).toBe('EQL0303');
    const patterns = (n: number): string => `any where a : (${Array.from({ length: n }, (_, i) => `"p${i}*"`).join(',')})`;
    expect(() => parseQuery(patterns(3), { maxListSize: 3 })).not.toThrow();
    expect(() => parseQuery(patterns(4), { maxListSize: 3 })).toThrow('EQL0303 list has more than 3 entries');
  });

  it('rejects limits that are not positive integers', () => {
    expect(() => parseQuery('any where true', { maxDepth: 0 })).toThrow(RangeError);
  });
});
