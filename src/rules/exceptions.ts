/**
 * Local allow-list: matches a user has judged harmless, silenced without editing the rule.
 *
 *     # /etc/execwarden/exceptions.toml
 *     [[exception]]
 *     rule_id = "259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39"   # or "*" for every rule
 *     query = 'process.parent.executable == "/opt/backup/bin/tunnel.sh"'
 *     comment = "backup tunnel approved by ops, ticket 1234"
 *
 * `query` is an EQL condition (what follows `where`), evaluated on the matched event; for a
 * sequence, the match is silenced when the condition holds for any of its events. `comment` is
 * required: an allow-list entry nobody can explain is a hole. Every silenced match is counted
 * per entry, so suppression stays visible in the metrics.
 */
import { readFile } from 'node:fs/promises';
import type { CompiledEventQuery, EqlEvent } from '../eql/index.js';
import { RuleDiagnosticCode, hasErrors, type RuleDiagnostic } from './diagnostics.js';
import { compileChecked, parseToml, type LoadRulesOptions } from './loader.js';
import { isRuleId } from './rule-schema.js';
import { TomlChecker } from './toml-checker.js';
import { TomlKeyLocator } from './toml-positions.js';

export const ANY_RULE = '*';

export interface RuleException {
  /** A rule_id, or `*` for every rule. */
  ruleId: string;
  condition: CompiledEventQuery;
  comment: string;
  file: string;
  line: number;
}

export interface ExceptionStats {
  /** Matches silenced, over all entries. */
  suppressed: number;
  byEntry: { ruleId: string; comment: string; file: string; line: number; suppressed: number }[];
}

export class ExceptionList {
  private readonly counts: number[];

  constructor(readonly entries: readonly RuleException[]) {
    this.counts = entries.map(() => 0);
  }

  static empty(): ExceptionList {
    return new ExceptionList([]);
  }

  get size(): number {
    return this.entries.length;
  }

  /** The first entry silencing a match of `ruleId` on `events`, counted; undefined if none. */
  suppress(ruleId: string, events: readonly EqlEvent[]): RuleException | undefined {
    for (let i = 0; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (entry.ruleId !== ANY_RULE && entry.ruleId !== ruleId) continue;
      if (events.some((event) => entry.condition.matches(event))) {
        this.counts[i]!++;
        return entry;
      }
    }
    return undefined;
  }

  stats(): ExceptionStats {
    return {
      suppressed: this.counts.reduce((a, b) => a + b, 0),
      byEntry: this.entries.map((e, i) => ({ ruleId: e.ruleId, comment: e.comment, file: e.file, line: e.line, suppressed: this.counts[i]! })),
    };
  }
}

export interface ExceptionLoadResult {
  exceptions: ExceptionList;
  diagnostics: RuleDiagnostic[];
  ok: boolean;
}

const ENTRY_KEYS = new Set(['rule_id', 'query', 'comment']);

export function loadExceptionsText(text: string, file: string, options: LoadRulesOptions = {}): ExceptionLoadResult {
  const parsed = parseToml(text, file);
  if ('diagnostic' in parsed) return { exceptions: ExceptionList.empty(), diagnostics: [parsed.diagnostic], ok: false };
  const locator = new TomlKeyLocator(text);
  const diagnostics: RuleDiagnostic[] = [];
  const top = new TomlChecker(file, locator);
  top.unknownKeys(parsed.doc, [], new Set(['exception']));
  const tables = top.tableArray(parsed.doc, ['exception'], false) ?? [];
  diagnostics.push(...top.diagnostics);

  const entries: RuleException[] = [];
  tables.forEach((table, i) => {
    const check = new TomlChecker(file, locator);
    const path = ['exception', i] as const;
    check.unknownKeys(table, path, ENTRY_KEYS);
    const ruleId = check.matching(table, [...path, 'rule_id'], true, (v) => v === ANY_RULE || isRuleId(v), 'a rule UUID or "*"');
    const comment = check.string(table, [...path, 'comment'], true);
    const query = check.string(table, [...path, 'query'], true);
    const condition = query === undefined ? null : compileChecked(query, [...path, 'query'], check, options, 'any where ');
    diagnostics.push(...check.diagnostics);
    if (ruleId === undefined || comment === undefined || condition === null || check.errorCount > 0) return;
    if (condition.kind !== 'event') return;
    entries.push({ ruleId, condition, comment, file, line: locator.position([...path, 'rule_id']).line });
  });
  return { exceptions: new ExceptionList(entries), diagnostics, ok: !hasErrors(diagnostics) };
}

export async function loadExceptions(file: string, options: LoadRulesOptions = {}): Promise<ExceptionLoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const diagnostic: RuleDiagnostic = { severity: 'error', code: RuleDiagnosticCode.FileUnreadable, file, line: 1, column: 1, message: `cannot read exceptions file: ${(error as Error).message}` };
    return { exceptions: ExceptionList.empty(), diagnostics: [diagnostic], ok: false };
  }
  return loadExceptionsText(text, file, options);
}

/** Warnings for entries naming a rule the set does not have (a typo silences nothing). */
export function unknownExceptionRules(exceptions: ExceptionList, ruleIds: ReadonlySet<string>): RuleDiagnostic[] {
  return exceptions.entries
    .filter((e) => e.ruleId !== ANY_RULE && !ruleIds.has(e.ruleId))
    .map((e) => ({
      severity: 'warning' as const, code: RuleDiagnosticCode.ExceptionUnknownRule, file: e.file, line: e.line, column: 1, ruleId: e.ruleId,
      message: `exception names rule ${e.ruleId}, which is not loaded; it silences nothing`,
    }));
}
