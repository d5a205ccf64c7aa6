/**
 * One call from paths to a ready RuleSet: loads the rules (the bundled ones when no path is
 * given) and the optional exceptions file, and gathers every diagnostic. The set is built only
 * when nothing is in error, so a caller reloading on SIGHUP keeps its running set otherwise. No
 * rule at all is an error too, unless asked for (`allowEmpty`).
 */
import { hasErrors, RuleDiagnosticCode, type RuleDiagnostic } from './diagnostics.js';
import { bundledRulesDir } from './bundled.js';
import { loadExceptions, unknownExceptionRules, type ExceptionLoadResult } from './exceptions.js';
import { loadRules, type LoadRulesOptions, type RuleLoadResult } from './loader.js';
import { RuleSet, type RuleSetOptions } from './rule-set.js';

export interface LoadRuleSetOptions extends LoadRulesOptions {
  /** Rule files and folders; default: the bundled rules. */
  paths?: readonly string[];
  /**
   * A set with no rule at all is an error unless this is true: an agent that loaded nothing
   * alerts on nothing, which must be a choice, never the result of an emptied folder.
   */
  allowEmpty?: boolean;
  exceptionsFile?: string;
  ruleSet?: Omit<RuleSetOptions, 'exceptions'>;
}

export interface RuleSetLoadResult {
  /** Null when any diagnostic is an error. */
  ruleSet: RuleSet | null;
  rules: RuleLoadResult;
  exceptions: ExceptionLoadResult | null;
  /** Rule diagnostics, then exception diagnostics. */
  diagnostics: RuleDiagnostic[];
  /** The rules' per-rule notes (loader.ts); `diagnostics` holds their summaries. */
  notes: RuleDiagnostic[];
  ok: boolean;
}

export async function loadRuleSet(options: LoadRuleSetOptions = {}): Promise<RuleSetLoadResult> {
  const paths = options.paths !== undefined && options.paths.length > 0 ? options.paths : [bundledRulesDir()];
  const rules = await loadRules(paths, options);
  const exceptions = options.exceptionsFile === undefined ? null : await loadExceptions(options.exceptionsFile, options);
  const diagnostics = [...rules.diagnostics, ...(exceptions?.diagnostics ?? [])];
  if (exceptions !== null) diagnostics.push(...unknownExceptionRules(exceptions.exceptions, new Set(rules.rules.map((r) => r.ruleId))));
  if (rules.rules.length === 0 && options.allowEmpty !== true && !hasErrors(diagnostics)) {
    diagnostics.push({
      severity: 'error',
      code: RuleDiagnosticCode.NoRules,
      file: paths.join(', '),
      line: 1,
      column: 1,
      message: 'no rules to run: an agent without rules alerts on nothing (set [rules] allow_empty = true if that is intended)',
    });
  }
  const ok = !hasErrors(diagnostics);
  const ruleSet = ok ? new RuleSet(rules.rules, { ...options.ruleSet, ...(exceptions === null ? {} : { exceptions: exceptions.exceptions }) }) : null;
  return { ruleSet, rules, exceptions, diagnostics, notes: rules.notes, ok };
}
