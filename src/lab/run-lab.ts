/**
 * The lab self-test: start a detector, run every simulation, and check each expectation.
 *
 * Alerts are gathered while the simulations run and matched afterwards by marker, so a slow alert
 * is still attributed correctly. After the last launch the runner waits until every expected
 * alert has arrived (or `alertWaitMs` passed), then a short settle period in which an unwanted
 * alert for a benign look-alike would still show up.
 *
 * With `storm`, the whole run is repeated under a background exec storm; rows carry their phase.
 */
import { alertsForMarker, matchedEventTimeMs, observeAlert, type ObservedAlert, ruleIdOf } from './alert-correlation.js';
import { docField } from '../doc-field.js';
import { type ExecStorm, startExecStorm } from './exec-storm.js';
import { runSimulations, selectVariants, type SimulationResult } from './simulation.js';
import type { LabVariant } from './variants.js';

/** The pipeline under test: the agent's live detector, or a fake in unit tests. */
export interface LabDetector {
  start(): Promise<void>;
  stop(): Promise<void>;
  onAlert(listener: (alert: Record<string, unknown>, observedAtMs: number) => void): void;
}

export type LabPhase = 'calm' | 'storm';

export interface LabRow {
  phase: LabPhase;
  variant: string;
  expected: boolean;
  /** Whether an alert tied to the variant arrived; null when the variant was skipped. */
  observed: boolean | null;
  /** rule.id and rule.name of the alert shown: the expected rule's, else the first tied one. */
  rule: string | null;
  ruleName: string | null;
  /** Every rule that raised an alert tied to the variant. */
  rules: string[];
  /** From the matched event (or, when the alert does not carry its time, from the launch) to the alert. */
  latencyMs: number | null;
  latencyFrom: 'event' | 'launch' | null;
  status: 'pass' | 'fail' | 'skipped';
  /** Why it failed or was skipped. */
  reason?: string;
}

export interface LabReport {
  passed: boolean;
  storm: boolean;
  rows: LabRow[];
  counts: { pass: number; fail: number; skipped: number };
  /** Alerts that no simulation accounts for (other activity on the host). */
  unattributedAlerts: number;
  /**
   * The agent's own "events lost" alerts per phase. A miss in a phase with a loss report was at
   * least not silent; the run still fails, since the expectation was not met.
   */
  lossReports: Record<LabPhase, number>;
  durationMs: number;
}

export interface LabOptions {
  detector: LabDetector;
  storm: boolean;
  /** Variant names; all when absent or empty. */
  variants?: string[];
  /** Longest wait for expected alerts after the last launch. Default 5000 ms. */
  alertWaitMs?: number;
  /** Extra wait for unexpected alerts (and the loss alerts of the phase) once the expected ones are in. Default 1500 ms. */
  settleMs?: number;
  /** Called with each row as its phase completes (live output). */
  onRow?: (row: LabRow) => void;
  /** Replaces the real simulations and storm (unit tests of the runner). */
  simulate?: (variants: LabVariant[], options: { timeoutMs: number }) => Promise<SimulationResult[]>;
  startStorm?: () => ExecStorm;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForAlerts(
  alerts: readonly ObservedAlert[],
  expected: readonly SimulationResult[],
  alertWaitMs: number,
  settleMs: number,
): Promise<void> {
  const deadline = Date.now() + alertWaitMs;
  const allIn = (): boolean => expected.every((r) => alertsForMarker(alerts, r.marker).length > 0);
  while (!allIn() && Date.now() < deadline) await delay(20);
  await delay(settleMs);
}

function rowFor(phase: LabPhase, variant: LabVariant, result: SimulationResult, alerts: readonly ObservedAlert[]): LabRow {
  const base = { phase, variant: variant.name, expected: variant.expectAlert };
  if (result.status === 'skipped') {
    return { ...base, observed: null, rule: null, ruleName: null, rules: [], latencyMs: null, latencyFrom: null, status: 'skipped', reason: result.skipReason };
  }
  const tied = alertsForMarker(alerts, result.marker);
  const fired = [...new Set(tied.map((a) => ruleIdOf(a.alert) ?? '?'))];
  // The row shows (and times) the alert of the rule the variant is about, else the first one.
  const shown = tied.find((a) => ruleIdOf(a.alert) === variant.expectedRuleId) ?? tied[0];
  let latencyMs: number | null = null;
  let latencyFrom: LabRow['latencyFrom'] = null;
  if (shown) {
    const eventMs = matchedEventTimeMs(shown.alert);
    latencyFrom = eventMs === null ? 'launch' : 'event';
    latencyMs = shown.observedAtMs - (eventMs ?? result.launchedAtMs);
  }
  const problems: string[] = [];
  if (result.problem) problems.push(result.problem);
  for (const rule of variant.mustFire) if (!fired.includes(rule)) problems.push(`no alert from rule ${rule}`);
  const forbidden = variant.mustNotFire === 'any' ? fired : fired.filter((r) => (variant.mustNotFire as string[]).includes(r));
  for (const rule of forbidden) problems.push(`unexpected alert from rule ${rule}`);
  const ruleName = shown ? docField(shown.alert, 'rule.name') : null;
  return {
    ...base,
    observed: tied.length > 0,
    rule: shown ? ruleIdOf(shown.alert) : null,
    ruleName: typeof ruleName === 'string' ? ruleName : null,
    rules: fired,
    latencyMs,
    latencyFrom,
    status: problems.length === 0 ? 'pass' : 'fail',
    ...(problems.length > 0 ? { reason: problems.join('; ') } : {}),
  };
}

/** The agent's internal loss alerts carry `execwarden.loss` (counts by cause). */
export function isLossReport(alert: Record<string, unknown>): boolean {
  return docField(alert, 'execwarden.loss') !== undefined;
}

async function runPhase(
  phase: LabPhase,
  variants: LabVariant[],
  alerts: ObservedAlert[],
  opts: LabOptions,
): Promise<{ rows: LabRow[]; markers: string[]; lossReports: number }> {
  const firstAlert = alerts.length;
  // A storm slows every process start on the host; allow more before calling a payload hung.
  const timeoutMs = phase === 'storm' ? 20_000 : 10_000;
  const results = await (opts.simulate ?? runSimulations)(variants, { timeoutMs });
  const expected = results.filter((r, i) => r.status === 'ran' && variants[i]!.expectAlert);
  // Settle past one housekeeping round of the agent (1 s), which is when a loss it saw during the
  // phase becomes its events-lost alert: a miss it reported must not look silent.
  await waitForAlerts(alerts, expected, opts.alertWaitMs ?? 5000, opts.settleMs ?? 1500);
  const lossReports = alerts.slice(firstAlert).filter((a) => isLossReport(a.alert)).length;
  const rows = variants.map((v, i) => rowFor(phase, v, results[i]!, alerts));
  if (lossReports > 0) {
    for (const row of rows) if (row.status === 'fail') row.reason += ' (the agent reported lost events in this phase)';
  }
  rows.forEach((row) => opts.onRow?.(row));
  return { rows, markers: results.map((r) => r.marker), lossReports };
}

export async function runLab(opts: LabOptions): Promise<LabReport> {
  const started = Date.now();
  const variants = selectVariants(opts.variants ?? []);
  const alerts: ObservedAlert[] = [];
  opts.detector.onAlert((alert, observedAtMs) => alerts.push(observeAlert(alert, observedAtMs)));

  const rows: LabRow[] = [];
  const markers: string[] = [];
  const lossReports: Record<LabPhase, number> = { calm: 0, storm: 0 };
  await opts.detector.start();
  try {
    const calm = await runPhase('calm', variants, alerts, opts);
    rows.push(...calm.rows);
    markers.push(...calm.markers);
    lossReports.calm = calm.lossReports;
    if (opts.storm) {
      const storm = (opts.startStorm ?? startExecStorm)();
      try {
        const stormed = await runPhase('storm', variants, alerts, opts);
        rows.push(...stormed.rows);
        markers.push(...stormed.markers);
        lossReports.storm = stormed.lossReports;
      } finally {
        storm.stop();
      }
    }
  } finally {
    await opts.detector.stop();
  }

  const counts = { pass: 0, fail: 0, skipped: 0 };
  for (const row of rows) counts[row.status] += 1;
  const unattributedAlerts = alerts.filter((a) => !isLossReport(a.alert) && !markers.some((m) => a.text.includes(m))).length;
  return { passed: counts.fail === 0, storm: opts.storm, rows, counts, unattributedAlerts, lossReports, durationMs: Date.now() - started };
}
