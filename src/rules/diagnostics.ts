/**
 * What loading rule and exception files reports instead of throwing: every problem found, each
 * with a stable code, the file, and the 1-based line and column it points at. Errors keep a rule
 * (or an exception entry) out of the set; warnings do not. Notes record what the loader did on
 * purpose for one rule (skipped a Defend rule for another system, loaded a rule that can never
 * match here); they are listed by `rules validate`, and the load result says each kind once as a
 * summary, so the agent's log does not get a line per rule of a large rule pack.
 *
 * Codes: RULE01xx reading and TOML syntax, RULE02xx schema, RULE03xx query, RULE04xx the set as a
 * whole (and the rule selection, rule-selection.ts), RULE05xx exceptions files.
 */
export const RuleDiagnosticCode = {
  PathNotFound: 'RULE0101',
  FileUnreadable: 'RULE0102',
  TomlSyntax: 'RULE0103',
  NoRuleFiles: 'RULE0104',
  MissingField: 'RULE0201',
  WrongType: 'RULE0202',
  InvalidValue: 'RULE0203',
  UnknownKey: 'RULE0204',
  UnsupportedRuleType: 'RULE0205',
  DeprecatedRule: 'RULE0206',
  OtherOperatingSystem: 'RULE0207',
  QuerySyntax: 'RULE0301',
  UnfilledFields: 'RULE0302',
  NeverMatches: 'RULE0303',
  DuplicateRuleId: 'RULE0401',
  NoRules: 'RULE0402',
  SelectionUnmatched: 'RULE0403',
  RulesDisabled: 'RULE0404',
  ExceptionUnknownRule: 'RULE0501',
} as const;
export type RuleDiagnosticCode = (typeof RuleDiagnosticCode)[keyof typeof RuleDiagnosticCode];

export type DiagnosticSeverity = 'error' | 'warning' | 'note';

export interface RuleDiagnostic {
  severity: DiagnosticSeverity;
  code: RuleDiagnosticCode;
  /** The file, or what else the diagnostic is about (`command line` for an option). */
  file: string;
  /** 1-based; 0 (with column 0) when there is no position to point at, as for a command-line option. */
  line: number;
  column: number;
  message: string;
  /** The rule the diagnostic is about, when the file got far enough to name one. */
  ruleId?: string;
}

/**
 * `file:line:column: error RULE0201 message` — the one text form, used by every command
 * (`file: …` alone when there is no position).
 */
export function formatDiagnostic(d: RuleDiagnostic): string {
  const rule = d.ruleId === undefined ? '' : ` (rule ${d.ruleId})`;
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.column}` : d.file;
  return `${where}: ${d.severity} ${d.code} ${d.message}${rule}`;
}

export function hasErrors(diagnostics: readonly RuleDiagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}
