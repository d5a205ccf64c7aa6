/**
 * `execwarden rules validate|list|test [PATH…]`: the rule files' own tools. Each defaults to the
 * bundled rules, and reads detection-rules and Elastic Defend behavior-rule files alike. validate
 * prints every diagnostic and every per-rule note (a Defend rule skipped for another system, a
 * rule that never matches on this agent), in file order, and exits 1 when one is an error; list
 * prints id, severity, tactics and name, the name followed by why when the rule never matches
 * here or the rule selection leaves it out; test runs the test cases kept beside each rule
 * (tests/<stem>.ndjson, see src/rules/rule-tests.ts) of the rules the selection keeps, and exits 1
 * when one fails.
 *
 * list and test take the rule selection `run` takes (--enable-rule, --enable-tag, --disable-rule,
 * --disable-tag, and --config for a config file's [rules]), so what they show is what the agent
 * would run; list's own filters (--id, --tag, --severity, --format) only choose what is shown.
 */
import type { Command } from 'commander';
import { loadAgentConfig, loadConfiguredRules, resolveConfig } from '../agent/config.js';
import { formatDiagnostic, RuleDiagnosticCode, type RuleDiagnostic } from '../rules/diagnostics.js';
import { selectionTags } from '../rules/rule-selection.js';
import { loadRuleSet } from '../rules/rule-set-loader.js';
import { runRuleTests } from '../rules/rule-tests.js';
import type { LoadedRule, RuleFormat, RuleSeverity } from '../rules/rule-types.js';
import { EXIT_FAILURE, EXIT_OK } from './exit.js';
import type { CommandIo } from './io.js';
import { writeJsonLine, writeText } from './ndjson.js';
import { atLeastSeverity } from '../outputs/severity.js';

export interface RulesValidateOptions {
  paths: string[];
  exceptions?: string;
}

export interface RulesValidateResult {
  exitCode: number;
  rules: number;
  errors: number;
  warnings: number;
  /** Rules loaded that can never match this agent's events. */
  neverMatch: number;
  diagnostics: RuleDiagnostic[];
  notes: RuleDiagnostic[];
}

/**
 * The rule selection options of `rules list|test` (and `run`): ids and tags, each repeatable, and
 * `--config` to start from a config file's [rules] (its paths when none are given, its selection,
 * its Defend severity); the options add to the file's selection.
 */
export interface RuleSelectionOptions {
  config?: string;
  enableRules?: string[];
  enableTags?: string[];
  disableRules?: string[];
  disableTags?: string[];
}

/** The rule selection options as commander parses them (see addRuleSelectionOptions). */
export interface RuleSelectionFlags {
  enableRule?: string[];
  enableTag?: string[];
  disableRule?: string[];
  disableTag?: string[];
}

/** Commander's parser for an option given several times. */
export function repeatable(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * Declares the rule selection options on a command (`run`, `replay`, `rules list|test`); read
 * them back with ruleSelectionOf. One declaration, so every command words and parses them alike.
 */
export function addRuleSelectionOptions(command: Command): Command {
  return command
    .option('--enable-rule <id>', 'run only the enabled rules: this one among them (repeatable)', repeatable)
    .option('--enable-tag <tag>', 'run only the enabled rules: those carrying this tag among them, e.g. "Tactic: Execution" (repeatable)', repeatable)
    .option('--disable-rule <id>', 'do not run this rule, even if enabled (repeatable)', repeatable)
    .option('--disable-tag <tag>', 'do not run rules carrying this tag, even if enabled (repeatable)', repeatable);
}

/** The selection options commander parsed, as the config overrides and the rules actions take them. */
export function ruleSelectionOf(flags: RuleSelectionFlags): Omit<RuleSelectionOptions, 'config'> {
  return {
    ...(flags.enableRule === undefined ? {} : { enableRules: flags.enableRule }),
    ...(flags.enableTag === undefined ? {} : { enableTags: flags.enableTag }),
    ...(flags.disableRule === undefined ? {} : { disableRules: flags.disableRule }),
    ...(flags.disableTag === undefined ? {} : { disableTags: flags.disableTag }),
  };
}

export interface RulesListOptions extends RuleSelectionOptions {
  paths: string[];
  json?: boolean;
  /** Only rules with one of these ids. */
  ids?: string[];
  /** Only rules carrying one of these tags (as the selection reads tags). */
  tags?: string[];
  /** Only rules at least this severe. */
  minSeverity?: RuleSeverity;
  format?: RuleFormat;
}

export interface RulesListResult {
  exitCode: number;
  /** Rules listed. */
  rules: number;
  /** Of the listed, those the selection leaves out. */
  disabled: number;
}

export interface RulesTestOptions extends RuleSelectionOptions {
  paths: string[];
}

export interface RulesTestResult {
  exitCode: number;
  rules: number;
  cases: number;
  passed: number;
  /** Failed cases plus unreadable case lines. */
  failed: number;
  /** Rules with no test file. */
  untested: number;
  /** Rules the selection leaves out (not tested). */
  disabled: number;
}

function tactics(rule: LoadedRule): string[] {
  return [...new Set(rule.threat.map((t) => t.tactic.name))];
}

async function load(paths: string[], exceptions?: string) {
  return loadRuleSet({ paths, ...(exceptions === undefined ? {} : { exceptionsFile: exceptions }) });
}

/**
 * The rules as `run` would select them: the config file's [rules] when one is named, the
 * command-line selection on top. Nothing to run is not an error here: the warnings say why.
 */
async function loadSelected(paths: string[], options: RuleSelectionOptions) {
  const overrides = {
    rules: paths,
    enableRules: options.enableRules, enableTags: options.enableTags, disableRules: options.disableRules, disableTags: options.disableTags,
  };
  const config = options.config === undefined ? resolveConfig({}, null, overrides) : loadAgentConfig({ ...overrides, config: options.config });
  // What run loads, without its exceptions file, and with nothing to run reported, not refused.
  return loadConfiguredRules({ ...config, rules: { ...config.rules, allowEmpty: true, exceptions: null } });
}

/** Errors, and the selection's warnings (an id or tag that names no rule). */
async function reportErrors(io: CommandIo, diagnostics: RuleDiagnostic[]): Promise<void> {
  for (const d of diagnostics) {
    if (d.severity === 'error' || d.code === RuleDiagnosticCode.SelectionUnmatched) await writeText(io.stderr, `${formatDiagnostic(d)}\n`);
  }
}

/** Diagnostics and notes by file, in load order (stable); those about no single file (summaries) last. */
function inFileOrder(files: readonly string[], diagnostics: readonly RuleDiagnostic[]): RuleDiagnostic[] {
  const order = new Map(files.map((file, i) => [file, i]));
  const rank = (d: RuleDiagnostic): number => order.get(d.file) ?? files.length;
  return diagnostics.map((d, i) => ({ d, i })).sort((a, b) => rank(a.d) - rank(b.d) || a.i - b.i).map(({ d }) => d);
}

export async function rulesValidateAction(options: RulesValidateOptions, io: CommandIo): Promise<RulesValidateResult> {
  const loaded = await load(options.paths, options.exceptions);
  for (const d of inFileOrder(loaded.rules.files, [...loaded.diagnostics, ...loaded.notes])) await writeText(io.stdout, `${formatDiagnostic(d)}\n`);
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = loaded.diagnostics.filter((d) => d.severity === 'warning').length;
  const neverMatch = loaded.rules.rules.filter((r) => r.neverMatches !== null).length;
  const exceptions = loaded.exceptions === null ? '' : `, ${loaded.exceptions.exceptions.size} exceptions`;
  const never = neverMatch === 0 ? '' : `, ${neverMatch} never match on this agent`;
  await writeText(io.stdout, `${loaded.rules.rules.length} rules from ${loaded.rules.files.length} files${exceptions}: ${errors} errors, ${warnings} warnings, ${loaded.rules.skipped} skipped${never}\n`);
  return {
    exitCode: errors > 0 ? EXIT_FAILURE : EXIT_OK, rules: loaded.rules.rules.length, errors, warnings, neverMatch,
    diagnostics: loaded.diagnostics, notes: loaded.notes,
  };
}

/** Whether a rule passes `rules list`'s filters (which only choose what is shown). */
function listed(rule: LoadedRule, options: RulesListOptions): boolean {
  if (options.ids !== undefined && options.ids.length > 0 && !options.ids.some((id) => id.toLowerCase() === rule.ruleId.toLowerCase())) return false;
  if (options.tags !== undefined && options.tags.length > 0) {
    const tags = new Set(selectionTags(rule).map((tag) => tag.toLowerCase()));
    if (!options.tags.some((tag) => tags.has(tag.toLowerCase()))) return false;
  }
  if (options.minSeverity !== undefined && !atLeastSeverity(rule.severity, options.minSeverity)) return false;
  return options.format === undefined || rule.format === options.format;
}

export async function rulesListAction(options: RulesListOptions, io: CommandIo): Promise<RulesListResult> {
  const loaded = await loadSelected(options.paths, options);
  await reportErrors(io, loaded.diagnostics);
  const why = new Map(loaded.disabled.map((d) => [d.rule, d.reason]));
  const rules = loaded.rules.rules.filter((rule) => listed(rule, options));
  if (options.json) {
    for (const r of rules) {
      await writeJsonLine(io.stdout, {
        rule_id: r.ruleId, name: r.name, severity: r.severity, risk_score: r.riskScore, tactics: tactics(r), type: r.compiled.kind,
        format: r.format, version: r.version, tags: selectionTags(r), enabled: !why.has(r), disabled: why.get(r) ?? null,
        never_matches: r.neverMatches, file: r.file,
      });
    }
  } else {
    const name = (r: LoadedRule): string => {
      const disabled = why.get(r);
      const marks = [...(disabled === undefined ? [] : [`[${disabled}]`]), ...(r.neverMatches === null ? [] : [`[never matches on this agent: ${r.neverMatches}]`])];
      return [r.name, ...marks].join('  ');
    };
    const rows = rules.map((r) => [r.ruleId, r.severity, tactics(r).join(', ') || '-', name(r)]);
    const header = ['RULE ID', 'SEVERITY', 'TACTICS', 'NAME'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    const format = (row: string[]) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
    await writeText(io.stdout, `${[header, ...rows].map(format).join('\n')}\n`);
  }
  return { exitCode: loaded.rules.ok ? EXIT_OK : EXIT_FAILURE, rules: rules.length, disabled: rules.filter((r) => why.has(r)).length };
}

export async function rulesTestAction(options: RulesTestOptions, io: CommandIo): Promise<RulesTestResult> {
  const loaded = await loadSelected(options.paths, options);
  const disabled = new Set(loaded.disabled.map((d) => d.rule));
  const selected = loaded.rules.rules.filter((rule) => !disabled.has(rule));
  const result: RulesTestResult = { exitCode: EXIT_OK, rules: selected.length, cases: 0, passed: 0, failed: 0, untested: 0, disabled: disabled.size };
  await reportErrors(io, loaded.diagnostics);
  if (!loaded.rules.ok) result.exitCode = EXIT_FAILURE;
  for (const rule of selected) {
    const report = await runRuleTests(rule);
    if (!report.found) {
      result.untested++;
      await writeText(io.stdout, `SKIP  ${rule.name}: no test cases (${report.testFile})\n`);
      continue;
    }
    result.cases += report.results.length;
    result.passed += report.results.filter((r) => r.passed).length;
    const failures = report.results.filter((r) => !r.passed);
    result.failed += failures.length + report.problems.length;
    await writeText(io.stdout, `${report.passed ? 'PASS' : 'FAIL'}  ${rule.name} (${report.results.length} cases)\n`);
    for (const f of failures) {
      await writeText(io.stdout, `      ${report.testFile}:${f.case.line}: ${f.case.name}: expected ${f.case.expect ? 'a match' : 'no match'}, got ${f.matched ? 'a match' : 'none'}\n`);
    }
    for (const p of report.problems) await writeText(io.stdout, `      ${report.testFile}:${p.line}: ${p.message}\n`);
  }
  if (result.failed > 0) result.exitCode = EXIT_FAILURE;
  const left = result.disabled === 0 ? '' : ` (${result.disabled} left out by the rule selection)`;
  await writeText(io.stdout, `${result.rules} rules${left}, ${result.cases} cases: ${result.passed} cases passed, ${result.failed} failed, ${result.untested} rules without tests\n`);
  return result;
}
