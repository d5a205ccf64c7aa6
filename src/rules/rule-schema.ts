/**
 * Validates one parsed detection-rules TOML document ([metadata] and [rule]) the way Elastic's
 * detection-rules schema shapes it, and returns the typed definition when nothing is in error.
 * Keys Elastic's schema knows but execwarden does not use are accepted silently; other keys get
 * a warning. Rules of another type than EQL, and deprecated rules, are skipped with a warning, so
 * pointing the loader at a whole detection-rules checkout works.
 */
import { RuleDiagnosticCode } from './diagnostics.js';
import { RULE_SEVERITIES, type RuleDefinition, type RuleSeverity, type ThreatEntry, type ThreatMapping, type ThreatTechnique } from './rule-types.js';
import { isTable, type TomlChecker, type TomlTable } from './toml-checker.js';
import type { TomlPath } from './toml-positions.js';

const METADATA_KEYS = new Set([
  'creation_date', 'updated_date', 'maturity', 'integration', 'min_stack_version', 'min_stack_comments',
  'deprecation_date', 'comments', 'query_schema_validation', 'bypass_bbr_timing',
]);

const RULE_KEYS = new Set([
  'actions', 'alert_suppression', 'author', 'building_block_type', 'concurrent_searches', 'data_view_id',
  'description', 'enabled', 'event_category_override', 'exceptions_list', 'false_positives', 'filters', 'from',
  'index', 'interval', 'investigation_fields', 'items_per_search', 'language', 'license', 'max_signals', 'meta',
  'name', 'namespace', 'note', 'output_index', 'query', 'references', 'related_integrations', 'required_fields',
  'risk_score', 'risk_score_mapping', 'rule_id', 'rule_name_override', 'setup', 'severity', 'severity_mapping',
  'tags', 'threat', 'throttle', 'tiebreaker_field', 'timeline_id', 'timeline_title', 'timestamp_field',
  'timestamp_override', 'to', 'type', 'version',
]);

const TOP_LEVEL_KEYS = new Set(['metadata', 'rule', 'transform', 'hunt']);

const MATURITIES = new Set(['production', 'development', 'experimental', 'deprecated']);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RULE_DATE = /^(\d{4})\/(\d{2})\/(\d{2})$/;
const MITRE_FRAMEWORK = 'MITRE ATT&CK';
const MITRE = {
  tactic: { id: /^TA\d{4}$/, reference: /^https:\/\/attack\.mitre\.org\/tactics\/TA\d{4}\/?$/ },
  technique: { id: /^T\d{4}$/, reference: /^https:\/\/attack\.mitre\.org\/techniques\/T\d{4}\/?$/ },
  subtechnique: { id: /^T\d{4}\.\d{3}$/, reference: /^https:\/\/attack\.mitre\.org\/techniques\/T\d{4}\/\d{3}\/?$/ },
} as const;

export function isRuleId(value: string): boolean {
  return UUID.test(value);
}

function isRuleDate(value: string): boolean {
  const m = RULE_DATE.exec(value);
  if (m === null) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

export type RuleSchemaOutcome =
  | { status: 'valid'; definition: RuleDefinition }
  | { status: 'invalid' }
  | { status: 'skipped' };

export function validateRuleDocument(doc: TomlTable, check: TomlChecker): RuleSchemaOutcome {
  check.unknownKeys(doc, [], TOP_LEVEL_KEYS);
  const metadata = check.table(doc, ['metadata'], true);
  const rule = check.table(doc, ['rule'], true);
  if (rule === undefined) return { status: 'invalid' };

  const ruleId = check.matching(rule, ['rule', 'rule_id'], true, isRuleId, 'a UUID');
  if (ruleId !== undefined) check.ruleId = ruleId;

  const type = check.string(rule, ['rule', 'type'], true);
  if (type !== undefined && type !== 'eql') {
    check.report('warning', RuleDiagnosticCode.UnsupportedRuleType, ['rule', 'type'], `rule type "${type}" is not supported (only eql); rule skipped`);
    return { status: 'skipped' };
  }

  let maturity: string | undefined;
  let creationDate: string | undefined;
  let updatedDate: string | undefined;
  if (metadata !== undefined) {
    check.unknownKeys(metadata, ['metadata'], METADATA_KEYS);
    creationDate = check.matching(metadata, ['metadata', 'creation_date'], true, isRuleDate, 'a date as YYYY/MM/DD');
    updatedDate = check.matching(metadata, ['metadata', 'updated_date'], true, isRuleDate, 'a date as YYYY/MM/DD');
    maturity = check.matching(metadata, ['metadata', 'maturity'], true, (v) => MATURITIES.has(v), `one of ${[...MATURITIES].join(', ')}`);
    check.stringArray(metadata, ['metadata', 'integration'], false);
    if (creationDate !== undefined && updatedDate !== undefined && updatedDate < creationDate) {
      check.report('warning', RuleDiagnosticCode.InvalidValue, ['metadata', 'updated_date'], 'metadata.updated_date is before metadata.creation_date');
    }
    if (maturity === 'deprecated') {
      check.report('warning', RuleDiagnosticCode.DeprecatedRule, ['metadata', 'maturity'], 'rule is deprecated; skipped');
      return { status: 'skipped' };
    }
  }

  check.unknownKeys(rule, ['rule'], RULE_KEYS);
  const author = check.stringArray(rule, ['rule', 'author'], true, true);
  const description = check.string(rule, ['rule', 'description'], true);
  const name = check.string(rule, ['rule', 'name'], true);
  const license = check.string(rule, ['rule', 'license'], true);
  const { severity, riskScore } = validateSeverity(rule, check, true);
  check.matching(rule, ['rule', 'language'], true, (v) => v === 'eql', '"eql"');
  const query = check.string(rule, ['rule', 'query'], true);
  const index = check.stringArray(rule, ['rule', 'index'], false) ?? [];
  const from = check.string(rule, ['rule', 'from'], false) ?? null;
  const tags = check.stringArray(rule, ['rule', 'tags'], false) ?? [];
  const references = check.stringArray(rule, ['rule', 'references'], false) ?? [];
  const falsePositives = check.stringArray(rule, ['rule', 'false_positives'], false) ?? [];
  const buildingBlockType = check.string(rule, ['rule', 'building_block_type'], false) ?? null;
  const timestampOverride = check.string(rule, ['rule', 'timestamp_override'], false) ?? null;
  const tiebreakerField = check.string(rule, ['rule', 'tiebreaker_field'], false) ?? null;
  check.integer(rule, ['rule', 'max_signals'], false, 1, Number.MAX_SAFE_INTEGER);
  const threat = validateThreat(rule, ['rule', 'threat'], check);

  if (check.errorCount > 0) return { status: 'invalid' };
  return {
    status: 'valid',
    definition: {
      format: 'detection-rules',
      ruleId: ruleId!, name: name!, description: description!, author: author!, license: license!,
      severity: severity!, riskScore: riskScore!, query: query!, index, from, tags, references, falsePositives,
      threat: threat!, buildingBlockType, timestampOverride, tiebreakerField,
      maturity: maturity!, creationDate: creationDate!, updatedDate: updatedDate!,
      version: updatedDate!, actions: [], osList: [], minEndpointVersion: null,
    },
  };
}

/** The rule's severity and risk score, each checked as detection-rules has them. */
export function validateSeverity(rule: TomlTable, check: TomlChecker, required: boolean): { severity: RuleSeverity | undefined; riskScore: number | undefined } {
  const severity = check.matching(rule, ['rule', 'severity'], required, (v) => (RULE_SEVERITIES as readonly string[]).includes(v), RULE_SEVERITIES.join(', ')) as RuleSeverity | undefined;
  const riskScore = check.integer(rule, ['rule', 'risk_score'], required, 0, 100);
  return { severity, riskScore };
}

/**
 * The ATT&CK (or other framework) mapping stored as an array of tables at `path`: `rule.threat`
 * in detection-rules files, top-level `threat` in Defend's. Undefined when it is malformed.
 */
export function validateThreat(parent: TomlTable, path: TomlPath, check: TomlChecker): ThreatMapping[] | undefined {
  const blocks = check.tableArray(parent, path, false);
  if (blocks === undefined) return parent[path[path.length - 1] as string] === undefined ? [] : undefined;
  const mappings: ThreatMapping[] = [];
  blocks.forEach((block, i) => {
    const at: TomlPath = [...path, i];
    check.unknownKeys(block, at, new Set(['framework', 'tactic', 'technique']));
    const framework = check.string(block, [...at, 'framework'], true);
    if (framework === undefined) return;
    const mitre = framework === MITRE_FRAMEWORK;
    const tacticTable = check.table(block, [...at, 'tactic'], true);
    const tactic = tacticTable && threatEntry(tacticTable, [...at, 'tactic'], check, mitre ? MITRE.tactic : null);
    const technique: ThreatTechnique[] = [];
    const techniques = check.tableArray(block, [...at, 'technique'], false) ?? [];
    techniques.forEach((t, j) => {
      const tPath: TomlPath = [...at, 'technique', j];
      const entry = threatEntry(t, tPath, check, mitre ? MITRE.technique : null, ['subtechnique']);
      const subtechnique: ThreatEntry[] = [];
      (check.tableArray(t, [...tPath, 'subtechnique'], false) ?? []).forEach((s, k) => {
        const sub = threatEntry(s, [...tPath, 'subtechnique', k], check, mitre ? MITRE.subtechnique : null);
        if (sub === undefined) return;
        if (entry !== undefined && mitre && !sub.id.startsWith(`${entry.id}.`)) {
          check.report('error', RuleDiagnosticCode.InvalidValue, [...tPath, 'subtechnique', k, 'id'], `sub-technique ${sub.id} does not belong to technique ${entry.id}`);
        }
        subtechnique.push(sub);
      });
      if (entry !== undefined) technique.push({ ...entry, subtechnique });
    });
    if (tactic !== undefined) mappings.push({ framework, tactic, technique });
  });
  return mappings;
}

function threatEntry(
  table: TomlTable,
  path: TomlPath,
  check: TomlChecker,
  shape: { id: RegExp; reference: RegExp } | null,
  extraKeys: string[] = [],
): ThreatEntry | undefined {
  if (!isTable(table)) return undefined;
  check.unknownKeys(table, path, new Set(['id', 'name', 'reference', ...extraKeys]));
  const id = shape === null ? check.string(table, [...path, 'id'], true) : check.matching(table, [...path, 'id'], true, (v) => shape.id.test(v), `an id like ${shape.id.source}`);
  const name = check.string(table, [...path, 'name'], true);
  const reference = shape === null
    ? check.string(table, [...path, 'reference'], true)
    : check.matching(table, [...path, 'reference'], true, (v) => shape.reference.test(v), 'an attack.mitre.org URL for the same kind of entry');
  if (id === undefined || name === undefined || reference === undefined) return undefined;
  if (shape !== null && !reference.replace(/\/$/, '').endsWith(id.replace('.', '/'))) {
    check.report('error', RuleDiagnosticCode.InvalidValue, [...path, 'reference'], `reference ${reference} does not point at ${id}`);
  }
  return { id, name, reference };
}
