/**
 * Validates one parsed Elastic Defend behavior-rule document (elastic/protections-artifacts,
 * `behavior/rules/<os>/*.toml`) and returns the typed definition when nothing is in error:
 *
 *     [rule]              id (UUID), name, description, os_list, version, query (Defend's EQL
 *                         dialect); optional min_endpoint_version, reference, license,
 *                         optional_actions, and severity / risk_score (which Defend's files do
 *                         not have: the configured defaults apply, see DEFEND_RULE_DEFAULTS)
 *     [[actions]]         action, field, state: a response Defend performs (kill_process on
 *                         process.entity_id of stage N); listed in alerts, performed only with [response] kill_process
 *     [[threat]]          the ATT&CK mapping, shaped like detection-rules' [[rule.threat]]
 *     [internal]          Elastic's own bookkeeping; accepted as is
 *
 * A rule whose os_list does not name linux is skipped with a note (RULE0207): pointing the loader
 * at a whole protections-artifacts checkout loads the Linux rules and says how many others it
 * left. Unknown keys get a warning, as in detection-rules files.
 */
import { SEVERITY_SCORE } from '../alerts/severity.js';
import { RuleDiagnosticCode } from './diagnostics.js';
import { isRuleId, validateSeverity, validateThreat, type RuleSchemaOutcome } from './rule-schema.js';
import type { RuleAction, RuleSeverity } from './rule-types.js';
import type { TomlChecker, TomlTable } from './toml-checker.js';
import type { TomlPath } from './toml-positions.js';

/**
 * What a Defend rule's alert carries as severity and risk score, unless the agent config says
 * otherwise ([rules] defend_severity, defend_risk_score). Medium / 47 is what Elastic Security
 * itself gives a Defend behavior alert it has no severity for: its "Behavior - Detected - Elastic
 * Defend" rule, which turns those alerts into detection alerts, defaults to severity "medium" and
 * risk score 47. The rules are written to kill processes on Defend's own, richer events; run here
 * on execwarden's process events they are tuned for another sensor, so "high" would overstate how
 * sure an alert of theirs is.
 */
export const DEFEND_RULE_DEFAULTS: Readonly<DefendRuleDefaults> = Object.freeze({ severity: 'medium', riskScore: SEVERITY_SCORE.medium });

export interface DefendRuleDefaults {
  severity: RuleSeverity;
  riskScore: number;
}

/** The operating system whose rules load; others are skipped. */
export const DEFEND_OS = 'linux';

const TOP_LEVEL_KEYS = new Set(['rule', 'actions', 'threat', 'internal']);
const RULE_KEYS = new Set([
  'id', 'name', 'description', 'os_list', 'version', 'min_endpoint_version', 'reference', 'query', 'optional_actions',
  'license', 'severity', 'risk_score',
]);
const ACTION_KEYS = new Set(['action', 'field', 'state']);
/** Dotted numeric versions, as Elastic writes them ("1.0.4", "8.4.0"). */
const VERSION = /^\d+(\.\d+)*$/;
/** Most stages a sequence may have (the parser's `runs` bound times a generous number of terms). */
const MAX_STATE = 10_000;

/** A Defend rule skipped because it is for other systems: the systems it names. */
export interface OtherOsSkip {
  osList: string[];
}

export function validateBehaviorRule(
  doc: TomlTable,
  check: TomlChecker,
  defaults: DefendRuleDefaults = DEFEND_RULE_DEFAULTS,
): RuleSchemaOutcome | ({ status: 'skipped' } & OtherOsSkip) {
  check.unknownKeys(doc, [], TOP_LEVEL_KEYS);
  const rule = check.table(doc, ['rule'], true);
  if (rule === undefined) return { status: 'invalid' };

  const ruleId = check.matching(rule, ['rule', 'id'], true, isRuleId, 'a UUID');
  if (ruleId !== undefined) check.ruleId = ruleId;
  const osList = check.stringArray(rule, ['rule', 'os_list'], true, true);
  if (osList !== undefined && !osList.includes(DEFEND_OS)) {
    check.report('note', RuleDiagnosticCode.OtherOperatingSystem, ['rule', 'os_list'], `rule is for ${osList.join(', ')}, not ${DEFEND_OS}; skipped`);
    return { status: 'skipped', osList };
  }

  check.unknownKeys(rule, ['rule'], RULE_KEYS);
  const name = check.string(rule, ['rule', 'name'], true);
  const description = check.string(rule, ['rule', 'description'], true);
  const version = check.matching(rule, ['rule', 'version'], true, (v) => VERSION.test(v), 'a version such as "1.0.4"');
  const minEndpointVersion = check.matching(rule, ['rule', 'min_endpoint_version'], false, (v) => VERSION.test(v), 'a version such as "8.4.0"') ?? null;
  const references = check.stringArray(rule, ['rule', 'reference'], false) ?? [];
  const license = check.string(rule, ['rule', 'license'], false) ?? '';
  const query = check.string(rule, ['rule', 'query'], true);
  const { severity, riskScore } = validateSeverity(rule, check, false);
  // Responses Defend leaves to the policy; checked like [[actions]], not listed in alerts.
  actionList(rule, ['rule', 'optional_actions'], check);
  const actions = actionList(doc, ['actions'], check);
  const threat = validateThreat(doc, ['threat'], check);
  check.table(doc, ['internal'], false);

  if (check.errorCount > 0) return { status: 'invalid' };
  return {
    status: 'valid',
    definition: {
      format: 'defend',
      ruleId: ruleId!, name: name!, description: description!, author: [], license,
      severity: severity ?? defaults.severity, riskScore: riskScore ?? defaults.riskScore,
      query: query!, index: [], from: null, tags: [], references, falsePositives: [], threat: threat!,
      buildingBlockType: null, timestampOverride: null, tiebreakerField: null,
      maturity: '', creationDate: '', updatedDate: '',
      version: version!, actions, osList: osList!, minEndpointVersion,
    },
  };
}

/** An array of action tables at `path` (absent: none). */
function actionList(parent: TomlTable, path: TomlPath, check: TomlChecker): RuleAction[] {
  const tables = check.tableArray(parent, path, false);
  if (tables === undefined) return [];
  const actions: RuleAction[] = [];
  tables.forEach((table, i) => {
    const at: TomlPath = [...path, i];
    check.unknownKeys(table, at, ACTION_KEYS);
    const action = check.string(table, [...at, 'action'], true);
    const field = check.string(table, [...at, 'field'], true);
    const state = check.integer(table, [...at, 'state'], true, 0, MAX_STATE);
    if (action !== undefined && field !== undefined && state !== undefined) actions.push({ action, field, state });
  });
  return actions;
}
