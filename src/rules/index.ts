export { RuleDiagnosticCode, formatDiagnostic, hasErrors, type RuleDiagnostic, type DiagnosticSeverity } from './diagnostics.js';
export { FILLED_FIELDS, unfilledFields } from './filled-fields.js';
export { loadRules, loadRuleText, type LoadRulesOptions, type RuleLoadResult, type RuleTextResult, type QueryCompiler } from './loader.js';
export { ExceptionList, loadExceptions, loadExceptionsText, unknownExceptionRules, ANY_RULE, type RuleException, type ExceptionLoadResult, type ExceptionStats } from './exceptions.js';
export { RuleSet, type RuleMatch, type RuleSetOptions, type RuleSetStats } from './rule-set.js';
export { runRuleTests, runTestCase, parseTestCases, testFileFor, type RuleTestCase, type RuleTestReport, type RuleTestCaseResult } from './rule-tests.js';
export { BUNDLED_RULESET, bundledRulesDir, packageRoot } from './bundled.js';
export type { LoadedRule, RuleAction, RuleDefinition, RuleFormat, RuleSeverity, ThreatMapping, ThreatEntry, ThreatTechnique } from './rule-types.js';
export { DEFEND_RULE_DEFAULTS, type DefendRuleDefaults } from './behavior-rule-schema.js';
export { ruleFormatOf } from './rule-format.js';
export { loadRuleSet, type LoadRuleSetOptions, type RuleSetLoadResult } from './rule-set-loader.js';
export {
  EMPTY_SELECTION, SELECTION_LIMITS, commandLineSelection, isEmptySelection, mergeSelections, selectRules, selectionNameProblem, selectionTags,
  type DisabledRule, type RuleSelection, type SelectionName, type SelectionOutcome, type SelectionSource,
} from './rule-selection.js';
export { tomlSyntaxProblem, type TomlSyntaxProblem } from './toml-syntax.js';
