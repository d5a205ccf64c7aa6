/**
 * Which of the loaded rules run: the `[rules]` keys `enable`, `enable_tags`, `disable` and
 * `disable_tags`, and the command-line options `--enable-rule`, `--enable-tag`, `--disable-rule`
 * and `--disable-tag`, which add to them. A rule runs when it is enabled and not disabled:
 *
 * - enabled: nothing is enabled at all (every rule is), or its id is enabled, or it carries an
 *   enabled tag. So `enable` and `enable_tags` together are an allow-list.
 * - disabled: its id is disabled, or it carries a disabled tag. Disabling always wins, so
 *   "every rule of this tactic but that one" is `enable_tags` plus `disable`.
 *
 * Ids and tags compare without regard to case (rule ids are UUIDs; "tactic: execution" is meant
 * as "Tactic: Execution"). A rule's tags are those of its file and, for rules of either format,
 * "Tactic: <name>" for each ATT&CK tactic it maps to: Elastic's detection rules carry these tags
 * already, and Elastic Defend's behavior rules, which have no tags, become selectable by tactic.
 *
 * An id or tag that matches no loaded rule is a warning naming it and where it was written: a
 * misspelt `disable` entry would otherwise leave the rule it meant running without a word. The
 * rules left out never reach the rule set, so they cost nothing at run time; the result says
 * which and why, for `rules list`, and sums them up in one note for the agent's log.
 */
import { RuleDiagnosticCode, type RuleDiagnostic } from './diagnostics.js';
import type { LoadedRule } from './rule-types.js';

/** Where an id or tag was named: a config file key (with its position) or a command-line option. */
export interface SelectionSource {
  /** The config file, or `command line`. */
  file: string;
  /** 1-based; 0 when there is no position (the command line). */
  line: number;
  column: number;
  /** The setting as its user knows it: `rules.disable`, `--disable-rule`. */
  setting: string;
}

/** One rule id or tag of a selection list. */
export interface SelectionName {
  value: string;
  from: SelectionSource;
}

export interface RuleSelection {
  enableRules: readonly SelectionName[];
  enableTags: readonly SelectionName[];
  disableRules: readonly SelectionName[];
  disableTags: readonly SelectionName[];
}

export type SelectionList = keyof RuleSelection;
export const SELECTION_LISTS: readonly SelectionList[] = ['enableRules', 'enableTags', 'disableRules', 'disableTags'];

/** Bounds on what a selection may hold: they come from config files and command lines. */
export const SELECTION_LIMITS = Object.freeze({ names: 1024, nameLength: 256 });

/** Why a name cannot be a rule id or tag of a selection, or null when it can. */
export function selectionNameProblem(value: string): string | null {
  if (value.trim() === '') return 'must not be empty';
  if (value.length > SELECTION_LIMITS.nameLength) return `is longer than ${SELECTION_LIMITS.nameLength} characters`;
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'must not contain control characters';
  return null;
}

/** A selection naming nothing: every rule runs. */
export const EMPTY_SELECTION: RuleSelection = Object.freeze({ enableRules: [], enableTags: [], disableRules: [], disableTags: [] });

export function isEmptySelection(selection: RuleSelection): boolean {
  return SELECTION_LISTS.every((list) => selection[list].length === 0);
}

/** Both selections' names, list by list (the command line's after the file's). */
export function mergeSelections(first: RuleSelection, second: RuleSelection): RuleSelection {
  return {
    enableRules: [...first.enableRules, ...second.enableRules],
    enableTags: [...first.enableTags, ...second.enableTags],
    disableRules: [...first.disableRules, ...second.disableRules],
    disableTags: [...first.disableTags, ...second.disableTags],
  };
}

/** The selection of command-line options (each list as given, in order). */
export function commandLineSelection(options: { enableRules?: readonly string[]; enableTags?: readonly string[]; disableRules?: readonly string[]; disableTags?: readonly string[] }): RuleSelection {
  const named = (values: readonly string[] | undefined, setting: string): SelectionName[] =>
    (values ?? []).map((value) => ({ value, from: { file: 'command line', line: 0, column: 0, setting } }));
  return {
    enableRules: named(options.enableRules, '--enable-rule'),
    enableTags: named(options.enableTags, '--enable-tag'),
    disableRules: named(options.disableRules, '--disable-rule'),
    disableTags: named(options.disableTags, '--disable-tag'),
  };
}

/** The tags a rule is selected by: its own, and "Tactic: <name>" for each ATT&CK tactic it maps to. */
export function selectionTags(rule: LoadedRule): string[] {
  const tags = new Map<string, string>();
  for (const tag of rule.tags) if (!tags.has(tag.toLowerCase())) tags.set(tag.toLowerCase(), tag);
  for (const mapping of rule.threat) {
    const tag = `Tactic: ${mapping.tactic.name}`;
    if (!tags.has(tag.toLowerCase())) tags.set(tag.toLowerCase(), tag);
  }
  return [...tags.values()];
}

export interface DisabledRule {
  rule: LoadedRule;
  /** Why it does not run, e.g. `disabled by rules.disable_tags "Tactic: Execution"`. */
  reason: string;
  /** The setting that left it out (`rules.disable`, `--disable-tag`), or `not enabled`. */
  by: string;
}

export interface SelectionOutcome {
  /** The rules that run, in load order. */
  selected: LoadedRule[];
  /** The rules left out, in load order. */
  disabled: DisabledRule[];
  /** A warning for every name that matches no loaded rule, then one note summing up what was left out. */
  diagnostics: RuleDiagnostic[];
}

const NOT_ENABLED = 'not enabled';

interface Lookup {
  /** Lower-cased name -> where it was first named. */
  names: Map<string, SelectionName>;
  used: Set<string>;
}

function lookup(names: readonly SelectionName[]): Lookup {
  const map = new Map<string, SelectionName>();
  for (const name of names) if (!map.has(name.value.toLowerCase())) map.set(name.value.toLowerCase(), name);
  return { names: map, used: new Set() };
}

/** The first of `keys` the lookup holds (marking every one it holds as used), or undefined. */
function find(table: Lookup, keys: readonly string[]): SelectionName | undefined {
  let first: SelectionName | undefined;
  for (const key of keys) {
    const name = table.names.get(key);
    if (name === undefined) continue;
    table.used.add(key);
    first ??= name;
  }
  return first;
}

/**
 * Splits `rules` into those that run and those the selection leaves out. `where` names the rule
 * paths, for the summary note.
 */
export function selectRules(rules: readonly LoadedRule[], selection: RuleSelection, where: string): SelectionOutcome {
  if (isEmptySelection(selection)) return { selected: [...rules], disabled: [], diagnostics: [] };
  const tables = {
    enableRules: lookup(selection.enableRules),
    enableTags: lookup(selection.enableTags),
    disableRules: lookup(selection.disableRules),
    disableTags: lookup(selection.disableTags),
  };
  const allowList = tables.enableRules.names.size > 0 || tables.enableTags.names.size > 0;
  const selected: LoadedRule[] = [];
  const disabled: DisabledRule[] = [];
  for (const rule of rules) {
    const id = [rule.ruleId.toLowerCase()];
    const tags = selectionTags(rule).map((tag) => tag.toLowerCase());
    // Every list is looked at for every rule, so that a name is "used" whatever else decided.
    const enabledById = find(tables.enableRules, id);
    const enabledByTag = find(tables.enableTags, tags);
    const disabledById = find(tables.disableRules, id);
    const disabledByTag = find(tables.disableTags, tags);
    if (disabledById !== undefined) {
      disabled.push({ rule, reason: `disabled by ${disabledById.from.setting}`, by: disabledById.from.setting });
    } else if (disabledByTag !== undefined) {
      const { setting } = disabledByTag.from;
      disabled.push({ rule, reason: `disabled by ${setting} ${JSON.stringify(disabledByTag.value)}`, by: setting });
    } else if (allowList && enabledById === undefined && enabledByTag === undefined) {
      disabled.push({ rule, reason: 'not enabled: neither its id nor any of its tags is enabled', by: NOT_ENABLED });
    } else {
      selected.push(rule);
    }
  }

  const diagnostics: RuleDiagnostic[] = [];
  for (const list of SELECTION_LISTS) {
    const table = tables[list];
    for (const [key, name] of table.names) {
      if (table.used.has(key)) continue;
      const what = list === 'enableRules' || list === 'disableRules' ? 'has the id' : 'carries the tag';
      diagnostics.push({
        severity: 'warning',
        code: RuleDiagnosticCode.SelectionUnmatched,
        file: name.from.file,
        line: name.from.line,
        column: name.from.column,
        message: `${name.from.setting}: no loaded rule ${what} ${JSON.stringify(name.value)}`,
      });
    }
  }
  if (disabled.length > 0) {
    const bySetting = new Map<string, number>();
    for (const { by } of disabled) bySetting.set(by, (bySetting.get(by) ?? 0) + 1);
    const tally = [...bySetting].map(([by, count]) => (by === NOT_ENABLED ? `${count} ${by}` : `${count} by ${by}`)).join(', ');
    diagnostics.push({
      severity: 'note',
      code: RuleDiagnosticCode.RulesDisabled,
      file: where,
      line: 0,
      column: 0,
      message: `${selected.length} of ${rules.length} loaded rules run; ${disabled.length} left out by the rule selection (${tally})`,
    });
  }
  return { selected, disabled, diagnostics };
}
