import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRuleSet, RuleDiagnosticCode } from '../../src/rules/index.js';

describe('a rule set with no rules', () => {
  const empty = mkdtempSync(join(tmpdir(), 'execwarden-empty-rules-'));
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  it('is refused with a coded error naming the paths', async () => {
    const result = await loadRuleSet({ paths: [empty] });
    expect(result.ok).toBe(false);
    expect(result.ruleSet).toBeNull();
    const error = result.diagnostics.find((d) => d.code === RuleDiagnosticCode.NoRules);
    expect(error).toMatchObject({ severity: 'error', file: empty });
    expect(error?.message).toMatch(/allow_empty/);
  });

  it('is taken when the config says so', async () => {
    const result = await loadRuleSet({ paths: [empty], allowEmpty: true });
    expect(result.ok).toBe(true);
    expect(result.ruleSet?.size).toBe(0);
  });
});
