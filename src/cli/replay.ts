/**
 * `execwarden replay [--rules PATH…] [--exceptions FILE] [rule selection] FILE…`: runs a rule set
 * (the bundled rules by default, with run's --enable/--disable selection) over recorded ECS events
 * and prints the alerts as NDJSON. The same engine as the live agent, fed from files. Rule errors
 * stop it before any event is read (exit 1). Recorded events are never acted on.
 */
import { buildAlert } from '../alerts/alert-document.js';
import { AlertThrottle } from '../alerts/alert-throttle.js';
import { systemClock, type Clock } from '../clock.js';
import { formatDiagnostic, RuleDiagnosticCode } from '../rules/diagnostics.js';
import type { RuleSelection } from '../rules/rule-selection.js';
import { loadRuleSet } from '../rules/rule-set-loader.js';
import { EXIT_FAILURE, EXIT_OK } from './exit.js';
import type { CommandIo } from './io.js';
import { readEvents, writeJsonLine, writeText } from './ndjson.js';

export interface ReplayActionOptions {
  files: string[];
  /** Rule files or folders; default: the bundled rules. */
  rules?: string[];
  exceptions?: string;
  /** Which loaded rules run (run's --enable-rule, --disable-tag, ...). */
  selection?: RuleSelection;
  /** De-duplicate identical alerts within this many milliseconds; off when absent or 0. */
  throttleMs?: number;
  clock?: Clock;
}

export interface ReplayResult {
  exitCode: number;
  events: number;
  alerts: number;
  /** Matches silenced by exceptions. */
  suppressed: number;
  /** Alerts held back by the throttle. */
  throttled: number;
  malformed: number;
}

export const replayCommand = {
  name: 'replay',
  arguments: '<files...>',
  description: 'Run detection rules over recorded ECS events (NDJSON files, or - for stdin) and print alerts as NDJSON',
  options: [
    { flags: '--rules <paths...>', description: 'rule files or folders (default: the bundled rules)' },
    { flags: '--exceptions <file>', description: 'exceptions (allow-list) TOML file' },
    { flags: '--throttle-ms <ms>', description: 'flood control: per rule, hold back alerts beyond 20 within this window and summarise them (default: off)' },
  ],
} as const;

export async function replayAction(options: ReplayActionOptions, io: CommandIo): Promise<ReplayResult> {
  const result: ReplayResult = { exitCode: EXIT_OK, events: 0, alerts: 0, suppressed: 0, throttled: 0, malformed: 0 };
  const clock = options.clock ?? systemClock;
  const loaded = await loadRuleSet({
    ...(options.rules === undefined ? {} : { paths: options.rules }),
    ...(options.exceptions === undefined ? {} : { exceptionsFile: options.exceptions }),
    ...(options.selection === undefined ? {} : { selection: options.selection }),
  });
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (loaded.ruleSet === null) {
    for (const d of errors) await writeText(io.stderr, `${formatDiagnostic(d)}\n`);
    await writeText(io.stderr, `execwarden: ${errors.length} error(s) in rules or exceptions; nothing replayed\n`);
    return { ...result, exitCode: EXIT_FAILURE };
  }
  const ruleSet = loaded.ruleSet;
  // A selection name that matches no rule is this command's to report: rules validate has no selection.
  for (const d of loaded.diagnostics) if (d.code === RuleDiagnosticCode.SelectionUnmatched) await writeText(io.stderr, `${formatDiagnostic(d)}\n`);
  const warnings = loaded.diagnostics.filter((d) => d.severity === 'warning' && d.code !== RuleDiagnosticCode.SelectionUnmatched).length;
  if (warnings > 0) await writeText(io.stderr, `execwarden: ${warnings} rule warning(s); see \`execwarden rules validate\`\n`);
  const throttle = options.throttleMs ? new AlertThrottle(clock, { windowMs: options.throttleMs }) : null;

  const records = readEvents(options.files, io, result);
  for await (const { value: event } of records) {
    if (io.signal?.aborted) break;
    result.events++;
    for (const match of ruleSet.evaluate(event)) {
      const alert = throttle === null ? buildAlert(match, clock) : throttle.offer(buildAlert(match, clock));
      if (alert === null) continue;
      result.alerts++;
      await writeJsonLine(io.stdout, alert);
    }
  }
  result.suppressed = ruleSet.stats().suppressed;
  result.throttled = throttle?.stats().suppressed ?? 0;
  await writeText(io.stderr, `execwarden: replayed ${result.events} events with ${ruleSet.size} rules: ${result.alerts} alerts, ${result.suppressed} silenced by exceptions, ${result.throttled} throttled, ${result.malformed} malformed lines\n`);
  return result;
}
