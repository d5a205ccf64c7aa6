import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRules, loadRuleText, RuleDiagnosticCode as Code, type RuleDiagnostic } from '../../src/rules/index.js';
import { edit, lineOf, VALID_RULE } from './fixtures.js';

function only(diagnostics: RuleDiagnostic[], code: string): RuleDiagnostic {
  const found = diagnostics.filter((d) => d.code === code);
  expect(found, JSON.stringify(diagnostics)).toHaveLength(1);
  return found[0]!;
}

describe('loadRuleText', () => {
  it('accepts a valid rule and returns its typed definition', () => {
    const { rule, diagnostics } = loadRuleText(VALID_RULE, 'r.toml', { ruleset: 'test' });
    expect(diagnostics).toEqual([]);
    expect(rule).toMatchObject({
      ruleId: '0f3b1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', name: 'Whoami from a web server', severity: 'medium', riskScore: 47,
      author: ['execwarden'], ruleset: 'test', creationDate: '2026/01/12', updatedDate: '2026/01/13', maturity: 'production',
      threat: [{ framework: 'MITRE ATT&CK', tactic: { id: 'TA0007' }, technique: [{ id: 'T1033', subtechnique: [] }] }],
    });
    expect(rule!.compiled.kind).toBe('event');
  });

  it('reports a TOML syntax error at its line and column', () => {
    const text = edit(VALID_RULE, 'severity = "medium"', 'severity = "medium');
    const d = only(loadRuleText(text, 'r.toml').diagnostics, Code.TomlSyntax);
    expect(d).toMatchObject({ severity: 'error', file: 'r.toml', line: lineOf(text, 'severity =') });
  });

  it('reports every schema problem of a file at once, each at its key', () => {
    let text = edit(VALID_RULE, 'rule_id = "0f3b1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"', 'rule_id = "not-a-uuid"');
    text = edit(text, 'severity = "medium"', 'severity = "urgent"');
    text = edit(text, 'risk_score = 47', 'risk_score = 140');
    text = edit(text, 'name = "Whoami from a web server"\n', '');
    text = edit(text, 'author = ["execwarden"]', 'author = "execwarden"');
    text = edit(text, 'creation_date = "2026/01/12"', 'creation_date = "2026-01-12"');
    const { rule, diagnostics } = loadRuleText(text, 'broken.toml');
    expect(rule).toBeNull();
    const at = (code: string, needle: string) => {
      const d = diagnostics.find((x) => x.code === code && x.line === lineOf(text, needle));
      expect(d, `${code} at "${needle}" in ${JSON.stringify(diagnostics, null, 1)}`).toBeDefined();
      return d!;
    };
    expect(at(Code.InvalidValue, 'rule_id =').column).toBe(1);
    expect(at(Code.InvalidValue, 'severity =').message).toContain('urgent');
    expect(at(Code.InvalidValue, 'risk_score =').message).toContain('between 0 and 100');
    expect(at(Code.WrongType, 'author =').message).toContain('array of strings');
    expect(at(Code.InvalidValue, 'creation_date =').message).toContain('YYYY/MM/DD');
    // A missing key points at its table's header.
    expect(at(Code.MissingField, '[rule]').message).toContain('rule.name');
    expect(diagnostics.every((d) => d.file === 'broken.toml' && d.severity === 'error')).toBe(true);
  });

  it('points at the key inside the right array-of-tables entry', () => {
    const text = edit(VALID_RULE, 'id = "T1033"', 'id = "T1033.001"');
    const d = only(loadRuleText(text, 'r.toml').diagnostics, Code.InvalidValue);
    expect(d.line).toBe(lineOf(text, 'id = "T1033.001"'));
    expect(d.message).toContain('rule.threat[0].technique[0].id');
  });

  it('checks a sub-technique belongs to its technique and references its own page', () => {
    const text = VALID_RULE.replace('reference = "https://attack.mitre.org/techniques/T1033/"\n',
      'reference = "https://attack.mitre.org/techniques/T1033/"\n\n[[rule.threat.technique.subtechnique]]\nid = "T1059.004"\nname = "Unix Shell"\nreference = "https://attack.mitre.org/techniques/T1059/004/"\n');
    const d = only(loadRuleText(text, 'r.toml').diagnostics, Code.InvalidValue);
    expect(d.message).toContain('does not belong to technique T1033');
    expect(d.line).toBe(lineOf(text, 'id = "T1059.004"'));
  });

  it('maps an EQL error to its line and column in the file', () => {
    const text = edit(VALID_RULE, 'process.name == "whoami"', 'process.name === "whoami"');
    const d = only(loadRuleText(text, 'r.toml').diagnostics, Code.QuerySyntax);
    const line = lineOf(text, '===');
    expect(d.line).toBe(line);
    // The compiler reports the stray '=' after '=='; the column is the file's, not the query's.
    const col = text.split('\n')[line - 1]!.indexOf('===') + 1;
    expect(d.column).toBeGreaterThanOrEqual(col);
    expect(d.column).toBeLessThanOrEqual(col + 3);
    expect(d.message).toMatch(/^query does not compile: EQL\d{4} /);
  });

  it('maps an EQL error on the first line of a single-line query', () => {
    const text = VALID_RULE.replace(/query = '''[\s\S]*?'''/, `query = 'process wher true'`);
    const d = only(loadRuleText(text, 'r.toml').diagnostics, Code.QuerySyntax);
    expect(d.line).toBe(lineOf(text, 'query ='));
    expect(d.column).toBe(`query = 'process `.length + 1);
  });

  it('warns about unknown keys and fields execwarden never fills, and still loads', () => {
    let text = edit(VALID_RULE, 'from = "now-9m"', 'from = "now-9m"\nfavourite_colour = "blue"');
    text = edit(text, 'process.name == "whoami"', 'process.name == "whoami" and process.Ext.api.name : "VirtualAlloc*"');
    const { rule, diagnostics } = loadRuleText(text, 'r.toml');
    expect(rule).not.toBeNull();
    expect(only(diagnostics, Code.UnknownKey)).toMatchObject({ severity: 'warning', line: lineOf(text, 'favourite_colour') });
    const unfilled = only(diagnostics, Code.UnfilledFields);
    expect(unfilled.severity).toBe('warning');
    expect(unfilled.message).toContain('process.Ext.api.name');
    expect(unfilled.message).not.toContain('process.name');
  });

  it('says once that a rule needing events execwarden does not produce never matches, and still loads it', () => {
    const text = edit(VALID_RULE, 'process.name == "whoami"', 'process.name == "whoami" and event.action == "load_module" and process.Ext.api.name : "x"');
    const { rule, diagnostics } = loadRuleText(text, 'r.toml');
    expect(rule).not.toBeNull();
    expect(only(diagnostics, Code.NeverMatches).message).toBe(
      'query never matches on this agent: it needs event.action == "load_module", which execwarden never writes',
    );
    expect(diagnostics.filter((d) => d.code === Code.UnfilledFields)).toEqual([]);
  });

  it('skips rules of other types and deprecated rules with a warning', () => {
    const query = loadRuleText(edit(VALID_RULE, 'type = "eql"', 'type = "query"'), 'q.toml');
    expect(query).toMatchObject({ rule: null, skipped: true });
    expect(only(query.diagnostics, Code.UnsupportedRuleType).severity).toBe('warning');
    const old = loadRuleText(edit(VALID_RULE, 'maturity = "production"', 'maturity = "deprecated"'), 'd.toml');
    expect(old).toMatchObject({ rule: null, skipped: true });
    expect(only(old.diagnostics, Code.DeprecatedRule).severity).toBe('warning');
  });
});

describe('loadRules', () => {
  it('loads folders recursively, keeps going past bad files and reports each with its file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'execwarden-rules-'));
    mkdirSync(join(dir, 'nested'));
    writeFileSync(join(dir, 'a_good.toml'), VALID_RULE);
    writeFileSync(join(dir, 'b_bad_toml.toml'), 'this is = = not toml');
    writeFileSync(join(dir, 'nested', 'c_bad_query.toml'), edit(VALID_RULE.replace('0f3b1c2d', '1f3b1c2d'), 'process where', 'proces wher'));
    writeFileSync(join(dir, 'nested', 'd_duplicate.toml'), VALID_RULE);
    writeFileSync(join(dir, 'notes.md'), '# not a rule');
    const result = await loadRules([dir, join(dir, 'missing')]);
    expect(result.files.map((f) => f.slice(dir.length + 1))).toEqual(['a_good.toml', 'b_bad_toml.toml', 'nested/c_bad_query.toml', 'nested/d_duplicate.toml']);
    expect(result.rules.map((r) => r.file)).toEqual([join(dir, 'a_good.toml')]);
    expect(result.ok).toBe(false);
    const summary = result.diagnostics.map((d) => [d.code, d.severity, d.file.slice(dir.length + 1)]);
    expect(summary).toEqual([
      [Code.TomlSyntax, 'error', 'b_bad_toml.toml'],
      [Code.QuerySyntax, 'error', 'nested/c_bad_query.toml'],
      [Code.DuplicateRuleId, 'warning', 'nested/d_duplicate.toml'],
      [Code.PathNotFound, 'error', 'missing'],
    ]);
    expect(result.rules[0]!.ruleset).toBe(dir.split('/').pop());
  });

  it('names the bundled rules the execwarden rule set', async () => {
    const result = await loadRules([join(process.cwd(), 'rules')]);
    expect(result.ok).toBe(true);
    expect(result.rules.length).toBeGreaterThanOrEqual(7);
    expect(new Set(result.rules.map((r) => r.ruleset))).toEqual(new Set(['execwarden']));
  });
});
