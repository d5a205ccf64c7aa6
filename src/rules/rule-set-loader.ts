/**
 * One call from paths to a ready RuleSet: loads the rules (the bundled ones when no path is
 * given) and the optional exceptions file, applies the rule selection (rule-selection.ts: the
 * rules it leaves out are not in the set, so they are never evaluated), and gathers every
 * diagnostic. The set is built only when nothing is in error, so a caller reloading on SIGHUP
 * keeps its running set otherwise. No rule to run is an error too, unless asked for
 * (`allowEmpty`), whether no rule was loaded or the selection left none.
 */
import { hasErrors, RuleDiagnosticCode, type RuleDiagnostic } from './diagnostics.js';
import { bundledRulesDir } from './bundled.js';
import { loadExceptions, unknownExceptionRules, type ExceptionLoadResult } from './exceptions.js';
import { loadRules, type LoadRulesOptions, type RuleLoadResult } from './loader.js';
import { RuleSet, type RuleSetOptions } from './rule-set.js';
import { EMPTY_SELECTION, selectRules, type DisabledRule, type RuleSelection } from './rule-selection.js';

export interface LoadRuleSetOptions extends LoadRulesOptions {
  /** Rule files and folders; default: the bundled rules. */
  paths?: readonly string[];
  /**
   * A set with no rule at all is an error unless this is true: an agent that loaded nothing
   * alerts on nothing, which must be a choice, never the result of an emptied folder.
   */
  allowEmpty?: boolean;
  exceptionsFile?: string;
  /** Which of the loaded rules run; default: all of them. */
  selection?: RuleSelection;
  ruleSet?: Omit<RuleSetOptions, 'exceptions'>;
}

export interface RuleSetLoadResult {
  /** Null when any diagnostic is an error. */
  ruleSet: RuleSet | null;
  /** Every rule loaded, the disabled ones included (rules.rules), and the files read. */
  rules: RuleLoadResult;
  /** The loaded rules the selection leaves out, with why, in load order. */
  disabled: DisabledRule[];
  exceptions: ExceptionLoadResult | null;
  /** Rule diagnostics, then the selection's (names matching no rule, what it left out), then exception diagnostics. */
  diagnostics: RuleDiagnostic[];
  /** The rules' per-rule notes (loader.ts); `diagnostics` holds their summaries. */
  notes: RuleDiagnostic[];
  ok: boolean;
}

export async function loadRuleSet(options: LoadRuleSetOptions = {}): Promise<RuleSetLoadResult> {
  const paths = options.paths !== undefined && options.paths.length > 0 ? options.paths : [bundledRulesDir()];
  const rules = await loadRules(paths, options);
  const exceptions = options.exceptionsFile === undefined ? null : await loadExceptions(options.exceptionsFile, options);
  const selection = selectRules(rules.rules, options.selection ?? EMPTY_SELECTION, paths.join(', '));
  const diagnostics = [...rules.diagnostics, ...selection.diagnostics, ...(exceptions?.diagnostics ?? [])];
  // An exception for a disabled rule is not for an unknown one: the rule may be enabled again.
  if (exceptions !== null) diagnostics.push(...unknownExceptionRules(exceptions.exceptions, new Set(rules.rules.map((r) => r.ruleId))));
  if (selection.selected.length === 0 && options.allowEmpty !== true && !hasErrors(diagnostics)) {
    const why =
      rules.rules.length === 0
        ? 'an agent without rules alerts on nothing'
        : `the rule selection leaves none of the ${rules.rules.length} loaded rules, and an agent without rules alerts on nothing`;
    diagnostics.push({
      severity: 'error',
      code: RuleDiagnosticCode.NoRules,
      file: paths.join(', '),
      // No place in a file: the paths as a whole hold nothing to run.
      line: 0,
      column: 0,
      message: `no rules to run: ${why} (set [rules] allow_empty = true if that is intended)`,
    });
  }
  const ok = !hasErrors(diagnostics);
  const ruleSet = ok ? new RuleSet(selection.selected, { ...options.ruleSet, ...(exceptions === null ? {} : { exceptions: exceptions.exceptions }) }) : null;
  return { ruleSet, rules, disabled: selection.disabled, exceptions, diagnostics, notes: rules.notes, ok };
}
