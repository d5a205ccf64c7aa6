/**
 * Which of the two rule formats a parsed TOML document is, by its content, never by its file
 * name or folder: rule packs are copied around and renamed, and both formats use `.toml`.
 *
 * A Defend behavior rule has a `[rule]` table keyed by `id` (detection-rules say `rule_id`), an
 * `os_list`, and top-level `[[actions]]`, `[[threat]]` and `[internal]`, and no `[metadata]`.
 * Any of Defend's own markers, with neither `[metadata]` nor `rule.rule_id`, makes a document
 * Defend's; everything else is read as detection-rules, whose validator then names what is
 * missing. So a broken Defend file still gets Defend's diagnostics (say, a missing `rule.id`)
 * as long as one of its markers is there.
 */
import type { RuleFormat } from './rule-types.js';
import { isTable, type TomlTable } from './toml-checker.js';

const DEFEND_RULE_MARKERS = ['id', 'os_list', 'min_endpoint_version', 'optional_actions'] as const;
const DEFEND_TOP_LEVEL_MARKERS = ['actions', 'internal'] as const;

export function ruleFormatOf(doc: TomlTable): RuleFormat {
  if (doc.metadata !== undefined) return 'detection-rules';
  const rule = doc.rule;
  if (isTable(rule) && rule.rule_id !== undefined) return 'detection-rules';
  const ruleMarker = isTable(rule) && DEFEND_RULE_MARKERS.some((key) => rule[key] !== undefined);
  const topMarker = DEFEND_TOP_LEVEL_MARKERS.some((key) => doc[key] !== undefined) || Array.isArray(doc.threat);
  return ruleMarker || topMarker ? 'defend' : 'detection-rules';
}
