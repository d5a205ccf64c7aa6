/**
 * Loads rule TOML files and folders into compiled rules: Elastic detection-rules files and Elastic
 * Defend behavior-rule files side by side, each told apart by its content (rule-format.ts) and its
 * query compiled in that format's EQL dialect. Nothing here throws for a bad rule: every problem
 * becomes a positioned diagnostic in the result (like Falco's load_result), rules with errors are
 * left out, and the caller decides whether a result with errors is usable.
 *
 * What the loader does on purpose to a single rule is a note, kept apart from the diagnostics: a
 * Defend rule for another system is skipped (RULE0207), and a rule that needs events of a category
 * execwarden does not produce (network, file, dns, ...) is loaded but can never match (RULE0303).
 * The diagnostics carry one summary of each kind per load, so the agent logs a Defend rule pack
 * as one line about its 59 network and file rules, not one per rule; `rules validate` prints the
 * notes too.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parse } from 'smol-toml';
import { compileQuery, EqlError, type CompiledQuery, type EqlDialect, type EqlLimits } from '../eql/index.js';
import { validateBehaviorRule, type DefendRuleDefaults, type OtherOsSkip } from './behavior-rule-schema.js';
import { BUNDLED_RULESET, bundledRulesDir } from './bundled.js';
import { RuleDiagnosticCode, hasErrors, type DiagnosticSeverity, type RuleDiagnostic } from './diagnostics.js';
import { queryReach, unfilledFields } from './filled-fields.js';
import { ruleFormatOf } from './rule-format.js';
import { validateRuleDocument } from './rule-schema.js';
import type { LoadedRule, RuleDefinition } from './rule-types.js';
import { TomlChecker } from './toml-checker.js';
import { TomlKeyLocator, type TomlPath } from './toml-positions.js';
import { tomlSyntaxProblem } from './toml-syntax.js';

export type QueryCompiler = (text: string, options?: { limits?: Partial<EqlLimits>; dialect?: EqlDialect }) => CompiledQuery;

export interface LoadRulesOptions {
  /** Name recorded as rule.ruleset; default: the name of the folder each path is or sits in. */
  ruleset?: string;
  limits?: Partial<EqlLimits>;
  /** Replaces the EQL compiler (tests). */
  compile?: QueryCompiler;
  /** Severity and risk score of Defend behavior rules, which have none; default DEFEND_RULE_DEFAULTS. */
  defendDefaults?: DefendRuleDefaults;
}

export interface RuleLoadResult {
  rules: LoadedRule[];
  /** Errors and warnings, then one summary of each kind of note. */
  diagnostics: RuleDiagnostic[];
  /** What was done on purpose to single rules (see the module header). */
  notes: RuleDiagnostic[];
  /** Every .toml file read, in load order. */
  files: string[];
  /** Rules left out on purpose (other rule types, deprecated, Defend rules for other systems), not counted as errors. */
  skipped: number;
  /** True when no diagnostic is an error. */
  ok: boolean;
}

export interface RuleTextResult {
  rule: LoadedRule | null;
  skipped: boolean;
  /** Errors and warnings. */
  diagnostics: RuleDiagnostic[];
  notes: RuleDiagnostic[];
  /** A Defend rule skipped for naming only other systems: its os_list. */
  otherOs?: string[];
  /** A rule loaded that never matches because execwarden does not produce this category. */
  missingCategory?: string;
}

const DIALECT_OF = { 'detection-rules': 'elasticsearch', defend: 'defend' } as const satisfies Record<RuleDefinition['format'], EqlDialect>;

/** Parses, validates and compiles one rule file's text (either format). */
export function loadRuleText(text: string, file: string, options: LoadRulesOptions = {}): RuleTextResult {
  const parsed = parseToml(text, file);
  if ('diagnostic' in parsed) return { rule: null, skipped: false, diagnostics: [parsed.diagnostic], notes: [] };
  const check = new TomlChecker(file, new TomlKeyLocator(text));
  const done = (rest: Omit<RuleTextResult, 'diagnostics' | 'notes'>): RuleTextResult => ({
    ...rest,
    diagnostics: check.diagnostics.filter((d) => d.severity !== 'note'),
    notes: check.diagnostics.filter((d) => d.severity === 'note'),
  });
  const format = ruleFormatOf(parsed.doc);
  const outcome = format === 'defend' ? validateBehaviorRule(parsed.doc, check, options.defendDefaults) : validateRuleDocument(parsed.doc, check);
  if (outcome.status !== 'valid') {
    const osList = (outcome as Partial<OtherOsSkip>).osList;
    return done({ rule: null, skipped: outcome.status === 'skipped', ...(osList === undefined ? {} : { otherOs: osList }) });
  }

  const definition = outcome.definition;
  const dialect = DIALECT_OF[definition.format];
  const compiled = compileChecked(definition.query, ['rule', 'query'], check, options, '', dialect);
  if (compiled === null) return done({ rule: null, skipped: false });
  checkActionStates(definition, compiled, check);
  const reach = queryReach(compiled.ast);
  if (reach.neverMatches !== null) {
    // Needing a whole category of events the agent does not produce is a property of the rule
    // pack (Defend's network and file rules), said once per load; any other reason is a warning.
    const severity = reach.missingCategory === null ? 'warning' : 'note';
    check.report(severity, RuleDiagnosticCode.NeverMatches, ['rule', 'query'], `query never matches on this agent: ${reach.neverMatches}`);
  } else {
    const missing = unfilledFields(reach.fields);
    if (missing.length > 0) {
      check.report('warning', RuleDiagnosticCode.UnfilledFields, ['rule', 'query'], `query uses fields execwarden never fills: ${missing.join(', ')}`);
    }
  }
  const ruleset = options.ruleset ?? basename(dirname(resolve(file)));
  return done({
    rule: { ...definition, compiled, file, ruleset, neverMatches: reach.neverMatches },
    skipped: false,
    ...(reach.missingCategory === null ? {} : { missingCategory: reach.missingCategory }),
  });
}

/** A Defend action names a stage by number: one the query does not have is a warning. */
function checkActionStates(definition: RuleDefinition, compiled: CompiledQuery, check: TomlChecker): void {
  const stages = compiled.kind === 'sequence' ? compiled.categories.length : 1;
  definition.actions.forEach((action, i) => {
    if (action.state < stages) return;
    const range = stages === 1 ? 'stage 0 only' : `stages 0 to ${stages - 1}`;
    check.report('warning', RuleDiagnosticCode.InvalidValue, ['actions', i, 'state'], `actions[${i}].state is ${action.state}, but the query has ${range}`);
  });
}

/**
 * Compiles an EQL string stored under `path`, reporting an error at the query's own position
 * in the file. `prefix` is text prepended before compiling (exceptions wrap a bare condition);
 * positions inside it are mapped to the start of the value.
 */
export function compileChecked(
  text: string,
  path: TomlPath,
  check: TomlChecker,
  options: LoadRulesOptions,
  prefix = '',
  dialect: EqlDialect = 'elasticsearch',
): CompiledQuery | null {
  const compile = options.compile ?? compileQuery;
  try {
    return compile(prefix + text, { ...(options.limits === undefined ? {} : { limits: options.limits }), dialect });
  } catch (error) {
    if (error instanceof EqlError) {
      let { line, column } = error;
      if (line === 1) column = Math.max(1, column - prefix.length);
      const at = check.locator.positionInString(path, { line, column });
      const detail = (error as EqlError & { detail?: string }).detail ?? error.message;
      check.diagnostics.push({
        severity: 'error', code: RuleDiagnosticCode.QuerySyntax, file: check.file, line: at.line, column: at.column,
        message: `query does not compile: ${error.code} ${detail}`,
        ...(check.ruleId === undefined ? {} : { ruleId: check.ruleId }),
      });
    } else {
      check.report('error', RuleDiagnosticCode.QuerySyntax, path, `query does not compile: ${error instanceof Error ? error.message : String(error)}`);
    }
    return null;
  }
}

export function parseToml(text: string, file: string): { doc: Record<string, unknown> } | { diagnostic: RuleDiagnostic } {
  try {
    return { doc: parse(text) as Record<string, unknown> };
  } catch (error) {
    const { line, column, message } = tomlSyntaxProblem(error, text);
    return { diagnostic: { severity: 'error', code: RuleDiagnosticCode.TomlSyntax, file, line, column, message: `invalid TOML: ${message}` } };
  }
}

/** Every .toml file under `path` (or `path` itself), sorted, skipping hidden folders. */
async function tomlFiles(path: string): Promise<string[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [path];
  const found: string[] = [];
  const entries = await readdir(path, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const child = join(path, entry.name);
    if (entry.isDirectory()) found.push(...(await tomlFiles(child)));
    else if (entry.isFile() && entry.name.endsWith('.toml')) found.push(child);
  }
  return found;
}

/** The bundled folder is the `execwarden` rule set; any other is named after its folder. */
function rulesetName(root: string, isFile: boolean): string {
  const folder = resolve(isFile ? dirname(root) : root);
  return folder === bundledRulesDir() ? BUNDLED_RULESET : basename(folder);
}

function pathDiagnostic(code: RuleDiagnosticCode, file: string, message: string, severity: DiagnosticSeverity = 'error'): RuleDiagnostic {
  // Line 0: the problem is the path itself, not a place in a file (formatDiagnostic shows no position).
  return { severity, code, file, line: 0, column: 0, message };
}

/** Loads rule files and folders; never throws for content or missing paths. */
export async function loadRules(paths: readonly string[], options: LoadRulesOptions = {}): Promise<RuleLoadResult> {
  const result: RuleLoadResult = { rules: [], diagnostics: [], notes: [], files: [], skipped: 0, ok: true };
  const seen = new Map<string, string>();
  const otherOs = new Map<string, number>();
  const missingCategories = new Map<string, number>();
  for (const root of paths) {
    let files: string[];
    try {
      files = await tomlFiles(root);
    } catch (error) {
      result.diagnostics.push(pathDiagnostic(RuleDiagnosticCode.PathNotFound, root, `cannot read rule path: ${(error as Error).message}`));
      continue;
    }
    if (files.length === 0) result.diagnostics.push(pathDiagnostic(RuleDiagnosticCode.NoRuleFiles, root, 'no .toml rule files here', 'warning'));
    const ruleset = options.ruleset ?? rulesetName(root, files.length === 1 && files[0] === root);
    for (const file of files) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        result.diagnostics.push(pathDiagnostic(RuleDiagnosticCode.FileUnreadable, file, `cannot read file: ${(error as Error).message}`));
        continue;
      }
      result.files.push(file);
      const loaded = loadRuleText(text, file, { ...options, ruleset });
      result.diagnostics.push(...loaded.diagnostics);
      result.notes.push(...loaded.notes);
      if (loaded.skipped) result.skipped++;
      for (const os of loaded.otherOs ?? []) otherOs.set(os, (otherOs.get(os) ?? 0) + 1);
      if (loaded.rule === null) continue;
      const earlier = seen.get(loaded.rule.ruleId);
      if (earlier !== undefined) {
        const at = new TomlKeyLocator(text).position(['rule', loaded.rule.format === 'defend' ? 'id' : 'rule_id']);
        result.diagnostics.push({
          severity: 'warning', code: RuleDiagnosticCode.DuplicateRuleId, file, ...at, ruleId: loaded.rule.ruleId,
          message: `rule_id ${loaded.rule.ruleId} is already loaded from ${earlier}; this copy is left out`,
        });
        continue;
      }
      // The first copy wins: the bundled rules share ids with the Elastic rules they are based on,
      // and loading both together is a supported set-up, not a broken one.
      seen.set(loaded.rule.ruleId, file);
      result.rules.push(loaded.rule);
      if (loaded.missingCategory !== undefined) missingCategories.set(loaded.missingCategory, (missingCategories.get(loaded.missingCategory) ?? 0) + 1);
    }
  }
  const where = paths.join(', ');
  if (missingCategories.size > 0) {
    const count = [...missingCategories.values()].reduce((a, b) => a + b, 0);
    result.diagnostics.push(pathDiagnostic(
      RuleDiagnosticCode.NeverMatches,
      where,
      `${count} ${count === 1 ? 'rule needs' : 'rules need'} events execwarden does not produce (${tally(missingCategories)}): loaded, they never match on this agent (rules validate lists them)`,
      'warning',
    ));
  }
  if (otherOs.size > 0) {
    const count = result.notes.filter((n) => n.code === RuleDiagnosticCode.OtherOperatingSystem).length;
    result.diagnostics.push(pathDiagnostic(
      RuleDiagnosticCode.OtherOperatingSystem,
      where,
      `${count} Elastic Defend ${count === 1 ? 'rule is' : 'rules are'} for other systems (${tally(otherOs)}) and ${count === 1 ? 'was' : 'were'} skipped`,
      'note',
    ));
  }
  result.ok = !hasErrors(result.diagnostics);
  return result;
}

/** "network 33, file 16": counts, largest first. */
function tally(counts: ReadonlyMap<string, number>): string {
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([name, n]) => `${name} ${n}`).join(', ');
}
