import { describe, expect, it } from 'vitest';
import { compileQuery, DEFAULT_LIMITS } from '../../src/eql/index.js';
import { compileLuceneRegex } from '../../src/eql/regex-match.js';
import { meetsRegexNeeds, regexNeeds } from '../../src/eql/regex-prefilter.js';
import { timestampMs } from '../../src/eql/sequence.js';
import { random } from '../support/random.js';
import { inputsFor } from './regex-samples.js';

describe('regex needs', () => {
  it.each([
    ['/proc/(self|[0-9]{1,7})/fd/[0-9]{1,7}', false, [{ prefix: '/proc/', infixes: ['/fd/'], anyOf: [] }]],
    ['.*[0-9]{1,3}\\.[0-9]{1,3}:[0-9]{1,5}.*', false, [{ prefix: '', infixes: ['.', ':'], anyOf: [] }]],
    ['/[a-z0-9\\s_\\-\\\\./]+\\s', true, [{ prefix: '/', infixes: [], anyOf: [['\t', '\n', '\r', ' ']] }]],
    ['ab+c', false, [{ prefix: 'ab', infixes: ['c'], anyOf: [] }]],
    ['"quoted text".*[:=]x', false, [{ prefix: 'quoted text', infixes: ['x'], anyOf: [[':', '=']] }]],
    ['curl|wget .*', false, [{ prefix: 'curl', infixes: [], anyOf: [] }, { prefix: 'wget ', infixes: [], anyOf: [] }]],
    // regex~: letters lower-cased, s and k left out (they fold with U+017F and U+212A)
    ['.*CURL.*MASK.*', true, [{ prefix: '', infixes: ['curl', 'ma'], anyOf: [] }]],
  ])('%s (regex%s)', (pattern, caseInsensitive, needs) => {
    expect(regexNeeds(pattern, caseInsensitive)).toEqual(needs);
  });

  it.each([['.*'], ['a?'], ['[a-z]+'], ['x|.*'], ['(']])('needs nothing it can name for %s', (pattern) => {
    expect(regexNeeds(pattern, false)).toBeNull();
  });

  it('tests a value against any alternative', () => {
    const needs = regexNeeds('/proc/.*/fd/.*|.*[:=]secret', false)!;
    expect(meetsRegexNeeds(needs, '/proc/12/fd/3')).toBe(true);
    expect(meetsRegexNeeds(needs, 'x=secret')).toBe(true);
    expect(meetsRegexNeeds(needs, '/proc/12/root')).toBe(false);
    expect(meetsRegexNeeds(needs, 'secret')).toBe(false);
  });

  it('never refuses a value the pattern matches', () => {
    const patterns = [
      '/proc/(self|[0-9]{1,7})/fd/[0-9]{1,7}', '.*[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(:[0-9]{1,5})?/.*',
      '.*(http|ftp|ftps)\\://[A-Za-z0-9][A-Za-z0-9\\-]*(\\.[A-Za-z0-9][A-Za-z0-9\\-]*)+(:[0-9]{1,5})?\\/[^ ]+.*', '/[a-z0-9\\s_\\-\\\\./]+\\s',
      '.*curl.* \\-[a-zA-Z]*[oO]( .+|\\-.*)?', '.*(%[0-9a-f]{2}.*){4,}.*', 'ab+c(d|e)+f', '"x y"[:=]+z?', '.*SECRET.*KEY.*',
    ];
    for (const pattern of patterns) {
      for (const caseInsensitive of [false, true]) {
        const needs = regexNeeds(pattern, caseInsensitive);
        if (needs === null) continue;
        const program = compileLuceneRegex(pattern, caseInsensitive, DEFAULT_LIMITS);
        for (const input of inputsFor(pattern, 7)) {
          const value = caseInsensitive ? input.toLowerCase() : input;
          if (program.testExact(value)) expect(meetsRegexNeeds(needs, value), `${pattern} on ${JSON.stringify(value)}`).toBe(true);
        }
      }
    }
  });

  it('keeps regex~ exact for the characters lower-casing does not fold (long s, Kelvin sign)', () => {
    const query = compileQuery('any where f regex~ ".*secret.*key.*"');
    if (query.kind !== 'event') throw new Error('event query expected');
    expect(query.matches({ f: 'my \u017Fecret \u212Aey' })).toBe(true);
    expect(query.matches({ f: 'no secrets here' })).toBe(false);
  });
});

describe('event times', () => {
  it('reads the usual UTC form exactly as Date.parse does, and leaves other forms to it', () => {
    const samples = [
      '2026-01-12T10:00:00Z', '2026-01-12T10:00:00.1Z', '2026-01-12T10:00:00.12Z', '2026-01-12T10:00:00.123456789Z',
      '2026-02-30T10:00:00Z', '2024-02-29T23:59:59.999Z', '0001-01-01T00:00:00Z', '2026-01-12T24:00:00Z', '2026-01-12T10:60:00Z',
      '2026-01-12T10:00:00.Z', '2026-13-12T10:00:00Z', '2026-01-12T10:00:00+01:00', '2026-01-12 10:00:00Z', '2026-01-12T10:00:00.1a2Z',
    ];
    const same = (value: string) => expect(Object.is(timestampMs(value), Date.parse(value)), value).toBe(true);
    samples.forEach(same);
    const next = random(11);
    for (let i = 0; i < 5000; i++) same(new Date(Math.floor(next() * 4e12)).toISOString());
    expect(timestampMs('1768212000123')).toBe(1768212000123);
    expect(timestampMs(12)).toBe(12);
  });
});
