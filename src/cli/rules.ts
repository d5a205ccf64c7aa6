/**
 * `execwarden rules validate|list|test [PATH…]`: the rule files' own tools. Each defaults to the
 * bundled rules, and reads detection-rules and Elastic Defend behavior-rule files alike. validate
 * prints every diagnostic and every per-rule note (a Defend rule skipped for another system, a
 * rule that never matches on this agent), in file order, and exits 1 when one is an error; list
 * prints id, severity, tactics and name, the name followed by why when the rule never matches
 * here; test runs the test cases kept beside each rule (tests/<stem>.ndjson, see
 * src/rules/rule-tests.ts) and exits 1 when one fails.
 */
import { formatDiagnostic, type RuleDiagnostic } from '../rules/diagnostics.js';
import { loadRuleSet } from '../rules/rule-set-loader.js';
import { runRuleTests } from '../rules/rule-tests.js';
import type { LoadedRule } from '../rules/rule-types.js';
import { EXIT_FAILURE, EXIT_OK } from './exit.js';
import type { CommandIo } from './io.js';
import { writeJsonLine, writeText } from './ndjson.js';

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

export interface RulesListOptions {
  paths: string[];
  json?: boolean;
}

export interface RulesListResult {
  exitCode: number;
  rules: number;
}

export interface RulesTestOptions {
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
}

const PATHS_ARGUMENT = '[paths...]';
const PATHS_NOTE = 'rule files or folders (default: the bundled rules)';

export const rulesCommands = {
  validate: {
    name: 'validate', arguments: PATHS_ARGUMENT, argumentDescription: PATHS_NOTE,
    description: 'Check rule files (and an exceptions file) and print every error and warning with its position',
    options: [{ flags: '--exceptions <file>', description: 'also check this exceptions file' }],
  },
  list: {
    name: 'list', arguments: PATHS_ARGUMENT, argumentDescription: PATHS_NOTE,
    description: 'List rules: id, severity, ATT&CK tactics and name',
    options: [{ flags: '--json', description: 'one JSON object per rule' }],
  },
  test: {
    name: 'test', arguments: PATHS_ARGUMENT, argumentDescription: PATHS_NOTE,
    description: "Run each rule's test cases (tests/<rule-file-stem>.ndjson beside the rule)",
    options: [],
  },
} as const;

function tactics(rule: LoadedRule): string[] {
  return [...new Set(rule.threat.map((t) => t.tactic.name))];
}

async function load(paths: string[], exceptions?: string) {
  return loadRuleSet({ paths, ...(exceptions === undefined ? {} : { exceptionsFile: exceptions }) });
}

async function reportErrors(io: CommandIo, diagnostics: RuleDiagnostic[]): Promise<void> {
  for (const d of diagnostics) if (d.severity === 'error') await writeText(io.stderr, `${formatDiagnostic(d)}\n`);
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

export async function rulesListAction(options: RulesListOptions, io: CommandIo): Promise<RulesListResult> {
  const loaded = await load(options.paths);
  await reportErrors(io, loaded.diagnostics);
  const rules = loaded.rules.rules;
  if (options.json) {
    for (const r of rules) {
      await writeJsonLine(io.stdout, {
        rule_id: r.ruleId, name: r.name, severity: r.severity, risk_score: r.riskScore, tactics: tactics(r), type: r.compiled.kind,
        format: r.format, version: r.version, never_matches: r.neverMatches, file: r.file,
      });
    }
  } else {
    const name = (r: LoadedRule): string => (r.neverMatches === null ? r.name : `${r.name}  [never matches on this agent: ${r.neverMatches}]`);
    const rows = rules.map((r) => [r.ruleId, r.severity, tactics(r).join(', ') || '-', name(r)]);
    const header = ['RULE ID', 'SEVERITY', 'TACTICS', 'NAME'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    const format = (row: string[]) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
    await writeText(io.stdout, `${[header, ...rows].map(format).join('\n')}\n`);
  }
  return { exitCode: loaded.rules.ok ? EXIT_OK : EXIT_FAILURE, rules: rules.length };
}

export async function rulesTestAction(options: RulesTestOptions, io: CommandIo): Promise<RulesTestResult> {
  const loaded = await load(options.paths);
  const result: RulesTestResult = { exitCode: EXIT_OK, rules: loaded.rules.rules.length, cases: 0, passed: 0, failed: 0, untested: 0 };
  await reportErrors(io, loaded.diagnostics);
  if (!loaded.rules.ok) result.exitCode = EXIT_FAILURE;
  for (const rule of loaded.rules.rules) {
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
  await writeText(io.stdout, `${result.rules} rules, ${result.cases} cases: ${result.passed} cases passed, ${result.failed} failed, ${result.untested} rules without tests\n`);
  return result;
}
