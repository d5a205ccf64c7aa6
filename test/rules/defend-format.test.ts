/**
 * Elastic Defend behavior-rule files: told apart from detection-rules by content, validated with
 * positioned diagnostics, given the configured severity, run with Defend's EQL dialect, and
 * turned into alerts that carry the rule's id, version, references, threat and actions.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/agent/config.js';
import { buildAlert } from '../../src/alerts/index.js';
import { rulesListAction, rulesValidateAction } from '../../src/cli/rules.js';
import type { CommandIo } from '../../src/cli/io.js';
import { DEFEND_RULE_DEFAULTS } from '../../src/rules/behavior-rule-schema.js';
import { loadRules, loadRuleSet, loadRuleText, RuleDiagnosticCode as Code, RuleSet, type LoadedRule, type RuleDiagnostic } from '../../src/rules/index.js';
import { ruleFormatOf } from '../../src/rules/rule-format.js';
import { ecsProblems } from '../alerts/ecs-shape.js';
import { TextSink } from '../support/helpers.js';
import { edit, lineOf, VALID_RULE } from './fixtures.js';
import { execEvent } from './support/exec-event.js';

/** A behavior rule in Defend's format: a package manager's descendant shell fetching a script. */
const DEFEND_RULE = `[rule]
description = """
A shell started below a package manager downloads a script.
"""
id = "6d1f0c9a-2b3e-4f5a-8c7d-1e2f3a4b5c6d"
license = "Elastic License v2"
name = "Script Download by a Package Manager Descendant"
os_list = ["linux"]
reference = ["https://example.org/advisory/1", "https://example.org/advisory/2"]
version = "1.0.3"

query = '''
process where event.type == "start" and event.action == "exec" and
  process.name in ("curl", "wget") and process.args like~ "http*.sh" and
  descendant of [process where event.action == "exec" and process.name in ("dnf", "yum")]
'''

min_endpoint_version = "8.10.0"
optional_actions = []
[[actions]]
action = "kill_process"
field = "process.entity_id"
state = 0

[[actions]]
action = "kill_process"
field = "process.parent.entity_id"
state = 0

[[threat]]
framework = "MITRE ATT&CK"
[[threat.technique]]
id = "T1105"
name = "Ingress Tool Transfer"
reference = "https://attack.mitre.org/techniques/T1105/"

[threat.tactic]
id = "TA0011"
name = "Command and Control"
reference = "https://attack.mitre.org/tactics/TA0011/"

[internal]
min_endpoint_version = "8.10.0"
`;

/** A sequence over network events, which this agent does not produce. */
const NETWORK_RULE = `[rule]
description = "A new process connects out."
id = "7e2a1d0b-3c4f-4a6b-9d8e-2f3a4b5c6d7e"
name = "Egress After Exec"
os_list = ["linux"]
version = "1.0.0"
query = '''
sequence by process.entity_id with maxspan=5s
  [process where event.action == "exec" and process.name == "nc"]
  [network where event.action == "connection_attempted"]
'''
min_endpoint_version = "8.4.0"
[[actions]]
action = "kill_process"
field = "process.entity_id"
state = 1
`;

function only(diagnostics: RuleDiagnostic[], code: string): RuleDiagnostic {
  const found = diagnostics.filter((d) => d.code === code);
  expect(found, JSON.stringify(diagnostics)).toHaveLength(1);
  return found[0]!;
}

function io(): CommandIo & { stdout: TextSink; stderr: TextSink } {
  return { stdout: new TextSink(), stderr: new TextSink(), stdin: new PassThrough() };
}

function loaded(text: string, file = 'defend.toml'): LoadedRule {
  const { rule, diagnostics } = loadRuleText(text, file, { ruleset: 'defend' });
  expect(diagnostics).toEqual([]);
  return rule!;
}

describe('Defend behavior-rule format', () => {
  it('is told apart from detection-rules by content', () => {
    expect(ruleFormatOf({ rule: { id: 'x', query: 'q' } })).toBe('defend');
    expect(ruleFormatOf({ rule: { name: 'x' }, actions: [] })).toBe('defend');
    expect(ruleFormatOf({ metadata: {}, rule: { id: 'x' } })).toBe('detection-rules');
    expect(ruleFormatOf({ rule: { rule_id: 'x', os_list: ['linux'] } })).toBe('detection-rules');
    expect(ruleFormatOf({ rule: { name: 'x' } })).toBe('detection-rules');
  });

  it('loads with its id, version, references, threat and actions, and the default severity', () => {
    const rule = loaded(DEFEND_RULE);
    expect(rule).toMatchObject({
      format: 'defend', ruleId: '6d1f0c9a-2b3e-4f5a-8c7d-1e2f3a4b5c6d', name: 'Script Download by a Package Manager Descendant',
      version: '1.0.3', references: ['https://example.org/advisory/1', 'https://example.org/advisory/2'], osList: ['linux'],
      minEndpointVersion: '8.10.0', license: 'Elastic License v2', severity: 'medium', riskScore: 47, ruleset: 'defend', neverMatches: null,
      actions: [{ action: 'kill_process', field: 'process.entity_id', state: 0 }, { action: 'kill_process', field: 'process.parent.entity_id', state: 0 }],
      threat: [{ framework: 'MITRE ATT&CK', tactic: { id: 'TA0011' }, technique: [{ id: 'T1105', subtechnique: [] }] }],
    });
    expect(DEFEND_RULE_DEFAULTS).toEqual({ severity: 'medium', riskScore: 47 });
    expect(rule.compiled).toMatchObject({ kind: 'event', dialect: 'defend' });
    expect(rule.compiled.lineage).not.toBeNull();
  });

  it('takes the configured severity and risk score, and a rule\'s own when it has them', () => {
    const configured = loadRuleText(DEFEND_RULE, 'r.toml', { defendDefaults: { severity: 'high', riskScore: 73 } }).rule!;
    expect([configured.severity, configured.riskScore]).toEqual(['high', 73]);
    const own = loadRuleText(edit(DEFEND_RULE, 'version = "1.0.3"', 'version = "1.0.3"\nseverity = "critical"\nrisk_score = 99'), 'r.toml').rule!;
    expect([own.severity, own.riskScore]).toEqual(['critical', 99]);
  });

  it('reports every schema problem at its key, with the rule id', () => {
    let text = edit(DEFEND_RULE, 'version = "1.0.3"', 'version = "one"');
    text = edit(text, 'name = "Script Download by a Package Manager Descendant"\n', '');
    text = edit(text, 'field = "process.parent.entity_id"\n', 'fields = "process.parent.entity_id"\n');
    text = edit(text, 'reference = "https://attack.mitre.org/techniques/T1105/"', 'reference = "https://attack.mitre.org/techniques/T1106/"');
    text = edit(text, 'min_endpoint_version = "8.10.0"\noptional_actions', 'min_endpoint_version = 8\noptional_actions');
    const { rule, diagnostics } = loadRuleText(text, 'broken.toml');
    expect(rule).toBeNull();
    const at = (code: string, needle: string) => expect(diagnostics.filter((d) => d.code === code).map((d) => d.line)).toContain(lineOf(text, needle));
    at(Code.InvalidValue, 'version = "one"');
    at(Code.UnknownKey, 'fields = "process.parent.entity_id"');
    at(Code.InvalidValue, 'techniques/T1106/');
    at(Code.WrongType, 'min_endpoint_version = 8');
    expect(diagnostics.filter((d) => d.code === Code.MissingField).map((d) => d.message).sort()).toEqual([
      'missing required field actions[1].field',
      'missing required field rule.name',
    ]);
    expect(diagnostics.every((d) => d.file === 'broken.toml' && d.ruleId === '6d1f0c9a-2b3e-4f5a-8c7d-1e2f3a4b5c6d')).toBe(true);
  });

  it('names a Defend file\'s missing id as such, not as a detection-rules file', () => {
    const text = edit(DEFEND_RULE, 'id = "6d1f0c9a-2b3e-4f5a-8c7d-1e2f3a4b5c6d"\n', '');
    const d = only(loadRuleText(text, 'r.toml').diagnostics, Code.MissingField);
    expect(d.message).toBe('missing required field rule.id');
  });

  it('reports a query error at its place in the file, with Defend\'s dialect', () => {
    const text = edit(DEFEND_RULE, 'descendant of [process', 'descendant of process');
    const d = only(loadRuleText(text, 'r.toml').diagnostics, Code.QuerySyntax);
    expect(d.message).toBe("query does not compile: EQL0102 expected '[', found 'process'");
    expect([d.line, d.column]).toEqual([lineOf(text, 'descendant of process'), 17]);
    // the same query in a detection-rules file is Elasticsearch's dialect, where lineage is refused
    const esText = edit(VALID_RULE, 'process.name == "whoami" and', 'process.name == "whoami" and descendant of [process where true] and');
    expect(only(loadRuleText(esText, 'r.toml').diagnostics, Code.QuerySyntax).message).toContain("EQL0205 'descendant of' (process lineage) is Elastic Defend's dialect");
  });

  it('warns about an action naming a stage the query does not have', () => {
    const text = edit(DEFEND_RULE, 'field = "process.parent.entity_id"\nstate = 0', 'field = "process.parent.entity_id"\nstate = 1');
    const { rule, diagnostics } = loadRuleText(text, 'r.toml');
    expect(rule).not.toBeNull();
    const d = only(diagnostics, Code.InvalidValue);
    expect(d).toMatchObject({ severity: 'warning', line: lineOf(text, 'state = 1'), message: 'actions[1].state is 1, but the query has stage 0 only' });
  });

  it('skips a rule for other systems with a note, not an error', () => {
    const text = edit(DEFEND_RULE, 'os_list = ["linux"]', 'os_list = ["windows", "macos"]');
    const result = loadRuleText(text, 'win.toml');
    expect(result).toMatchObject({ rule: null, skipped: true, diagnostics: [], otherOs: ['windows', 'macos'] });
    expect(only(result.notes, Code.OtherOperatingSystem)).toMatchObject({ severity: 'note', line: lineOf(text, 'os_list'), message: 'rule is for windows, macos, not linux; skipped' });
  });
});

describe('Defend rules in a rule pack', () => {
  const dir = mkdtempSync(join(tmpdir(), 'execwarden-defend-'));
  const pack = join(dir, 'defend');
  mkdirSync(pack);
  writeFileSync(join(pack, 'a_descendant.toml'), DEFEND_RULE);
  writeFileSync(join(pack, 'b_network.toml'), NETWORK_RULE);
  writeFileSync(join(pack, 'c_network_too.toml'), edit(edit(NETWORK_RULE, '7e2a1d0b', '8e2a1d0b'), 'network where', 'dns where'));
  writeFileSync(join(pack, 'd_windows.toml'), edit(edit(DEFEND_RULE, '6d1f0c9a', '9d1f0c9a'), 'os_list = ["linux"]', 'os_list = ["windows"]'));
  writeFileSync(join(pack, 'e_detection.toml'), VALID_RULE);

  it('loads beside detection-rules; rules that need other events load and are summed up once', async () => {
    const result = await loadRules([pack]);
    expect(result.ok).toBe(true);
    expect(result.rules.map((r) => [r.format, r.name])).toEqual([
      ['defend', 'Script Download by a Package Manager Descendant'],
      ['defend', 'Egress After Exec'],
      ['defend', 'Egress After Exec'],
      ['detection-rules', 'Whoami from a web server'],
    ]);
    expect(result.skipped).toBe(1);
    expect(result.rules.filter((r) => r.neverMatches !== null).map((r) => r.neverMatches)).toEqual([
      'it reads network events, which execwarden does not produce',
      'it reads dns events, which execwarden does not produce',
    ]);
    // one summary per kind in the diagnostics (what the agent logs), the per-rule notes apart
    expect(result.diagnostics.map((d) => [d.severity, d.code, d.file, d.line, d.column, d.message])).toEqual([
      ['warning', Code.NeverMatches, pack, 0, 0, '2 rules need events execwarden does not produce (dns 1, network 1): loaded, they never match on this agent (rules validate lists them)'],
      ['note', Code.OtherOperatingSystem, pack, 0, 0, '1 Elastic Defend rule is for other systems (windows 1) and was skipped'],
    ]);
    expect(result.notes.map((n) => [n.code, n.file.slice(pack.length + 1), n.line])).toEqual([
      [Code.NeverMatches, 'b_network.toml', lineOf(NETWORK_RULE, "query = '''")],
      [Code.NeverMatches, 'c_network_too.toml', lineOf(NETWORK_RULE, "query = '''")],
      [Code.OtherOperatingSystem, 'd_windows.toml', lineOf(DEFEND_RULE, 'os_list')],
    ]);
    // a set reloaded keeps its running rules only on errors: notes and summaries are not errors
    expect((await loadRuleSet({ paths: [pack] })).ruleSet?.size).toBe(4);
  });

  it('rules validate lists every note in file order and counts the rules that never match; list marks them', async () => {
    const out = io();
    const result = await rulesValidateAction({ paths: [pack] }, out);
    expect(result).toMatchObject({ exitCode: 0, rules: 4, errors: 0, warnings: 1, neverMatch: 2 });
    const lines = out.stdout.lines();
    expect(lines.at(-1)).toBe('4 rules from 5 files: 0 errors, 1 warnings, 1 skipped, 2 never match on this agent');
    expect(lines.map((l) => / (note|warning|error) (RULE\d{4})/.exec(l)?.slice(1).join(' '))).toEqual([
      'note RULE0303', 'note RULE0303', 'note RULE0207', 'warning RULE0303', 'note RULE0207', undefined,
    ]);
    const list = io();
    expect((await rulesListAction({ paths: [pack] }, list)).rules).toBe(4);
    const rows = list.stdout.lines();
    expect(rows[0]).toMatch(/^RULE ID\s+SEVERITY\s+TACTICS\s+NAME$/);
    expect(rows.find((l) => l.startsWith('7e2a1d0b'))).toMatch(/medium\s+-\s+Egress After Exec {2}\[never matches on this agent: it reads network events, which execwarden does not produce\]$/);
    const json = io();
    await rulesListAction({ paths: [pack], json: true }, json);
    expect(JSON.parse(json.stdout.lines()[0]!)).toMatchObject({ format: 'defend', version: '1.0.3', never_matches: null, severity: 'medium', risk_score: 47 });
  });
});

describe('Defend rules at work', () => {
  const host = { hostId: '0123456789abcdef0123456789abcdef' };
  const dnf = execEvent({ ...host, name: 'dnf', args: ['dnf', 'upgrade', '-y'], pid: 100, entityId: 'e-100', parent: { name: 'bash', args: ['bash'], pid: 99, entityId: 'e-99' }, sequence: 1 });
  const scriptlet = execEvent({ ...host, name: 'sh', args: ['/bin/sh', '/var/tmp/rpm-tmp.1'], pid: 101, entityId: 'e-101', parent: { name: 'dnf', args: ['dnf'], pid: 100, entityId: 'e-100' }, sequence: 2 });
  const fetch = execEvent({ ...host, name: 'curl', args: ['curl', '-o', '/tmp/x', 'https://203.0.113.9/x.sh'], pid: 102, entityId: 'e-102', parent: { name: 'sh', args: ['/bin/sh'], pid: 101, entityId: 'e-101' }, sequence: 3 });
  const elsewhere = execEvent({ ...host, name: 'curl', args: ['curl', 'https://203.0.113.9/x.sh'], pid: 200, entityId: 'e-200', parent: { name: 'bash', args: ['bash'], pid: 99, entityId: 'e-99' }, sequence: 4 });

  it('descendant of sees an ancestor the rule itself is never offered', () => {
    const set = new RuleSet([loaded(DEFEND_RULE)]);
    expect(set.candidates(dnf)).toEqual([]); // the index keeps dnf's exec away from the rule ...
    expect(set.evaluate(dnf)).toEqual([]);
    expect(set.evaluate(scriptlet)).toEqual([]);
    const matches = set.evaluate(fetch); // ... and still knows curl descends from it
    expect(matches).toHaveLength(1);
    expect(set.evaluate(elsewhere)).toEqual([]);
    expect(set.stats().lineage).toMatchObject({ subqueries: 1, forgotten: 0 });
  });

  it('an alert names the rule as Defend does and lists its actions without performing them', () => {
    const set = new RuleSet([loaded(DEFEND_RULE)]);
    const [match] = [dnf, scriptlet, fetch].flatMap((e) => set.evaluate(e));
    const alert = buildAlert(match!, { nowMs: () => Date.UTC(2026, 0, 12, 10, 0, 1) });
    expect(alert.rule).toMatchObject({
      id: '6d1f0c9a-2b3e-4f5a-8c7d-1e2f3a4b5c6d', uuid: '6d1f0c9a-2b3e-4f5a-8c7d-1e2f3a4b5c6d', name: 'Script Download by a Package Manager Descendant',
      version: '1.0.3', reference: 'https://example.org/advisory/1', ruleset: 'defend', license: 'Elastic License v2', author: [],
    });
    expect(alert.event).toMatchObject({ kind: 'alert', severity: 47, risk_score: 47 });
    expect(alert.threat).toEqual({
      framework: 'MITRE ATT&CK',
      tactic: { id: ['TA0011'], name: ['Command and Control'], reference: ['https://attack.mitre.org/tactics/TA0011/'] },
      technique: { id: ['T1105'], name: ['Ingress Tool Transfer'], reference: ['https://attack.mitre.org/techniques/T1105/'] },
    });
    expect(alert.execwarden?.rule).toEqual({
      actions: [{ action: 'kill_process', field: 'process.entity_id', state: 0 }, { action: 'kill_process', field: 'process.parent.entity_id', state: 0 }],
    });
    expect(alert.process).toMatchObject({ name: 'curl', pid: 102 });
    expect(ecsProblems(alert as unknown as Record<string, unknown>, ['execwarden'])).toEqual([]);
  });

  it('a detection-rules alert is unchanged: version is the updated date, no actions', () => {
    const set = new RuleSet([loaded(VALID_RULE, 'r.toml')].map((r) => ({ ...r })));
    const whoami = execEvent({ name: 'whoami', args: ['whoami'], parent: { name: 'nginx', args: ['nginx'] } });
    const alert = buildAlert(set.evaluate(whoami)[0]!, { nowMs: () => 0 });
    expect(alert.rule.version).toBe('2026/01/13');
    expect(alert.execwarden?.rule).toBeUndefined();
  });
});

describe('agent config: [rules] defend_severity and defend_risk_score', () => {
  it('are absent by default, so the built-in defaults apply', () => {
    expect(resolveConfig({}, null).rules).not.toHaveProperty('defend');
  });

  it('take a severity (bringing its usual risk score) and a risk score', () => {
    expect(resolveConfig({ rules: { defend_severity: 'high' } }, null).rules.defend).toEqual({ severity: 'high', riskScore: 73 });
    expect(resolveConfig({ rules: { defend_risk_score: 60 } }, null).rules.defend).toEqual({ severity: 'medium', riskScore: 60 });
    expect(resolveConfig({ rules: { defend_severity: 'low', defend_risk_score: 30 } }, null).rules.defend).toEqual({ severity: 'low', riskScore: 30 });
  });

  it.each([
    [{ defend_severity: 'urgent' }, 'rules.defend_severity: expected one of "low", "medium", "high", "critical"'],
    [{ defend_risk_score: 101 }, 'rules.defend_risk_score: expected an integer from 0 to 100'],
    [{ defend_risk_score: '47' }, 'rules.defend_risk_score: expected an integer from 0 to 100'],
  ])('reject %o', (rules, message) => {
    expect(() => resolveConfig({ rules }, 'c.toml')).toThrow(message);
  });
});
