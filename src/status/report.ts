/**
 * From facts to the report: every check in section order, the verdict, and the two renderings,
 * one screen of text and the same as JSON. Text taken from the environment was made safe when
 * the checks were built (check.ts, `shown`); the few raw values the JSON adds (service state,
 * counters) go through `shown` here.
 */
import { CHECK_SECTIONS, shown, verdictOf, type Check, type CheckSection, type Verdict } from './check.js';
import { configCheck, rulesCheck } from './config-checks.js';
import { statusContext } from './context.js';
import type { StatusFacts } from './facts.js';
import { hostChecks } from './host-checks.js';
import { outputChecks } from './output-checks.js';
import { serviceChecks, serviceUptimeSeconds } from './service-checks.js';
import { mainPidOf } from './service-facts.js';

export interface StatusReport {
  checks: Check[];
  verdict: Verdict;
}

export function assessStatus(facts: StatusFacts): StatusReport {
  const context = statusContext(facts);
  const checks = [
    ...hostChecks(facts, context),
    ...serviceChecks(facts, context),
    configCheck(facts.config, context),
    rulesCheck(facts.rules),
    ...outputChecks(facts.outputs, context, facts.serviceProcess.uid),
  ];
  return { checks, verdict: verdictOf(checks) };
}

const SECTION_TITLE: Record<CheckSection, string> = {
  host: 'Host and this shell',
  service: 'Service',
  config: 'Config',
  rules: 'Rules',
  outputs: 'Outputs',
};

const LEVEL_WIDTH = 'problem'.length + 2;
const MAX_TITLE_WIDTH = 20;

export function renderStatusText(report: StatusReport): string {
  const titleWidth = Math.min(MAX_TITLE_WIDTH, Math.max(...report.checks.map((c) => c.title.length))) + 2;
  const indent = ' '.repeat(2 + LEVEL_WIDTH + titleWidth);
  const lines: string[] = ['execwarden status', ''];
  for (const section of CHECK_SECTIONS) {
    const checks = report.checks.filter((c) => c.section === section);
    if (checks.length === 0) continue;
    lines.push(SECTION_TITLE[section]);
    let lastFix: string | null = null;
    for (const c of checks) {
      lines.push(`  ${c.level.padEnd(LEVEL_WIDTH)}${c.title.padEnd(titleWidth)}${c.summary}`);
      for (const detail of c.details) lines.push(`${indent}${detail}`);
      // Rows in a run with the same fix (each capability this shell lacks) print it once.
      if (c.fix !== null && c.fix !== lastFix) lines.push(`${indent}${c.level === 'ok' ? 'hint' : 'fix'}: ${c.fix}`);
      lastFix = c.fix;
    }
    lines.push('');
  }
  lines.push(`verdict: ${report.verdict.text}`);
  return `${lines.join('\n')}\n`;
}

function safeRecord(record: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [shown(k, 40), v]));
}

function serviceJson(facts: StatusFacts): Record<string, unknown> {
  const service = facts.service;
  if (service.systemd !== 'running') {
    return { systemd: service.systemd, detail: shown(service.detail), unit_file: service.unitFile === null ? null : shown(service.unitFile) };
  }
  const p = service.properties;
  const text = (value: string | undefined): string | null => (value === undefined ? null : shown(value, 80));
  const pid = mainPidOf(p);
  const restarts = Number(p.NRestarts ?? 'NaN');
  const uptime = serviceUptimeSeconds(p.ActiveEnterTimestampMonotonic, facts.serviceProcess.nowMonotonicUs);
  return {
    systemd: 'running',
    load_state: text(p.LoadState),
    unit_file_state: text(p.UnitFileState),
    active_state: text(p.ActiveState),
    sub_state: text(p.SubState),
    main_pid: pid,
    uptime_seconds: uptime === null ? null : Math.floor(uptime),
    restarts: Number.isInteger(restarts) ? restarts : null,
  };
}

function metricsJson(facts: StatusFacts): Record<string, unknown> | null {
  const metrics = facts.metrics;
  if (metrics.state !== 'read') return metrics.state === 'off' ? null : { state: metrics.state, address: shown(metrics.address) };
  const c = metrics.counters;
  return {
    state: 'read',
    address: shown(metrics.address),
    from_agent: metrics.fromAgent,
    events_by_kind: safeRecord(c.eventsByKind),
    events_lost_by_cause: safeRecord(c.lostByCause),
    snapshot_failures: safeRecord(c.snapshotFailures),
    output_dropped: safeRecord(c.outputDropped),
    alerts: c.alerts,
    realtime: c.realtime,
    rules_loaded: c.rulesLoaded,
  };
}

/** The report as one JSON value: the verdict, every check, and the service's state and counters. */
export function statusJson(report: StatusReport, facts: StatusFacts): Record<string, unknown> {
  return {
    verdict: report.verdict.state,
    reasons: report.verdict.reasons,
    summary: report.verdict.text,
    exit_code: report.verdict.exitCode,
    checks: report.checks.map((c) => ({ id: c.id, section: c.section, level: c.level, title: c.title, summary: c.summary, fix: c.fix, details: c.details })),
    service: serviceJson(facts),
    metrics: metricsJson(facts),
  };
}
