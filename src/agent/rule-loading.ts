/**
 * Loads the agent's rule set: the rule paths (the bundled rules/ when none are given) plus the
 * optional exceptions file, into one RuleSet, with every diagnostic of both. `ok` is false when
 * any error was found; the caller decides whether that stops start-up or keeps the old set
 * (reload).
 */
import {
  bundledRulesDir,
  hasErrors,
  loadExceptions,
  loadRules,
  RuleSet,
  unknownExceptionRules,
  type RuleDiagnostic,
} from '../rules/index.js';
import { ExceptionList } from '../rules/exceptions.js';

export interface RuleSetLoad {
  ruleSet: RuleSet;
  diagnostics: RuleDiagnostic[];
  ok: boolean;
  files: number;
  paths: string[];
}

export async function loadRuleSet(paths: readonly string[], exceptionsFile: string | null): Promise<RuleSetLoad> {
  const effective = paths.length > 0 ? [...paths] : [bundledRulesDir()];
  const loaded = await loadRules(effective);
  const diagnostics = [...loaded.diagnostics];
  let exceptions = ExceptionList.empty();
  if (exceptionsFile !== null) {
    const result = await loadExceptions(exceptionsFile);
    diagnostics.push(...result.diagnostics);
    exceptions = result.exceptions;
    diagnostics.push(...unknownExceptionRules(exceptions, new Set(loaded.rules.map((rule) => rule.ruleId))));
  }
  return {
    ruleSet: new RuleSet(loaded.rules, { exceptions }),
    diagnostics,
    ok: !hasErrors(diagnostics),
    files: loaded.files.length,
    paths: effective,
  };
}
