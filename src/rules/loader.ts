/**
 * Loads detection-rules TOML files and folders into compiled rules. Nothing here throws for a bad
 * rule: every problem becomes a positioned diagnostic in the result (like Falco's load_result),
 * rules with errors are left out, and the caller decides whether a result with errors is usable.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { compileQuery, EqlError, parseQuery, type CompiledQuery, type EqlLimits } from '../eql/index.js';
import { BUNDLED_RULESET, bundledRulesDir } from './bundled.js';
import { RuleDiagnosticCode, hasErrors, type RuleDiagnostic } from './diagnostics.js';
import { queryReach, unfilledFields } from './filled-fields.js';
import { validateRuleDocument } from './rule-schema.js';
import type { LoadedRule } from './rule-types.js';
import { TomlChecker } from './toml-checker.js';
import { TomlKeyLocator, type TomlPath } from './toml-positions.js';

export type QueryCompiler = (text: string, options?: { limits?: Partial<EqlLimits> }) => CompiledQuery;

export interface LoadRulesOptions {
  /** Name recorded as rule.ruleset; default: the name of the folder each path is or sits in. */
  ruleset?: string;
  limits?: Partial<EqlLimits>;
  /** Replaces the EQL compiler (tests). */
  compile?: QueryCompiler;
}

export interface RuleLoadResult {
  rules: LoadedRule[];
  diagnostics: RuleDiagnostic[];
  /** Every .toml file read, in load order. */
  files: string[];
  /** Rules left out on purpose (other rule types, deprecated), not counted as errors. */
  skipped: number;
  /** True when no diagnostic is an error. */
  ok: boolean;
}

export interface RuleTextResult {
  rule: LoadedRule | null;
  skipped: boolean;
  diagnostics: RuleDiagnostic[];
}

/** Parses, validates and compiles one rule file's text. */
export function loadRuleText(text: string, file: string, options: LoadRulesOptions = {}): RuleTextResult {
  const parsed = parseToml(text, file);
  if ('diagnostic' in parsed) return { rule: null, skipped: false, diagnostics: [parsed.diagnostic] };
  const check = new TomlChecker(file, new TomlKeyLocator(text));
  const outcome = validateRuleDocument(parsed.doc, check);
  if (outcome.status !== 'valid') return { rule: null, skipped: outcome.status === 'skipped', diagnostics: check.diagnostics };

  const definition = outcome.definition;
  const compiled = compileChecked(definition.query, ['rule', 'query'], check, options);
  if (compiled === null) return { rule: null, skipped: false, diagnostics: check.diagnostics };
  const reach = queryReach(parseQuery(definition.query, options.limits));
  if (reach.neverMatches !== null) {
    check.report('warning', RuleDiagnosticCode.NeverMatches, ['rule', 'query'], `query never matches on this agent: ${reach.neverMatches}`);
  } else {
    const missing = unfilledFields(reach.fields);
    if (missing.length > 0) {
      check.report('warning', RuleDiagnosticCode.UnfilledFields, ['rule', 'query'], `query uses fields execwarden never fills: ${missing.join(', ')}`);
    }
  }
  const ruleset = options.ruleset ?? basename(dirname(resolve(file)));
  return { rule: { ...definition, compiled, file, ruleset }, skipped: false, diagnostics: check.diagnostics };
}

/**
 * Compiles an EQL string stored under `path`, reporting an error at the query's own position
 * in the file. `prefix` is text prepended before compiling (exceptions wrap a bare condition);
 * positions inside it are mapped to the start of the value.
 */
export function compileChecked(text: string, path: TomlPath, check: TomlChecker, options: LoadRulesOptions, prefix = ''): CompiledQuery | null {
  const compile = options.compile ?? compileQuery;
  try {
    return compile(prefix + text, options.limits === undefined ? undefined : { limits: options.limits });
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
    const line = error instanceof TomlError ? error.line : 1;
    const column = error instanceof TomlError ? error.column : 1;
    const message = error instanceof Error ? error.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '') : String(error);
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

function pathDiagnostic(code: RuleDiagnosticCode, file: string, message: string, severity: 'error' | 'warning' = 'error'): RuleDiagnostic {
  return { severity, code, file, line: 1, column: 1, message };
}

/** Loads rule files and folders; never throws for content or missing paths. */
export async function loadRules(paths: readonly string[], options: LoadRulesOptions = {}): Promise<RuleLoadResult> {
  const result: RuleLoadResult = { rules: [], diagnostics: [], files: [], skipped: 0, ok: true };
  const seen = new Map<string, string>();
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
      if (loaded.skipped) result.skipped++;
      if (loaded.rule === null) continue;
      const earlier = seen.get(loaded.rule.ruleId);
      if (earlier !== undefined) {
        const at = new TomlKeyLocator(text).position(['rule', 'rule_id']);
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
    }
  }
  result.ok = !hasErrors(result.diagnostics);
  return result;
}
