/**
 * Ties alerts to the simulations that caused them. Each simulation's marker is unique text in its
 * payload's command line, so any alert document that contains it (in process.args,
 * process.command_line, the parent's, a leader's or the replaced image's) belongs to that
 * simulation. Every process of a simulation also carries the marker in its environment, which the
 * lab's detector keeps in process.env_vars: that ties an alert whose lineage was not seen whole.
 */
import { docField } from '../doc-field.js';

export interface ObservedAlert {
  alert: Record<string, unknown>;
  observedAtMs: number;
  /** The document serialised once, for marker search. */
  text: string;
}

export function observeAlert(alert: Record<string, unknown>, observedAtMs: number): ObservedAlert {
  return { alert, observedAtMs, text: JSON.stringify(alert) };
}

export function alertsForMarker(alerts: readonly ObservedAlert[], marker: string): ObservedAlert[] {
  return alerts.filter((a) => a.text.includes(marker));
}

export function ruleIdOf(alert: Record<string, unknown>): string | null {
  const id = docField(alert, 'rule.id') ?? docField(alert, 'rule.uuid');
  return typeof id === 'string' ? id : null;
}

/**
 * Wall-clock ms of the event that matched (the last one, for a sequence): alerts date themselves
 * at creation in `@timestamp` and carry the matched events' times in `event.start`/`event.end`.
 */
const EVENT_TIME_FIELDS = ['event.end'];

export function matchedEventTimeMs(alert: Record<string, unknown>): number | null {
  for (const path of EVENT_TIME_FIELDS) {
    const value = docField(alert, path);
    if (typeof value === 'string') {
      const ms = Date.parse(value);
      if (Number.isFinite(ms)) return ms;
    }
  }
  return null;
}
