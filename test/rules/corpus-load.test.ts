import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, loadRules, RuleDiagnosticCode } from '../../src/rules/index.js';
import { describeWithCorpus, CORPUS_DIR } from '../support/corpus.js';

const CORPUS = CORPUS_DIR;
const FOLDERS = ['elastic-linux-process', 'elastic-linux-sequence'];

function tomlCount(folder: string): number {
  return readdirSync(join(CORPUS, folder)).filter((f) => f.endsWith('.toml')).length;
}

describeWithCorpus("Elastic's Linux process rules (corpus)", () => {
  it('load and compile, all 266, with no errors', async () => {
    const result = await loadRules(FOLDERS.map((f) => join(CORPUS, f)));
    const errors = result.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
    expect(errors).toEqual([]);
    expect(tomlCount(FOLDERS[0]!) + tomlCount(FOLDERS[1]!)).toBe(266);
    expect(result.rules).toHaveLength(266);
    expect(result.rules.filter((r) => r.compiled.kind === 'sequence')).toHaveLength(30);
    expect(new Set(result.rules.map((r) => r.ruleset))).toEqual(new Set(FOLDERS));
  });

  it('warn about fields execwarden never fills, naming them, and about rules that can never match here', async () => {
    const result = await loadRules([join(CORPUS, 'elastic-linux-process')]);
    const unfilled = result.diagnostics.filter((d) => d.code === RuleDiagnosticCode.UnfilledFields);
    expect(unfilled.length).toBeGreaterThan(0);
    expect(unfilled.every((d) => d.severity === 'warning' && d.line > 1)).toBe(true);
    expect(unfilled.some((d) => d.message.includes('auditd.data.syscall'))).toBe(true);
    const never = result.diagnostics.filter((d) => d.code === RuleDiagnosticCode.NeverMatches);
    expect(never.some((d) => d.message.includes('"load_module"') && d.line > 1)).toBe(true);
  });
});
