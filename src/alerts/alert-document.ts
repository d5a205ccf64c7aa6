/**
 * Turns a rule match into an ECS alert document: `event.kind: alert`, the rule (`rule.*`), its
 * ATT&CK mapping (`threat.*`, flattened into ECS's arrays), severity and risk score, a one-line
 * `message`, and the process, user, group, host and container fields of the matched event. For a
 * sequence the top-level fields come from the event that completed it, and every event of the
 * sequence rides along under `execwarden.sequence` (a custom namespace: ECS has no field for it).
 * Pure: the only time it reads is the clock it is given.
 *
 * An Elastic Defend behavior rule's alert has the same fields (rule.id is the rule's `id`,
 * rule.version its `version`, rule.reference its first reference) and, when the rule has
 * `[[actions]]`, lists them as `execwarden.rule.actions`: [{action, field, state}], e.g.
 * kill_process on process.entity_id of stage 0. They are what Defend would do; execwarden does
 * it only when `[response] kill_process` is on, and then records each attempt and its result in
 * `execwarden.response`. Neither ECS nor Elastic has a field for responses a rule asks for (Defend's own alerts
 * put the responses it performed, with their results, under `Responses`), hence the custom
 * namespace, shaped like Defend's action entries so a reader can map one to the other.
 */
import type { Clock } from '../clock.js';
import type { EqlEvent } from '../eql/index.js';
import type { RuleMatch } from '../rules/rule-set.js';
import type { LoadedRule } from '../rules/rule-types.js';
import type { ResponseOutcome } from '../response/kill-response.js';
import { SEVERITY_SCORE } from './severity.js';
import { docField } from '../doc-field.js';
import { terminalSafe } from '../outputs/terminal-text.js';

export interface ThreatFields {
  framework: string;
  tactic: { id: string[]; name: string[]; reference: string[] };
  technique?: {
    id: string[];
    name: string[];
    reference: string[];
    subtechnique?: { id: string[]; name: string[]; reference: string[] };
  };
}

export interface AlertDocument {
  '@timestamp': string;
  message: string;
  event: {
    kind: 'alert';
    module: 'execwarden';
    dataset: 'execwarden.alert';
    created: string;
    severity: number;
    risk_score: number;
    category?: unknown;
    type?: unknown;
    action?: unknown;
    /** Time of the first and the last matched event (the same for an event rule). */
    start?: string;
    end?: string;
  };
  rule: {
    id: string;
    uuid: string;
    name: string;
    description: string;
    reference?: string;
    author: string[];
    license: string;
    version: string;
    ruleset: string;
  };
  threat?: ThreatFields;
  tags?: string[];
  process?: Record<string, unknown>;
  user?: Record<string, unknown>;
  group?: Record<string, unknown>;
  host?: Record<string, unknown>;
  container?: Record<string, unknown>;
  execwarden?: {
    /** The matched event's own flags (argv cut, lossy, stale, recovered after a loss, …). */
    process?: Record<string, unknown>;
    sequence?: { join_keys: unknown[]; events: EqlEvent[] };
    /** A Defend rule's `[[actions]]`, listed (and performed only with `[response] kill_process`). */
    rule?: { actions: { action: string; field: string; state: number }[] };
    /** The responses performed for this match, with their results (src/response/kill-response.ts). */
    response?: ResponseOutcome[];
    /**
     * On a flood-control summary: how many alerts of this kind were held back beyond the rule's
     * budget, and when the first and the latest came (the alert itself is the latest).
     */
    throttle?: { suppressed: number; first_seen: string; last_seen: string };
  };
}

/** Fields copied from the matched event, whole. */
const COPIED_OBJECTS = ['process', 'user', 'group', 'host', 'container'] as const;
const MAX_COMMAND_IN_MESSAGE = 200;

/**
 * Printable on one line, cut to `max` characters: the message is read by people, in terminals and
 * log viewers, so control, bidi and separator characters in names and command lines are shown as
 * escapes (terminalSafe). The copied ECS fields keep the original text.
 */
function oneLine(value: unknown, max = MAX_COMMAND_IN_MESSAGE): string {
  const text = typeof value === 'string' ? value : Array.isArray(value) ? value.join(' ') : String(value);
  return terminalSafe(text, max);
}

export function alertMessage(rule: LoadedRule, event: EqlEvent): string {
  const name = docField(event, 'process.name');
  const pid = docField(event, 'process.pid');
  const parent = docField(event, 'process.parent.name');
  const user = docField(event, 'user.name') ?? docField(event, 'user.id');
  const host = docField(event, 'host.name');
  const command = docField(event, 'process.command_line') ?? docField(event, 'process.args');
  let text = `${terminalSafe(rule.name)}:`;
  text += name === undefined ? ' a process' : ` ${oneLine(name, 64)}`;
  if (pid !== undefined) text += ` (pid ${oneLine(pid, 16)})`;
  if (parent !== undefined) text += ` started by ${oneLine(parent, 64)}`;
  if (user !== undefined) text += ` as ${oneLine(user, 64)}`;
  if (host !== undefined) text += ` on ${oneLine(host, 64)}`;
  if (command !== undefined) text += ` ran "${oneLine(command)}"`;
  return `${text}.`;
}

function threatFields(rule: LoadedRule): ThreatFields | undefined {
  if (rule.threat.length === 0) return undefined;
  const unique = <T extends { id: string; name: string; reference: string }>(entries: T[]) => {
    const seen = new Map<string, T>();
    for (const e of entries) if (!seen.has(e.id)) seen.set(e.id, e);
    const list = [...seen.values()];
    return { id: list.map((e) => e.id), name: list.map((e) => e.name), reference: list.map((e) => e.reference) };
  };
  const techniques = rule.threat.flatMap((t) => t.technique);
  const subtechniques = techniques.flatMap((t) => t.subtechnique);
  const out: ThreatFields = { framework: rule.threat[0]!.framework, tactic: unique(rule.threat.map((t) => t.tactic)) };
  if (techniques.length > 0) {
    out.technique = unique(techniques);
    if (subtechniques.length > 0) out.technique.subtechnique = unique(subtechniques);
  }
  return out;
}

export function buildAlert(match: RuleMatch, clock: Clock): AlertDocument {
  const { rule } = match;
  const trigger = match.events[match.events.length - 1] ?? {};
  const now = new Date(clock.nowMs()).toISOString();
  const alert: AlertDocument = {
    '@timestamp': now,
    message: alertMessage(rule, trigger),
    event: {
      kind: 'alert',
      module: 'execwarden',
      dataset: 'execwarden.alert',
      created: now,
      severity: SEVERITY_SCORE[rule.severity],
      risk_score: rule.riskScore,
    },
    rule: {
      id: rule.ruleId,
      uuid: rule.ruleId,
      name: rule.name,
      description: rule.description.trim(),
      author: [...rule.author],
      license: rule.license,
      version: rule.version,
      ruleset: rule.ruleset,
    },
  };
  if (rule.references.length > 0) alert.rule.reference = rule.references[0]!;
  for (const key of ['category', 'type', 'action'] as const) {
    const value = docField(trigger, `event.${key}`);
    if (value !== undefined) alert.event[key] = structuredClone(value);
  }
  const first = docField(match.events[0] ?? {}, '@timestamp');
  const last = docField(trigger, '@timestamp');
  if (typeof first === 'string') alert.event.start = first;
  if (typeof last === 'string') alert.event.end = last;
  const threat = threatFields(rule);
  if (threat !== undefined) alert.threat = threat;
  if (rule.tags.length > 0) alert.tags = [...rule.tags];
  for (const key of COPIED_OBJECTS) {
    const value = trigger[key];
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) alert[key] = structuredClone(value) as Record<string, unknown>;
  }
  if (match.kind === 'sequence') {
    alert.execwarden = { sequence: { join_keys: structuredClone(match.joinKeys), events: structuredClone(match.events) } };
  }
  if (rule.actions.length > 0) {
    alert.execwarden = { ...alert.execwarden, rule: { actions: rule.actions.map((a) => ({ action: a.action, field: a.field, state: a.state })) } };
  }
  // What the event says about its own completeness travels with the alert: an analyst must see
  // that the argv was cut, bytes were lossy, the snapshot was stale or the launch was recovered.
  const flags = docField(trigger, 'execwarden.process');
  if (typeof flags === 'object' && flags !== null && !Array.isArray(flags)) {
    alert.execwarden = { ...alert.execwarden, process: structuredClone(flags) as Record<string, unknown> };
  }
  return alert;
}
