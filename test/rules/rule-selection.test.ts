/**
 * Rule selection: which loaded rules run, by id and by tag, in both rule formats; names that
 * match no rule are warnings that say where they were written; rules left out never reach the
 * rule set.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  commandLineSelection, EMPTY_SELECTION, formatDiagnostic, loadRuleSet, mergeSelections, RuleDiagnosticCode, selectionNameProblem,
  selectionTags, selectRules, type LoadedRule, type RuleSelection,
} from '../../src/rules/index.js';
import { edit, VALID_RULE } from './fixtures.js';
import { execEvent } from './support/exec-event.js';

const WHOAMI = '0f3b1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const DEFEND_ID = '6d1f0c9a-2b3e-4f5a-8c7d-1e2f3a4b5c6d';
const TAGGED_ID = '7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4e';

/** A Defend behavior rule (no tags in its file) mapped to Command and Control. */
const DEFEND_RULE = `[rule]
description = "curl or wget started by a shell."
id = "${DEFEND_ID}"
license = "Elastic License v2"
name = "Download by a Shell"
os_list = ["linux"]
version = "1.0.0"
query = '''
process where event.type == "start" and event.action == "exec" and process.name in ("curl", "wget") and process.parent.name == "bash"
'''

[[threat]]
framework = "MITRE ATT&CK"
[threat.tactic]
id = "TA0011"
name = "Command and Control"
reference = "https://attack.mitre.org/tactics/TA0011/"
`;

/** A detection rule with its own tags, one of them "Noisy". */
const TAGGED_RULE = edit(
  edit(edit(VALID_RULE, `rule_id = "${WHOAMI}"`, `rule_id = "${TAGGED_ID}"\ntags = ["OS: Linux", "Noisy"]`), 'name = "Whoami from a web server"', 'name = "Id from a web server"'),
  'process.name == "whoami"',
  'process.name == "id"',
);

const dir = mkdtempSync(join(tmpdir(), 'execwarden-selection-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const rulesDir = join(dir, 'rules');
mkdirSync(rulesDir);
writeFileSync(join(rulesDir, 'a_whoami.toml'), VALID_RULE);
writeFileSync(join(rulesDir, 'b_defend.toml'), DEFEND_RULE);
writeFileSync(join(rulesDir, 'c_tagged.toml'), TAGGED_RULE);

const whoamiEvent = execEvent({ name: 'whoami', args: ['whoami'], parent: { name: 'nginx', args: ['nginx'] } });
const curlEvent = execEvent({ name: 'curl', args: ['curl', 'http://x/a.sh'], parent: { name: 'bash', args: ['bash'] } });
const idEvent = execEvent({ name: 'id', args: ['id'], parent: { name: 'nginx', args: ['nginx'] } });

function named(values: string[], setting: string, line = 3) {
  return values.map((value) => ({ value, from: { file: '/etc/execwarden/config.toml', line, column: 1, setting } }));
}

function selection(parts: Partial<Record<keyof RuleSelection, string[]>>): RuleSelection {
  return {
    enableRules: named(parts.enableRules ?? [], 'rules.enable'),
    enableTags: named(parts.enableTags ?? [], 'rules.enable_tags'),
    disableRules: named(parts.disableRules ?? [], 'rules.disable'),
    disableTags: named(parts.disableTags ?? [], 'rules.disable_tags'),
  };
}

async function loaded(): Promise<LoadedRule[]> {
  const result = await loadRuleSet({ paths: [rulesDir] });
  expect(result.ok).toBe(true);
  return result.rules.rules;
}

const ids = (rules: readonly LoadedRule[]) => rules.map((rule) => rule.ruleId);

describe('rule selection', () => {
  it('gives every rule its own tags and "Tactic: <name>" per ATT&CK tactic, Defend rules included', async () => {
    const [whoami, defend, tagged] = await loaded();
    expect(selectionTags(whoami!)).toEqual(['Tactic: Discovery']);
    expect(defend!.format).toBe('defend');
    expect(defend!.tags).toEqual([]);
    expect(selectionTags(defend!)).toEqual(['Tactic: Command and Control']);
    expect(selectionTags(tagged!)).toEqual(['OS: Linux', 'Noisy', 'Tactic: Discovery']);
  });

  it('runs every rule when nothing is named', async () => {
    const rules = await loaded();
    expect(selectRules(rules, EMPTY_SELECTION, rulesDir)).toEqual({ selected: rules, disabled: [], diagnostics: [] });
  });

  it.each([
    ['disable by id, whatever its case', { disableRules: [DEFEND_ID.toUpperCase()] }, [WHOAMI, TAGGED_ID]],
    ['disable by tag, case-insensitively', { disableTags: ['noisy'] }, [WHOAMI, DEFEND_ID]],
    ['disable a Defend rule by its tactic', { disableTags: ['Tactic: Command and Control'] }, [WHOAMI, TAGGED_ID]],
    ['enable by tag only those carrying it', { enableTags: ['Tactic: Discovery'] }, [WHOAMI, TAGGED_ID]],
    ['enable by id only that rule', { enableRules: [DEFEND_ID] }, [DEFEND_ID]],
    ['enable ids and tags together: either', { enableRules: [DEFEND_ID], enableTags: ['Noisy'] }, [DEFEND_ID, TAGGED_ID]],
    ['disabling wins over enabling', { enableTags: ['Tactic: Discovery'], disableRules: [TAGGED_ID] }, [WHOAMI]],
    ['a disabled tag wins over an enabled id', { enableRules: [TAGGED_ID, WHOAMI], disableTags: ['Noisy'] }, [WHOAMI]],
  ])('%s', async (_name, parts, expected) => {
    const rules = await loaded();
    const outcome = selectRules(rules, selection(parts), rulesDir);
    expect(ids(outcome.selected)).toEqual(expected);
    expect(ids(outcome.disabled.map((d) => d.rule))).toEqual(ids(rules).filter((id) => !expected.includes(id)));
    expect(outcome.diagnostics.filter((d) => d.severity === 'warning')).toEqual([]);
  });

  it('says why each rule is left out, and sums it up once', async () => {
    const rules = await loaded();
    const outcome = selectRules(rules, selection({ enableTags: ['Tactic: Discovery'], disableTags: ['Noisy'] }), rulesDir);
    expect(outcome.disabled.map((d) => [d.rule.ruleId, d.reason])).toEqual([
      [DEFEND_ID, 'not enabled: neither its id nor any of its tags is enabled'],
      [TAGGED_ID, 'disabled by rules.disable_tags "Noisy"'],
    ]);
    expect(outcome.diagnostics).toEqual([
      {
        severity: 'note', code: RuleDiagnosticCode.RulesDisabled, file: rulesDir, line: 0, column: 0,
        message: '1 of 3 loaded rules run; 2 left out by the rule selection (1 not enabled, 1 by rules.disable_tags)',
      },
    ]);
    expect(formatDiagnostic(outcome.diagnostics[0]!)).toBe(`${rulesDir}: note RULE0404 ${outcome.diagnostics[0]!.message}`);
  });

  it('warns about every id and tag that names no loaded rule, where it was written', async () => {
    const rules = await loaded();
    const fromFile = selection({ disableRules: ['0f3b1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c4f', WHOAMI], disableTags: ['Nosiy'] });
    const fromCommandLine = commandLineSelection({ enableTags: ['Tactic: Impact', 'tactic: discovery'] });
    const outcome = selectRules(rules, mergeSelections(fromFile, fromCommandLine), rulesDir);
    const warnings = outcome.diagnostics.filter((d) => d.severity === 'warning');
    expect(warnings.map(formatDiagnostic)).toEqual([
      'command line: warning RULE0403 --enable-tag: no loaded rule carries the tag "Tactic: Impact"',
      '/etc/execwarden/config.toml:3:1: warning RULE0403 rules.disable: no loaded rule has the id "0f3b1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c4f"',
      '/etc/execwarden/config.toml:3:1: warning RULE0403 rules.disable_tags: no loaded rule carries the tag "Nosiy"',
    ]);
    // The misspelt ones disabled nothing; the right ones did their work.
    expect(ids(outcome.selected)).toEqual([TAGGED_ID]);
  });

  it('refuses names that cannot be ids or tags', () => {
    expect(selectionNameProblem('Tactic: Execution')).toBeNull();
    expect(selectionNameProblem(' ')).toBe('must not be empty');
    expect(selectionNameProblem('x'.repeat(256))).toBeNull();
    expect(selectionNameProblem('x'.repeat(257))).toBe('is longer than 256 characters');
    expect(selectionNameProblem('a\nb')).toBe('must not contain control characters');
  });
});

describe('loadRuleSet with a selection', () => {
  it('leaves the disabled rules out of the rule set: they are never evaluated', async () => {
    const result = await loadRuleSet({ paths: [rulesDir], selection: selection({ disableRules: [WHOAMI] }) });
    expect(result.ok).toBe(true);
    expect(result.rules.rules).toHaveLength(3);
    expect(result.ruleSet!.size).toBe(2);
    expect(ids(result.ruleSet!.rules)).toEqual([DEFEND_ID, TAGGED_ID]);
    expect(result.disabled.map((d) => [d.rule.ruleId, d.reason])).toEqual([[WHOAMI, 'disabled by rules.disable']]);
    const ruleSet = result.ruleSet!;
    expect(ruleSet.candidates(whoamiEvent).map((r) => r.ruleId)).not.toContain(WHOAMI);
    expect(ruleSet.evaluate(whoamiEvent)).toEqual([]);
    expect(ruleSet.evaluate(curlEvent).map((m) => m.rule.ruleId)).toEqual([DEFEND_ID]);
    expect(ruleSet.evaluate(idEvent).map((m) => m.rule.ruleId)).toEqual([TAGGED_ID]);
    expect(ruleSet.stats().matchesByRule).toEqual({ [DEFEND_ID]: 1, [TAGGED_ID]: 1 });
    expect(result.diagnostics.map((d) => d.code)).toEqual([RuleDiagnosticCode.RulesDisabled]);
  });

  it('refuses a selection that leaves no rule to run, unless empty sets are allowed', async () => {
    const none = selection({ enableTags: ['Tactic: Impact'] });
    const refused = await loadRuleSet({ paths: [rulesDir], selection: none });
    expect(refused.ruleSet).toBeNull();
    expect(refused.diagnostics.map((d) => [d.severity, d.code])).toEqual([
      ['warning', RuleDiagnosticCode.SelectionUnmatched],
      ['note', RuleDiagnosticCode.RulesDisabled],
      ['error', RuleDiagnosticCode.NoRules],
    ]);
    expect(refused.diagnostics[2]!.message).toBe(
      'no rules to run: the rule selection leaves none of the 3 loaded rules, and an agent without rules alerts on nothing (set [rules] allow_empty = true if that is intended)',
    );
    const allowed = await loadRuleSet({ paths: [rulesDir], selection: none, allowEmpty: true });
    expect(allowed.ruleSet?.size).toBe(0);
  });

  it('does not call an exception for a disabled rule one for an unknown rule', async () => {
    const exceptions = join(dir, 'exceptions.toml');
    writeFileSync(exceptions, `[[exception]]\nrule_id = "${WHOAMI}"\nquery = 'process.parent.name == "nginx"'\ncomment = "known"\n`);
    const result = await loadRuleSet({ paths: [rulesDir], exceptionsFile: exceptions, selection: selection({ disableRules: [WHOAMI] }) });
    expect(result.ok).toBe(true);
    expect(result.diagnostics.filter((d) => d.code === RuleDiagnosticCode.ExceptionUnknownRule)).toEqual([]);
  });
});
