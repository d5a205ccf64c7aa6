/**
 * One reading of "how bad is this document", shared by the pretty printer (label, colour), the
 * syslog sink (RFC 5424 severity) and every output's `min_severity`. Alerts carry the rule's
 * severity as `event.severity`, either as a name (low/medium/high/critical) or as a number on the
 * 0-100 risk scale Elastic uses (21/47/73/99); `event.risk_score` is the fallback. Non-alert
 * documents are informational.
 */
import { docField } from '../doc-field.js';
import { RULE_SEVERITIES, type RuleSeverity } from '../rules/rule-types.js';

export type SeverityLevel = 'critical' | 'high' | 'medium' | 'low' | 'info';

const NAMED: Record<string, SeverityLevel> = {
  critical: 'critical',
  high: 'high',
  medium: 'medium',
  low: 'low',
  info: 'info',
  informational: 'info',
};

function fromRisk(score: number): SeverityLevel {
  if (score >= 90) return 'critical';
  if (score >= 70) return 'high';
  if (score >= 40) return 'medium';
  return 'low';
}

export function severityOf(doc: Record<string, unknown>): SeverityLevel {
  const severity = docField(doc, 'event.severity');
  if (typeof severity === 'string' && NAMED[severity.toLowerCase()]) return NAMED[severity.toLowerCase()];
  if (typeof severity === 'number' && Number.isFinite(severity)) return fromRisk(severity);
  const risk = docField(doc, 'event.risk_score');
  if (typeof risk === 'number' && Number.isFinite(risk)) return fromRisk(risk);
  return docField(doc, 'event.kind') === 'alert' ? 'medium' : 'info';
}

/** What `[outputs.<name>] min_severity` can be, lowest first: a rule's severities. */
export const MIN_SEVERITIES = RULE_SEVERITIES;
export type MinSeverity = RuleSeverity;
/** Every alert. */
export const DEFAULT_MIN_SEVERITY: MinSeverity = 'low';

const RANK: Readonly<Record<SeverityLevel, number>> = Object.freeze({ info: 0, low: 1, medium: 2, high: 3, critical: 4 });

/** Whether `severity` is `minimum` or above. */
export function atLeastSeverity(severity: SeverityLevel, minimum: MinSeverity): boolean {
  return RANK[severity] >= RANK[minimum];
}

/**
 * Whether an output that takes alerts of at least `minimum` takes `doc`. Only alerts
 * (`event.kind: alert`, the agent's own included) are held to it: process events written with
 * `--events` are not alerts and always pass. `low`, the default, takes every alert.
 */
export function meetsMinSeverity(doc: Record<string, unknown>, minimum: MinSeverity): boolean {
  if (minimum === DEFAULT_MIN_SEVERITY || docField(doc, 'event.kind') !== 'alert') return true;
  return atLeastSeverity(severityOf(doc), minimum);
}

/** RFC 5424 severities: 2 critical, 3 error, 4 warning, 5 notice, 6 informational. */
export const SYSLOG_SEVERITY: Readonly<Record<SeverityLevel, number>> = Object.freeze({
  critical: 2,
  high: 3,
  medium: 4,
  low: 5,
  info: 6,
});
