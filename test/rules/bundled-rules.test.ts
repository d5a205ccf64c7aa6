import { describe, expect, it } from 'vitest';
import { bundledRulesDir, formatDiagnostic, loadRules, runRuleTests } from '../../src/rules/index.js';

const loaded = await loadRules([bundledRulesDir()]);

describe('bundled rules', () => {
  it('load with no diagnostics at all', () => {
    expect(loaded.diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(loaded.rules.length).toBeGreaterThanOrEqual(7);
  });

  it('include the seed rule under its published id', () => {
    const seed = loaded.rules.find((r) => r.ruleId === '259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39');
    expect(seed?.name).toBe('Potential Reverse Shell via Background Process');
  });

  for (const rule of loaded.rules) {
    describe(rule.name, () => {
      it('maps to MITRE ATT&CK with at least one technique', () => {
        expect(rule.threat.length).toBeGreaterThan(0);
        expect(rule.threat.every((t) => t.framework === 'MITRE ATT&CK')).toBe(true);
        expect(rule.threat.some((t) => t.technique.length > 0)).toBe(true);
      });

      it('passes its test cases, which include matching and non-matching events', async () => {
        const report = await runRuleTests(rule);
        expect(report.found, `missing ${report.testFile}`).toBe(true);
        expect(report.problems).toEqual([]);
        const failed = report.results.filter((r) => !r.passed).map((r) => `${r.case.name} (expected ${r.case.expect})`);
        expect(failed).toEqual([]);
        expect(report.results.some((r) => r.case.expect)).toBe(true);
        expect(report.results.some((r) => !r.case.expect)).toBe(true);
      });
    });
  }
});
