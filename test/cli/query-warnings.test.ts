/**
 * `query` warns, on stderr and without failing, where `rules validate` would: fields execwarden
 * never fills, a query that never matches its events, and an unquoted word meant as text.
 */
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { queryAction } from '../../src/cli/query.js';
import { bareWords, queryWarnings } from '../../src/cli/query-warnings.js';
import { compileQuery } from '../../src/eql/index.js';
import { loadRuleText } from '../../src/rules/loader.js';

const EXAMPLES = join(process.cwd(), 'examples', 'process-events.ndjson');

async function query(eql: string): Promise<{ exitCode: number; matches: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (c: Buffer) => out.push(c.toString()));
  stderr.on('data', (c: Buffer) => err.push(c.toString()));
  const result = await queryAction({ query: eql, files: [EXAMPLES] }, { stdout, stderr });
  return { exitCode: result.exitCode, matches: result.matches, stdout: out.join(''), stderr: err.join('') };
}

function warnings(eql: string): string[] {
  return queryWarnings(compileQuery(eql).ast, eql);
}

describe('query warnings', () => {
  it('says nothing about a query on fields execwarden fills', async () => {
    const run = await query('process where process.name in ("setsid", "nohup") and process.parent.name == "bash"');
    expect(run).toMatchObject({ exitCode: 0, matches: 2, stderr: '' });
  });

  it('names an unquoted word compared with a field, with the quoted form, and still runs', async () => {
    const run = await query('process where process.name == setsid');
    expect(run.exitCode).toBe(0);
    expect(run.matches).toBe(0);
    expect(run.stderr).toBe(
      'execwarden: query warning: setsid is read as a field name (execwarden never fills it); to compare with text, quote it: "setsid"\n',
    );
  });

  it('finds such words in in-lists, function arguments and sequences, each once', () => {
    expect(warnings('process where process.name in (setsid, nohup, "bash")')).toEqual([
      'query warning: setsid, nohup are read as field names (execwarden never fills them); to compare with text, quote them: "setsid", "nohup"',
    ]);
    expect(warnings('process where startswith(process.name, setsid) or process.name == setsid')[0]).toMatch(/^query warning: setsid is read/);
    expect(warnings('sequence by process.entity_id [process where process.name == bash] [process where process.name : "x"]')[0]).toMatch(
      /^query warning: bash is read/,
    );
  });

  it('reports other unfilled fields with the code and words rules validate uses', async () => {
    const eql = 'process where process.name == "x" and process.pe.original_file_name == "y" and foo == 1';
    const run = await query(eql);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toBe('execwarden: query warning RULE0302: query uses fields execwarden never fills: foo, process.pe.original_file_name\n');
    const rule = [
      '[metadata]', 'creation_date = "2024/01/01"', 'updated_date = "2024/01/01"', 'maturity = "production"',
      '[rule]', 'author = ["x"]', 'description = "x"', 'license = "Elastic License v2"',
      'name = "x"', 'risk_score = 21', 'rule_id = "00000000-0000-0000-0000-000000000001"', 'severity = "low"', 'type = "eql"',
      'language = "eql"', `query = '''${eql}'''`,
    ].join('\n');
    const validated = loadRuleText(rule, 'x.toml').diagnostics.find((d) => d.code === 'RULE0302');
    expect(validated?.message).toBe('query uses fields execwarden never fills: foo, process.pe.original_file_name');
  });

  it('does not take a word for text when it is marked as a field: ?word, or in backquotes', () => {
    expect(warnings('process where ?setsid == process.name')).toEqual(['query warning RULE0302: query uses fields execwarden never fills: setsid']);
    expect(warnings('process where `setsid` == process.name')).toEqual(['query warning RULE0302: query uses fields execwarden never fills: setsid']);
    // a word compared with a constant is a field the user meant, just not one execwarden fills
    expect(warnings('process where pid == 1')).toEqual(['query warning RULE0302: query uses fields execwarden never fills: pid']);
  });

  it('says when a query can never match execwarden\'s events, instead of listing fields', () => {
    expect(warnings('network where destination.port == 4444')).toEqual([
      'query warning RULE0303: query never matches on this agent: it reads network events, which execwarden does not produce',
    ]);
  });

  it('escapes and bounds the names it shows', () => {
    const hostile = warnings('process where `a\u001b[2Jb` == "x"');
    expect(hostile).toEqual(['query warning RULE0302: query uses fields execwarden never fills: a\\x1b[2Jb']);
    const many = Array.from({ length: 25 }, (_, i) => `w${i}`);
    const [line] = warnings(`process where process.name in (${many.join(', ')})`);
    expect(line).toContain('w19 and 5 more are read as field names');
    expect(line).toContain('"w19" and 5 more');
    expect(line).not.toContain('w20,');
  });

  it('bareWords only considers the unfilled fields it is given', () => {
    const eql = 'process where process.name == setsid';
    expect(bareWords(compileQuery(eql).ast, eql, new Set())).toEqual([]);
  });
});
