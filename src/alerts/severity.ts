import type { RuleSeverity } from '../rules/rule-types.js';

/**
 * `event.severity` for an alert, from the rule's severity: the numbers Elastic Security pairs
 * with each level (the default risk score it proposes for it), so alerts sort the same way.
 */
export const SEVERITY_SCORE: Readonly<Record<RuleSeverity, number>> = Object.freeze({
  low: 21,
  medium: 47,
  high: 73,
  critical: 99,
});
