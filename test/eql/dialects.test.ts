/**
 * Elastic Defend's dialect against Elasticsearch's (src/eql/dialect.ts): what only Defend's
 * parses is tested in lineage.test.ts and stage-references.test.ts; here, everything the two share
 * gives the same answer in both, on the constructs Defend's Linux rules use.
 */
import { describe, expect, it } from 'vitest';
import { compileQuery, type EqlDialect, type EqlEvent } from '../../src/eql/index.js';

const DIALECTS: EqlDialect[] = ['elasticsearch', 'defend'];

const event: EqlEvent = {
  event: { category: ['process'], type: ['start'], action: 'exec' },
  user: { id: '0', name: 'root', Ext: { real: { id: '1500' } } },
  process: {
    name: 'Find', command_line: 'find / -type f -name id_rsa', args: ['find', '/', '-type', 'f'], args_count: 4,
    parent: { user: { id: '1500' }, group: { id: '1500' }, name: 'bash' },
    env_vars: ['LD_PRELOAD=/tmp/x.so', 'HOME=/root'],
  },
  destination: { ip: '10.1.2.3' },
};

function matches(query: string, dialect: EqlDialect): boolean {
  const compiled = compileQuery(query, { dialect });
  if (compiled.kind !== 'event') throw new Error('event query expected');
  return compiled.matches(event);
}

describe.each(DIALECTS)('shared semantics in the %s dialect', (dialect) => {
  it.each([
    // ids kept as strings against numbers, as Defend's rules write them
    ['process where user.id == 0', true],
    ['process where user.id != 0', false],
    ['process where process.parent.user.id >= 1000 and process.parent.group.id >= 1000', true],
    ['process where user.Ext.real.id != 0', true],
    ['process where user.id in (99, 33, 0)', true],
    // case: == and like are exact, : like~ in~ and fn~ fold
    ['process where process.name == "find"', false],
    ['process where process.name : "find"', true],
    ['process where process.name like "find"', false],
    ['process where process.name like~ "fi*"', true],
    ['process where process.name in~ ("find", "grep")', true],
    ['process where process.name in ("find", "grep")', false],
    ['process where startswith~(process.command_line, "FIND /")', true],
    // lower-case function names, blanks before the parenthesis
    ['process where stringcontains(process.command_line, "id_rsa") and length (process.command_line) > 10', true],
    ['process where cidrmatch (destination.ip, "10.0.0.0/8", "192.168.0.0/16")', true],
    ['process where startswith~(process.env_vars, "ld_preload=")', true],
    // anchored regex, any element of an array
    ['process where process.command_line regex ".*-type f.*"', true],
    ['process where process.command_line regex "-type f"', false],
    ['process where process.args == "-type" and process.args_count >= 4', true],
  ])('%s → %s', (query, expected) => {
    expect(matches(query, dialect)).toBe(expected);
  });
});
