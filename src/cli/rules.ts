/**
 * `execwarden rules validate|list|test [PATH…]`: the rule files' own tools. Each defaults to the
 * bundled rules. validate prints every diagnostic and exits 1 when one is an error; list prints
 * id, severity, tactics and name; test runs the test cases kept beside each rule
 * (tests/<stem>.ndjson, see src/rules/rule-tests.ts) and exits 1 when one fails.
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
  diagnostics: RuleDiagnostic[];
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

export async function rulesValidateAction(options: RulesValidateOptions, io: CommandIo): Promise<RulesValidateResult> {
  const loaded = await load(options.paths, options.exceptions);
  for (const d of loaded.diagnostics) await writeText(io.stdout, `${formatDiagnostic(d)}\n`);
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = loaded.diagnostics.length - errors;
  const exceptions = loaded.exceptions === null ? '' : `, ${loaded.exceptions.exceptions.size} exceptions`;
  await writeText(io.stdout, `${loaded.rules.rules.length} rules from ${loaded.rules.files.length} files${exceptions}: ${errors} errors, ${warnings} warnings, ${loaded.rules.skipped} skipped\n`);
  return { exitCode: errors > 0 ? EXIT_FAILURE : EXIT_OK, rules: loaded.rules.rules.length, errors, warnings, diagnostics: loaded.diagnostics };
}

export async function rulesListAction(options: RulesListOptions, io: CommandIo): Promise<RulesListResult> {
  const loaded = await load(options.paths);
  await reportErrors(io, loaded.diagnostics);
  const rules = loaded.rules.rules;
  if (options.json) {
    for (const r of rules) {
      await writeJsonLine(io.stdout, { rule_id: r.ruleId, name: r.name, severity: r.severity, risk_score: r.riskScore, tactics: tactics(r), type: r.compiled.kind, file: r.file });
    }
  } else {
    const rows = rules.map((r) => [r.ruleId, r.severity, tactics(r).join(', ') || '-', r.name]);
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
