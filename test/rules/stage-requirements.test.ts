import { describe, expect, it } from 'vitest';
import { parseQuery } from '../../src/eql/index.js';
import { atomHolds, stageRequirement, type FieldAtom } from '../../src/rules/stage-requirements.js';

const FREE = new Set(['process.name', 'event.action']);

function describeAtom(atom: FieldAtom): string {
  if (atom.present) return `${atom.field}?`;
  const texts = [...[...atom.values].map((v) => `=${v}`), ...atom.prefixes.map((p) => `^${p}`), ...atom.infixes.map((i) => `~${i}`)].sort();
  return `${atom.field}${atom.caseInsensitive ? '/i' : ''}${texts.join(',')}`;
}

/** Requirement of an event query's condition, clause by clause, atoms joined by " | ". */
function requirementOf(query: string): string[] {
  const body = parseQuery(query).body;
  if (body.kind !== 'eventQuery') throw new Error('event query expected');
  return stageRequirement(body.filter.condition, FREE).map((clause) => clause.map(describeAtom).join(' | '));
}

describe('stageRequirement', () => {
  it('takes one clause per required leaf, with the operator\'s case handling', () => {
    expect(requirementOf('process where event.action == "Exec" and process.name in~ ("X", "y") and user.id != null'))
      .toEqual(['event.action=Exec', 'process.name/i=x,=y', 'user.id?']);
    expect(requirementOf('process where "sh" == process.name')).toEqual(['process.name=sh']);
  });

  it('reads patterns as values, prefixes before the first wildcard, else the longest literal run', () => {
    expect(requirementOf('process where process.args : ("Perl", "PY*", "*/dev/TCP/*", "a?cd*", "*ab*cdef*")'))
      .toEqual(['process.args/i=perl,^a,^py,~/dev/tcp/,~cdef']);
    // "*?*" needs only some value, and so does the whole list then
    expect(requirementOf('process where process.args : ("Perl", "*?*")')).toEqual(['process.args?']);
    expect(requirementOf('process where process.args like ("Perl", "PY*", "*/dev/TCP/*", "a?cd*", "*ab*cdef*")'))
      .toEqual(['process.args=Perl,^PY,^a,~/dev/TCP/,~cdef']);
    expect(requirementOf('process where process.command_line regex~ """.*x.*"""')).toEqual(['process.command_line?']);
  });

  it('turns a disjunction into one clause of each branch\'s best clause', () => {
    // the second branch's best clause is on a free field (process.name), not host.os.type
    expect(requirementOf('process where process.args == "-e" or (host.os.type == "linux" and process.name : "nc*")'))
      .toEqual(['process.args=-e | process.name/i^nc']);
    expect(requirementOf('process where event.action == "exec" and (process.name == "nc" or process.name == "ncat")'))
      .toEqual(['event.action=exec', 'process.name=nc,=ncat']);
  });

  it('requires nothing where a branch, a negation or a non-string leaf gives no clause', () => {
    expect(requirementOf('process where process.name == "nc" or not process.args == "x"')).toEqual([]);
    expect(requirementOf('process where not process.name == "nc"')).toEqual([]);
    expect(requirementOf('process where process.name != "nc"')).toEqual([]);
    expect(requirementOf('process where ?process.name == "nc"')).toEqual([]);
    expect(requirementOf('process where process.name in ("a", null)')).toEqual([]);
    expect(requirementOf('process where process.name not in ("a")')).toEqual([]);
    expect(requirementOf('process where process.pid == 1 and startsWith(process.name, "x") and process.name == "a" + "b"')).toEqual([]);
  });
});

describe('atomHolds', () => {
  const atom = (query: string): FieldAtom => {
    const body = parseQuery(query).body;
    if (body.kind !== 'eventQuery') throw new Error('event query expected');
    return stageRequirement(body.filter.condition)[0]![0]!;
  };

  it('holds when any element is a string satisfying it', () => {
    const a = atom('process where process.args : ("curl", "/tmp/*", "*wget*")');
    expect(atomHolds(a, ['x', 'curl'])).toBe(true);
    expect(atomHolds(a, '/tmp/x')).toBe(true);
    expect(atomHolds(a, [['nested', 'a wget b']])).toBe(true);
    expect(atomHolds(a, ['x', 'y'])).toBe(false);
    expect(atomHolds(a, null)).toBe(false);
    expect(atomHolds(a, { text: 'curl' })).toBe(false);
  });

  it('lets numbers and booleans through (they may equal a numeric string), and objects only for presence', () => {
    expect(atomHolds(atom('process where process.name == "5"'), 5)).toBe(true);
    expect(atomHolds(atom('process where process.name == "5"'), true)).toBe(true);
    expect(atomHolds(atom('process where process.name != null'), { a: 1 })).toBe(true);
    expect(atomHolds(atom('process where process.name != null'), [null])).toBe(false);
  });
});
