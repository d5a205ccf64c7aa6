/**
 * The alerts the agent raises about itself, shaped like rule alerts. `execwarden: events lost`
 * covers kernel buffer overflows, per-CPU sequence gaps, batches dropped between the reader
 * thread and JS, stale exec snapshots and documents an output had to drop: a flood that overflows
 * the proc connector is exactly what an attacker would use to hide a launch, so loss is an alert,
 * not only a metric. It is throttled (one per window, carrying every loss since the last one) so
 * it cannot become a flood of its own. `execwarden: capture stopped` says the reader died;
 * `execwarden: event loop stalled` that events waited (see watchdog.ts).
 */
import { SEVERITY_SCORE } from '../alerts/index.js';
import type { Clock } from '../clock.js';
import type { HostInfo } from '../ecs/index.js';

export const LOSS_RULE_ID = 'c4f1d7a2-6e0b-4f3c-9a58-1b2e7d9c0f41';
export const LOSS_RULE_NAME = 'execwarden: events lost';
export const CAPTURE_STOPPED_RULE_ID = '5e2b9c41-8d7a-4f06-b3e1-72c0a9d4f8b6';
export const CAPTURE_STOPPED_RULE_NAME = 'execwarden: capture stopped';
export const STALL_RULE_ID = '9b3e6a10-4c2d-4e8f-a7b5-d1c0e2f3a4b6';
export const STALL_RULE_NAME = 'execwarden: event loop stalled';

/** The event loop (where every event is judged) stopped for `lateByMs`: events waited, alerts came late. */
export function stallAlert(lateByMs: number, atMs: number, host: HostInfo): Record<string, unknown> {
  const seconds = (lateByMs / 1000).toFixed(1);
  return internalAlert(
    {
      ruleId: STALL_RULE_ID,
      ruleName: STALL_RULE_NAME,
      description: 'The agent stopped evaluating events for a while; alerts were late, and a longer stall restarts it.',
      severity: 'high',
      message: `execwarden's event loop stalled for ${seconds} s; alerts in that time were late`,
      details: { stall: { ms: Math.round(lateByMs) } },
    },
    atMs,
    host,
  );
}

export interface InternalAlertSpec {
  ruleId: string;
  ruleName: string;
  description: string;
  severity: 'high' | 'critical';
  message: string;
  /** Fields under `execwarden` (custom namespace). */
  details?: Record<string, unknown>;
}

/** An alert the agent raises about itself, shaped like rule alerts so every output treats it alike. */
export function internalAlert(spec: InternalAlertSpec, atMs: number, host: HostInfo): Record<string, unknown> {
  const at = new Date(atMs).toISOString();
  const score = SEVERITY_SCORE[spec.severity];
  return {
    '@timestamp': at,
    message: spec.message,
    event: { kind: 'alert', module: 'execwarden', dataset: 'execwarden.alert', created: at, severity: score, risk_score: score },
    rule: {
      id: spec.ruleId,
      uuid: spec.ruleId,
      name: spec.ruleName,
      description: spec.description,
      author: ['execwarden'],
      license: 'Apache-2.0',
      version: '1',
      ruleset: 'execwarden-internal',
    },
    host: { name: host.name, hostname: host.hostname, id: host.id },
    ...(spec.details ? { execwarden: spec.details } : {}),
  };
}

export interface LossCounts {
  overflows: number;
  sequenceGaps: number;
  eventsDropped: number;
  /** Execs whose /proc snapshot was read after the process had exec'd again. */
  staleSnapshots: number;
  outputDrops: number;
  /** Partial sequences evicted by the open-sequence cap: sequences that can no longer complete. */
  sequenceEvictions: number;
}

const ZERO: LossCounts = { overflows: 0, sequenceGaps: 0, eventsDropped: 0, staleSnapshots: 0, outputDrops: 0, sequenceEvictions: 0 };
const CAUSES = Object.keys(ZERO) as (keyof LossCounts)[];

function describe(delta: LossCounts): string {
  const parts: string[] = [];
  if (delta.overflows > 0) parts.push(`${delta.overflows} kernel buffer overflow${delta.overflows === 1 ? '' : 's'} (events dropped by the kernel, count unknown)`);
  if (delta.sequenceGaps > 0) parts.push(`${delta.sequenceGaps} event${delta.sequenceGaps === 1 ? '' : 's'} missing from kernel sequence numbers`);
  if (delta.eventsDropped > 0) parts.push(`${delta.eventsDropped} event${delta.eventsDropped === 1 ? '' : 's'} dropped before evaluation`);
  if (delta.staleSnapshots > 0) {
    parts.push(`${delta.staleSnapshots} exec${delta.staleSnapshots === 1 ? '' : 's'} read only after the process had exec'd again (a wrapper such as setsid or nohup is missing from its event)`);
  }
  if (delta.outputDrops > 0) parts.push(`${delta.outputDrops} output document${delta.outputDrops === 1 ? '' : 's'} dropped`);
  if (delta.sequenceEvictions > 0) {
    parts.push(`${delta.sequenceEvictions} partial sequence${delta.sequenceEvictions === 1 ? '' : 's'} evicted by the open-sequence cap (a sequence rule may have missed a match)`);
  }
  return parts.join(', ');
}

export class LossMonitor {
  /** Totals already reported in an alert. */
  private reported: LossCounts = { ...ZERO };
  private lastAlertMs = -Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly host: HostInfo,
    private readonly windowMs = 60_000,
  ) {}

  /**
   * Given the current cumulative totals, returns an alert covering everything lost since the last
   * alert, or null when nothing new was lost or the window since the last alert is still open (the
   * loss is then carried into the next alert).
   */
  check(totals: LossCounts): Record<string, unknown> | null {
    const delta = { ...ZERO };
    for (const cause of CAUSES) delta[cause] = totals[cause] - this.reported[cause];
    const any = CAUSES.some((cause) => delta[cause] > 0);
    const now = this.clock.nowMs();
    if (!any || now - this.lastAlertMs < this.windowMs) return null;
    this.reported = { ...totals };
    this.lastAlertMs = now;
    return internalAlert(
      {
        ruleId: LOSS_RULE_ID,
        ruleName: LOSS_RULE_NAME,
        description: 'The agent could not observe or deliver every event; an attacker may try to hide a launch behind a flood.',
        severity: 'high',
        message: `execwarden lost events: ${describe(delta)}; detections may have been missed in this interval`,
        details: {
          loss: {
            overflows: delta.overflows,
            sequence_gaps: delta.sequenceGaps,
            events_dropped: delta.eventsDropped,
            stale_snapshots: delta.staleSnapshots,
            output_drops: delta.outputDrops,
            sequence_evictions: delta.sequenceEvictions,
          },
        },
      },
      now,
      this.host,
    );
  }
}
