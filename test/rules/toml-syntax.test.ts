/**
 * TOML syntax errors name the real problem: a string left open at the end of its line, or the
 * control character it holds, rather than smol-toml's "control characters are not allowed", at
 * the position smol-toml gives; rule files and the config file read them alike.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../src/agent/config.js';
import { formatDiagnostic, loadRuleText, tomlSyntaxProblem } from '../../src/rules/index.js';
import { edit, lineOf, VALID_RULE } from './fixtures.js';

const OPEN_STRING =
  'string not closed before the end of the line: a one-line string cannot hold a line break ' +
  '(close it on this line, write \\n inside "…", or use """…""" or \'\'\'…\'\'\' for text over several lines)';

function problemOf(text: string) {
  try {
    parse(text);
  } catch (error) {
    return tomlSyntaxProblem(error, text);
  }
  throw new Error('expected a TOML error');
}

describe('TOML syntax errors', () => {
  it.each([
    ['a line break in a "…" string', 'a = "x\ny"\n', 1, 7, OPEN_STRING],
    ["a line break in a '…' string", "a = 'x\ny'\n", 1, 7, OPEN_STRING],
    ['a closing quote left out', 'b = 1\na = "abc\nc = 2\n', 2, 9, OPEN_STRING],
    ['a CRLF line break', 'b = 1\r\na = "x\r\ny"\r\n', 2, 7, OPEN_STRING],
    ['a lone carriage return', 'a = "x\ry"\n', 1, 7, 'carriage return (U+000D) inside a string: write it as \\r inside "…"'],
    ['a control character', 'a = "x\u0001y"\n', 1, 7, 'control character U+0001 inside a string: write it as \\u0001 inside "…" (\'…\' strings cannot hold it)'],
    ['DEL in a multi-line string', 'a = """x\u007fy"""\n', 1, 9, 'control character U+007F inside a string: write it as \\u007F inside "…" (\'…\' strings cannot hold it)'],
    ['after non-ASCII text', 'a = "é😀\u001b"\n', 1, 9, 'control character U+001B inside a string: write it as \\u001B inside "…" (\'…\' strings cannot hold it)'],
    ['a control character in a comment', 'a = 1 # x\u0002\n', 1, 10, 'control character U+0002 in a comment: TOML allows none, not even in comments'],
    ['any other error, as smol-toml words it', 'a = "x\\qy"\n', 1, 8, 'unrecognised escape sequence'],
  ])('%s', (_name, text, line, column, message) => {
    expect(problemOf(text)).toEqual({ line, column, message });
  });

  it('accepts a tab inside a string, as TOML does', () => {
    expect(parse('a = "x\ty"\nb = \'x\ty\'\n')).toEqual({ a: 'x\ty', b: 'x\ty' });
  });

  it('places anything but a TomlError at 1:1 with its message', () => {
    expect(tomlSyntaxProblem(new Error('boom\nmore'), '')).toEqual({ line: 1, column: 1, message: 'boom' });
  });

  it('reports a rule file query broken over two lines in "…" with its file, line and column', () => {
    const text = edit(VALID_RULE, `query = '''\nprocess where event.type == "start" and event.action == "exec" and\n  process.name == "whoami" and process.parent.name in ("nginx", "apache2")\n'''`, 'query = "process where\n  process.name == \\"whoami\\""');
    const result = loadRuleText(text, '/rules/whoami.toml');
    expect(result.rule).toBeNull();
    const line = lineOf(text, 'query = "process where');
    expect(result.diagnostics.map(formatDiagnostic)).toEqual([`/rules/whoami.toml:${line}:23: error RULE0103 invalid TOML: ${OPEN_STRING}`]);
  });

  describe('in the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'execwarden-toml-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('says so with the file, line and column', () => {
      const path = join(dir, 'config.toml');
      writeFileSync(path, '[rules]\nexceptions = "/etc/execwarden/exceptions.toml\n');
      // Column 46: the end of line 2, where the string was still open.
      expect(() => loadAgentConfig({ config: path })).toThrow(`${path}:2:46: invalid TOML: ${OPEN_STRING}`);
    });
  });
});
