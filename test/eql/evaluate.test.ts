import { describe, expect, it } from 'vitest';
import { compileQuery, type EqlEvent } from '../../src/eql/index.js';

/** Evaluates `condition` as `any where condition` on one event. */
function holds(condition: string, event: EqlEvent = {}): boolean {
  const query = compileQuery(`any where ${condition}`);
  if (query.kind !== 'event') throw new Error('event query expected');
  return query.matches(event);
}

describe('null and array semantics (one test per row of the table in comparison.ts)', () => {
  const missing: EqlEvent = {};
  const array: EqlEvent = { f: ['a', 'b'] };
  it.each([
    // [condition, on missing field, on f = ["a", "b"]]
    ['f == "a"', false, true],
    ['f == "c"', false, false],
    ['f != "a"', true, false],
    ['f != "c"', true, true],
    ['f == null', true, false],
    ['f != null', false, true],
    ['f < "b"', false, true],
    ['f >= "b"', false, true],
    ['f > "b"', false, false],
    ['f in ("a", "x")', false, true],
    ['f in ("x")', false, false],
    ['f not in ("a", "x")', true, false],
    ['f not in ("x")', true, true],
    ['f : "B*"', false, true],
    ['f like "B*"', false, false],
    ['f like~ "B*"', false, true],
    ['f regex "[ab]"', false, true],
    ['f regex~ "[B]"', false, true],
    ['not (f == "a")', true, false],
    ['not (f == "c")', true, true],
    ['not (length(f) > 5)', true, true],
    ['length(f) == 1', false, true],
    ['null == (f > "a")', true, false],
    ['(f == "a") == null', true, false],
    ['concat(f, "x") == "ax"', false, true],
    ['f + 1 == null', true, true],
  ])('%s: missing -> %s, array -> %s', (condition, onMissing, onArray) => {
    expect(holds(condition, missing)).toBe(onMissing);
    expect(holds(condition, array)).toBe(onArray);
  });

  it('three-valued and/or in value position', () => {
    expect(holds('((x > 1) and false) == false', {})).toBe(true);
    expect(holds('((x > 1) or true) == true', {})).toBe(true);
    expect(holds('((x > 1) and true) == null', {})).toBe(true);
    expect(holds('((x > 1) or false) == null', {})).toBe(true);
  });

  it('an absent ?optional field is the null literal', () => {
    expect(holds('?x == ?y', {})).toBe(true);
    expect(holds('?x != ?y', {})).toBe(false);
    expect(holds('?x == 1', {})).toBe(false);
    expect(holds('?x == ?y', { y: 1 })).toBe(false);
    expect(holds('?x', {})).toBe(false);
  });

  it('a boolean field is a condition by itself', () => {
    expect(holds('flag', { flag: true })).toBe(true);
    expect(holds('flag', { flag: false })).toBe(false);
    expect(holds('not flag', { flag: false })).toBe(true);
  });
});

describe('operators', () => {
  const event: EqlEvent = { process: { name: 'Bash', pid: 42, args: ['-c', 'echo *'] }, n: 7, s: '5', ok: true };
  it.each([
    ['process.name == "Bash"', true],
    ['process.name == "bash"', false],
    ['process.name : "bash"', true],
    ['process.name : ("zsh", "ba*")', true],
    ['process.name : "b?sh"', true],
    ['process.name : "b?h"', false],
    ['process.name like "B*"', true],
    ['process.name like "b*"', false],
    ['process.name like~ "b*"', true],
    ['process.name regex "B.*"', true],
    ['process.name regex "a.*"', false],
    ['process.name regex~ "bas."', true],
    ['process.name in ("bash", "sh")', false],
    ['process.name in~ ("bash", "sh")', true],
    ['process.name not in~ ("bash")', false],
    ['process.args in ("*")', false],
    ['process.args in ("echo *")', true],
    ['process.args : "echo \\\\*"', false],
    ['process.pid == 42 and process.pid != 41', true],
    ['process.pid > 41 and process.pid >= 42 and process.pid < 43 and process.pid <= 42', true],
    ['s == 5 and n == "7"', true],
    ['s < 10', true],
    ['"abc" < "abd" and "S" < "s"', true],
    ['n + 1 == 8 and n - 8 == -1 and n * 2 == 14 and n % 4 == 3', true],
    ['n / 2 == 3', true],
    ['n / 2.0 == 3.5', true],
    ['-n == -7 and +n == 7', true],
    ['n / 0 == null', true],
    ['ok == true and ok != false', true],
    ['process.name == null or process.pid == null', false],
    ['process.parent.name == null', true],
  ])('%s -> %s', (condition, expected) => {
    expect(holds(condition, event)).toBe(expected);
  });

  it('reads flat dotted keys and mixes of nested and dotted', () => {
    expect(holds('process.parent.name == "sh"', { 'process.parent.name': 'sh' })).toBe(true);
    expect(holds('process.parent.name == "sh"', { process: { 'parent.name': 'sh' } })).toBe(true);
    expect(holds('process.parent.name == "sh"', { 'process.parent': { name: 'sh' } })).toBe(true);
    expect(holds('threat.technique.id == "T2"', { threat: [{ technique: { id: 'T1' } }, { technique: { id: 'T2' } }] })).toBe(true);
    expect(holds('process.args[1] == "x"', { process: { args: ['a', 'x'] } })).toBe(true);
  });

  it('matches event categories given as string or array, case-sensitively', () => {
    const q = compileQuery('process where true');
    if (q.kind !== 'event') throw new Error('event query expected');
    expect(q.category).toBe('process');
    expect(q.matches({ event: { category: 'process' } })).toBe(true);
    expect(q.matches({ event: { category: ['network', 'process'] } })).toBe(true);
    expect(q.matches({ 'event.category': ['process'] })).toBe(true);
    expect(q.matches({ event: { category: 'Process' } })).toBe(false);
    expect(q.matches({})).toBe(false);
  });
});

describe('functions', () => {
  const event: EqlEvent = { name: 'explorer.exe', path: 'C:\\Windows\\explorer.exe', n: 12, ip: '10.1.2.3', ip6: 'fe80::1' };
  it.each([
    ['add(n, 3) == 15 and subtract(n, 3) == 9 and multiply(n, 2) == 24 and divide(n, 5) == 2 and modulo(n, 5) == 2', true],
    ['divide(n, 5.0) == 2.4', true],
    ['add(n, null) == null', true],
    ['between(path, "\\\\", ".") == "Windows\\\\explorer"', true],
    ['between(path, "\\\\", "\\\\", true) == "Windows"', true],
    ['between(path, "W", "E") == ""', true],
    ['between~(path, "w", "E") == "indows\\\\"', true],
    ['between(path, "zz", ".") == ""', true],
    ['cidrMatch(ip, "10.0.0.0/8")', true],
    ['cidrMatch(ip, "192.168.0.0/16", "10.1.2.0/24")', true],
    ['cidrMatch(ip, "11.0.0.0/8")', false],
    ['cidrMatch(ip6, "fe80::/10")', true],
    ['cidrMatch(missing, "10.0.0.0/8") == null', true],
    ['concat(name, "-", n, "-", true) == "explorer.exe-12-true"', true],
    ['concat(name, missing) == null', true],
    ['endsWith(name, ".exe") and not endsWith(name, ".EXE") and endsWith~(name, ".EXE")', true],
    ['indexOf(name, "plorer") == 2 and indexOf(name, "p", 3) == null and indexOf(name, "e", 1) == 6', true],
    ['indexOf~(name, "PLORER") == 2 and indexOf(name, "PLORER") == null and indexOf(name, "e", 100) == null', true],
    ['length(name) == 12 and length("") == 0 and length(missing) == null', true],
    ['number("42") == 42 and number("2.5") == 2.5 and number("ff", 16) == 255 and number("0x1F", 16) == 31', true],
    ['number("abc") == null and number(missing) == null', true],
    ['startsWith(name, "exp") and not startsWith(name, "EXP") and startsWith~(name, "EXP")', true],
    ['string(n) == "12" and string(true) == "true" and string(missing) == null', true],
    ['stringContains(path, "Windows") and not stringContains(path, "windows") and stringContains~(path, "WINDOWS")', true],
    ['substring(name, 0, 3) == "exp" and substring(name, -3) == "exe" and substring(name, -4, -1) == ".ex"', true],
    ['substring(name, 5, 2) == "" and substring(name, 100) == ""', true],
    ['CONCAT("a", "b") == "ab" and StartsWith~("ABC", "a")', true],
  ])('%s -> %s', (condition, expected) => {
    expect(holds(condition, event)).toBe(expected);
  });

  it('maps a multi-valued first argument element by element', () => {
    expect(holds('startsWith(args, "-e")', { args: ['-c', '-exec'] })).toBe(true);
    expect(holds('length(args) == 5', { args: ['-c', '-exec'] })).toBe(true);
  });
});

describe('shared leaves and field memo', () => {
  it('queries sharing a condition each give their own answer, event after event', () => {
    const a = compileQuery('process where host.os.type == "linux" and process.name == "sh"');
    const b = compileQuery('process where host.os.type == "linux" and process.name == "bash"');
    if (a.kind !== 'event' || b.kind !== 'event') throw new Error('event queries expected');
    const sh = { event: { category: 'process' }, host: { os: { type: 'linux' } }, process: { name: 'sh' } };
    const bash = { event: { category: 'process' }, host: { os: { type: 'linux' } }, process: { name: 'bash' } };
    const mac = { event: { category: 'process' }, host: { os: { type: 'macos' } }, process: { name: 'sh' } };
    expect([a.matches(sh), b.matches(sh)]).toEqual([true, false]);
    expect([a.matches(bash), b.matches(bash)]).toEqual([false, true]);
    expect([a.matches(mac), b.matches(mac)]).toEqual([false, false]);
    expect(a.matches({ ...sh })).toBe(true);
  });
});

describe('backquoted dotted field names', () => {
  it('are one key: a flat event\'s dotted key, never the nested path, for names the fast readers know and others alike', () => {
    for (const name of ['process.name', 'foo.bar']) {
      expect(holds(`\`${name}\` == "bash"`, { [name]: 'bash' }), name).toBe(true);
      expect(holds(`\`${name}\` == "bash"`, { process: { name: 'bash' }, foo: { bar: 'bash' } }), name).toBe(false);
    }
  });
});
