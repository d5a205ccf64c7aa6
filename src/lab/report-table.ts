/** The lab report as a plain-text table for people; `--json` prints the report itself instead. */
import type { LabReport, LabRow } from './run-lab.js';

const yesNo = (value: boolean | null): string => (value === null ? '-' : value ? 'alert' : 'none');

function cells(row: LabRow, withPhase: boolean): string[] {
  // A response row's latency is its kill time (killedInMs).
  const latency = row.latencyMs === null ? '-'
    : row.phase === 'response' ? `killed in ${row.latencyMs.toFixed(1)} ms`
    : `${row.latencyMs.toFixed(1)} ms${row.latencyFrom === 'launch' ? ' (from launch)' : ''}`;
  const result = row.status === 'pass' ? 'PASS' : row.status === 'fail' ? `FAIL: ${row.reason ?? ''}` : `skipped: ${row.reason ?? ''}`;
  const others = row.rules.length > 1 ? ` +${row.rules.length - 1} other rule(s)` : '';
  const rule = row.rule === null ? '-' : `${row.ruleName ? `${row.ruleName} (${row.rule})` : row.rule}${others}`;
  const columns = [row.variant, yesNo(row.expected), yesNo(row.observed), rule, latency, result];
  return withPhase ? [row.phase, ...columns] : columns;
}

export function formatLabTable(report: LabReport): string {
  const header = ['variant', 'expected', 'observed', 'rule', 'latency', 'result'];
  const withPhase = report.rows.some((r) => r.phase !== 'calm');
  const rows = [withPhase ? ['phase', ...header] : header, ...report.rows.map((r) => cells(r, withPhase))];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
  const { pass, fail, skipped } = report.counts;
  lines.push('');
  lines.push(`${report.passed ? 'PASS' : 'FAIL'}: ${pass} passed, ${fail} failed, ${skipped} skipped` +
    (report.unattributedAlerts > 0 ? `; ${report.unattributedAlerts} other alert(s) from activity on this host` : ''));
  const losses = report.lossReports.calm + report.lossReports.storm + report.lossReports.response;
  if (losses > 0) lines.push(`the agent reported lost events ${losses} time(s) during the run (calm ${report.lossReports.calm}, storm ${report.lossReports.storm}, response ${report.lossReports.response})`);
  return `${lines.join('\n')}\n`;
}
