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

/** The validated content of a detection-rules TOML file, in camelCase. */
export interface RuleDefinition {
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
}

/** A rule ready to run: its definition, its compiled query and where it came from. */
export interface LoadedRule extends RuleDefinition {
  compiled: CompiledQuery;
  file: string;
  /** The rule set it belongs to (`execwarden` for the bundled rules, else the folder name). */
  ruleset: string;
}
