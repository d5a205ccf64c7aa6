/**
 * One reading of "how bad is this document", shared by the pretty printer (label, colour) and the
 * syslog sink (RFC 5424 severity). Alerts carry the rule's severity as `event.severity`, either as
 * a name (low/medium/high/critical) or as a number on the 0-100 risk scale Elastic uses
 * (21/47/73/99); `event.risk_score` is the fallback. Non-alert documents are informational.
 */
import { docField } from '../doc-field.js';

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

/** RFC 5424 severities: 2 critical, 3 error, 4 warning, 5 notice, 6 informational. */
export const SYSLOG_SEVERITY: Readonly<Record<SeverityLevel, number>> = Object.freeze({
  critical: 2,
  high: 3,
  medium: 4,
  low: 5,
  info: 6,
});
