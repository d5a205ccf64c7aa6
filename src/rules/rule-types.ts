import type { CompiledQuery } from '../eql/index.js';

export type RuleSeverity = 'low' | 'medium' | 'high' | 'critical';
export const RULE_SEVERITIES: readonly RuleSeverity[] = ['low', 'medium', 'high', 'critical'];

/** One ATT&CK (or other framework) entry: a tactic, technique or sub-technique. */
export interface ThreatEntry {
  id: string;
  name: string;
  reference: string;
}

export interface ThreatTechnique extends ThreatEntry {
  subtechnique: ThreatEntry[];
}

/** One `[[rule.threat]]` block. */
export interface ThreatMapping {
  framework: string;
  tactic: ThreatEntry;
  technique: ThreatTechnique[];
}

/**
 * The two rule file formats, told apart by content (rule-format.ts): Elastic's detection-rules
 * (`[metadata]` and `[rule]` with `rule_id`) and Elastic Defend's behavior rules (`[rule]` with
 * `id`, top-level `[[actions]]`, `[[threat]]`, `[internal]`; behavior-rule-schema.ts).
 */
export type RuleFormat = 'detection-rules' | 'defend';

/**
 * A response a Defend behavior rule asks for (`[[actions]]`). execwarden lists it in the rule's
 * alerts (`execwarden.rule.actions`) and performs kill_process only when `[response]
 * kill_process` is on (src/response/kill-response.ts).
 */
export interface RuleAction {
  /** What to do, e.g. "kill_process". */
  action: string;
  /** The field naming the target, e.g. "process.entity_id" or "process.parent.entity_id". */
  field: string;
  /** The sequence stage (0-based) whose event `field` is read from; 0 for an event query. */
  state: number;
}

/**
 * The validated content of a rule file, in camelCase: every field of a detection-rules file, and
 * what a Defend behavior rule has of them (fields it lacks are empty, its severity and risk score
 * are the configured defaults).
 */
export interface RuleDefinition {
  format: RuleFormat;
  ruleId: string;
  name: string;
  description: string;
  author: string[];
  license: string;
  severity: RuleSeverity;
  riskScore: number;
  /** The EQL text as written in the file. */
  query: string;
  index: string[];
  from: string | null;
  tags: string[];
  references: string[];
  falsePositives: string[];
  threat: ThreatMapping[];
  buildingBlockType: string | null;
  timestampOverride: string | null;
  tiebreakerField: string | null;
  maturity: string;
  creationDate: string;
  updatedDate: string;
  /** What alerts carry as rule.version: metadata.updated_date, or a Defend rule's `version`. */
  version: string;
  /** Defend's `[[actions]]`; empty for detection-rules files. */
  actions: RuleAction[];
  /** Defend's `os_list`; empty for detection-rules files. */
  osList: string[];
  /** Defend's `min_endpoint_version`; null for detection-rules files. */
  minEndpointVersion: string | null;
}

/** A rule ready to run: its definition, its compiled query and where it came from. */
export interface LoadedRule extends RuleDefinition {
  compiled: CompiledQuery;
  file: string;
  /** The rule set it belongs to (`execwarden` for the bundled rules, else the folder name). */
  ruleset: string;
  /** Why the rule can never match this agent's events (filled-fields.ts), or null when it can. */
  neverMatches: string | null;
}
