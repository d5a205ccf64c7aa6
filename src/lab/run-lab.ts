/**
 * The lab self-test: start a detector, run every simulation, and check each expectation.
 *
 * Alerts are gathered while the simulations run and matched afterwards by marker, so a slow alert
 * is still attributed correctly. After the last launch the runner waits until every expected
 * alert has arrived (or `alertWaitMs` passed), then a short settle period in which an unwanted
 * alert for a benign look-alike would still show up.
 *
 * With `storm`, the whole run is repeated under a background exec storm; rows carry their phase.
 *
 * With `response`, a last phase runs a few reverse shells against a second detector that kills
 * what its rules catch ([response] kill_process): the listener never answers, so a shell ends
 * only if it is killed. A row passes when an alert tied to it records a kill, made within
 * RESPONSE_BOUND_MS of the matched exec, and no process of the simulation was left running.
 */
import { alertsForMarker, matchedEventTimeMs, observeAlert, type ObservedAlert, ruleIdOf } from './alert-correlation.js';
import { docField } from '../doc-field.js';
import { type ExecStorm, startExecStorm } from './exec-storm.js';
import { runSimulations, selectVariants, type SimulationResult } from './simulation.js';
import { RESPONSE_BOUND_MS } from './response-bound.js';
import type { LabVariant } from './variants.js';

/** The pipeline under test: the agent's live detector, or a fake in unit tests. */
export interface LabDetector {
  start(): Promise<void>;
  stop(): Promise<void>;
  onAlert(listener: (alert: Record<string, unknown>, observedAtMs: number) => void): void;
}

export type LabPhase = 'calm' | 'storm' | 'response';

export { RESPONSE_BOUND_MS };

/**
 * The response check's reverse shells: the seed rule's setsid and nohup forms, a bare /dev/tcp
 * shell, and a shell served by netcat, socat, python and perl (each caught by another rule).
 */
export const RESPONSE_VARIANTS = [
  'bash-setsid', 'bash-nohup', 'bash-dev-tcp-bare', 'nc-traditional-e-bare', 'socat-exec-pty-bare',
  'python3-subprocess-bare', 'perl-socket-exec-bare',
] as const;

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
  /** Response phase: from the matched exec to the kill, when one was made. */
  killedInMs?: number | null;
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
  /** Runs the response phase with this detector (its config must have the kill response on). */
  response?: { detector: LabDetector; variants?: readonly string[] };
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

/** The row fields every phase fills alike from the alerts tied to a variant and the one shown. */
function observedFields(tied: readonly ObservedAlert[], shown: ObservedAlert | undefined, fired: string[], problems: string[]) {
  const ruleName = shown ? docField(shown.alert, 'rule.name') : null;
  return {
    observed: tied.length > 0,
    rule: shown ? ruleIdOf(shown.alert) : null,
    ruleName: typeof ruleName === 'string' ? ruleName : null,
    rules: fired,
    status: problems.length === 0 ? ('pass' as const) : ('fail' as const),
    ...(problems.length > 0 ? { reason: problems.join('; ') } : {}),
  };
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
  return { ...base, ...observedFields(tied, shown, fired, problems), latencyMs, latencyFrom };
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

interface KillRecord {
  result: string;
  '@timestamp': string;
}

function responseRow(variant: LabVariant, result: SimulationResult, alerts: readonly ObservedAlert[]): LabRow {
  const base = { phase: 'response' as const, variant: variant.name, expected: true };
  if (result.status === 'skipped') {
    return { ...base, observed: null, rule: null, ruleName: null, rules: [], latencyMs: null, latencyFrom: null, status: 'skipped', reason: result.skipReason, killedInMs: null };
  }
  const tied = alertsForMarker(alerts, result.marker);
  const fired = [...new Set(tied.map((a) => ruleIdOf(a.alert) ?? '?'))];
  // The earliest kill among the tied alerts, timed from its own alert's matched event.
  let kill: { alert: ObservedAlert; inMs: number | null } | null = null;
  for (const observed of tied) {
    const records = (docField(observed.alert, 'execwarden.response') ?? []) as KillRecord[];
    const killed = records.find((r) => r.result === 'killed');
    if (!killed) continue;
    const eventMs = matchedEventTimeMs(observed.alert);
    const inMs = eventMs === null ? null : Date.parse(killed['@timestamp']) - eventMs;
    if (kill === null || (inMs !== null && (kill.inMs === null || inMs < kill.inMs))) kill = { alert: observed, inMs };
  }
  const problems: string[] = [];
  if (tied.length === 0) problems.push('no alert');
  else if (kill === null) {
    const outcomes = tied.flatMap((a) => ((docField(a.alert, 'execwarden.response') ?? []) as KillRecord[]).map((r) => r.result));
    problems.push(`no kill recorded (${outcomes.length > 0 ? outcomes.join(', ') : 'no response on the alerts'})`);
  } else if (kill.inMs === null || kill.inMs > RESPONSE_BOUND_MS) {
    problems.push(`killed ${kill.inMs === null ? 'at an unknown time' : `${kill.inMs} ms`} after the matched exec (bound ${RESPONSE_BOUND_MS} ms)`);
  }
  if (result.allGoneAtMs === null || result.allGoneAtMs === undefined) problems.push('processes of the simulation were still running at the time limit');
  const killedInMs = kill?.inMs ?? null;
  return {
    ...base,
    ...observedFields(tied, kill?.alert ?? tied[0], fired, problems),
    latencyMs: killedInMs,
    latencyFrom: killedInMs === null ? null : 'event',
    killedInMs,
  };
}

async function runResponsePhase(
  variants: LabVariant[],
  detector: LabDetector,
  alerts: ObservedAlert[],
  opts: LabOptions,
): Promise<{ rows: LabRow[]; markers: string[]; lossReports: number }> {
  const firstAlert = alerts.length;
  await detector.start();
  let results: SimulationResult[];
  try {
    results = await (opts.simulate ?? runSimulations)(variants, { timeoutMs: 10_000, response: true });
    // Alerts are delivered as they leave the engine; a moment for the last one to arrive.
    await delay(opts.settleMs ?? 500);
  } finally {
    await detector.stop();
  }
  const rows = variants.map((v, i) => responseRow(v, results[i]!, alerts));
  rows.forEach((row) => opts.onRow?.(row));
  return { rows, markers: results.map((r) => r.marker), lossReports: alerts.slice(firstAlert).filter((a) => isLossReport(a.alert)).length };
}

export async function runLab(opts: LabOptions): Promise<LabReport> {
  const started = Date.now();
  const variants = selectVariants(opts.variants ?? []);
  const alerts: ObservedAlert[] = [];
  opts.detector.onAlert((alert, observedAtMs) => alerts.push(observeAlert(alert, observedAtMs)));
  opts.response?.detector.onAlert((alert, observedAtMs) => alerts.push(observeAlert(alert, observedAtMs)));

  const rows: LabRow[] = [];
  const markers: string[] = [];
  const lossReports: Record<LabPhase, number> = { calm: 0, storm: 0, response: 0 };
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
  if (opts.response) {
    const phase = await runResponsePhase(selectVariants([...(opts.response.variants ?? RESPONSE_VARIANTS)]), opts.response.detector, alerts, opts);
    rows.push(...phase.rows);
    markers.push(...phase.markers);
    lossReports.response = phase.lossReports;
  }

  const counts = { pass: 0, fail: 0, skipped: 0 };
  for (const row of rows) counts[row.status] += 1;
  const unattributedAlerts = alerts.filter((a) => !isLossReport(a.alert) && !markers.some((m) => a.text.includes(m))).length;
  return { passed: counts.fail === 0, storm: opts.storm, rows, counts, unattributedAlerts, lossReports, durationMs: Date.now() - started };
}
