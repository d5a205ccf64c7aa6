/**
 * Human-readable one-line renderings for a terminal: `formatAlertPretty` for alerts,
 * `formatEventPretty` for ECS process events, `formatPretty` picks by `event.kind`. Every value
 * taken from the document goes through terminalSafe, and colour codes are only added when asked
 * (the caller decides from isTTY / NO_COLOR / config), so a piped `--pretty` stays plain text.
 *
 *   2025-03-01T10:00:00.000Z MEDIUM   Potential Reverse Shell via Background Process
 *     process=bash[4242] parent=setsid[4240] user=root cmd: bash -i >& /dev/tcp/127.0.0.1/9 0>&1
 * (on one line; wrapped here for width).
 */
import { docField } from '../doc-field.js';
import { severityOf, type SeverityLevel } from './severity.js';
import { terminalSafe } from './terminal-text.js';

export interface PrettyOptions {
  /** Add ANSI colours. Default false. */
  color?: boolean;
}

const RESET = '\u001b[0m';
const STYLE = {
  bold: '\u001b[1m',
  dim: '\u001b[2m',
  critical: '\u001b[1;35m',
  high: '\u001b[1;31m',
  medium: '\u001b[33m',
  low: '\u001b[36m',
  info: '\u001b[2m',
} as const;

type Style = keyof typeof STYLE;

function paint(text: string, style: Style, color: boolean): string {
  return color ? `${STYLE[style]}${text}${RESET}` : text;
}

function text(doc: Record<string, unknown>, path: string): string | undefined {
  const value = docField(doc, path);
  if (value === undefined || value === null || value === '') return undefined;
  return terminalSafe(typeof value === 'string' ? value : JSON.stringify(value));
}

/** `name[pid]`, or whichever of the two is known, for `process` or `process.parent`. */
function processLabel(doc: Record<string, unknown>, prefix: string): string | undefined {
  const name = text(doc, `${prefix}.name`);
  const pid = text(doc, `${prefix}.pid`);
  if (name === undefined && pid === undefined) return undefined;
  return `${name ?? '?'}[${pid ?? '?'}]`;
}

function commandLine(doc: Record<string, unknown>): string | undefined {
  const line = docField(doc, 'process.command_line');
  if (typeof line === 'string' && line !== '') return terminalSafe(line);
  const args = docField(doc, 'process.args');
  if (Array.isArray(args) && args.length > 0) return terminalSafe(args.map(String).join(' '));
  return text(doc, 'process.executable');
}

/** The part shared by alerts and events: who ran what, under which parent, as whom. */
function processPart(doc: Record<string, unknown>, color: boolean): string {
  const parts: string[] = [];
  const process = processLabel(doc, 'process');
  if (process) parts.push(`process=${paint(process, 'bold', color)}`);
  const parent = processLabel(doc, 'process.parent');
  if (parent) parts.push(`parent=${parent}`);
  const user = text(doc, 'user.name') ?? text(doc, 'user.id');
  if (user) parts.push(`user=${user}`);
  const cmd = commandLine(doc);
  if (cmd) parts.push(`cmd: ${cmd}`);
  return parts.join(' ');
}

function timestamp(doc: Record<string, unknown>): string {
  return text(doc, '@timestamp') ?? '-';
}

export function formatAlertPretty(doc: Record<string, unknown>, options: PrettyOptions = {}): string {
  const color = options.color === true;
  const level: SeverityLevel = severityOf(doc);
  const label = paint(level.toUpperCase().padEnd(8), level, color);
  const rule = paint(text(doc, 'rule.name') ?? text(doc, 'message') ?? 'alert', 'bold', color);
  const details = processPart(doc, color);
  return `${paint(timestamp(doc), 'dim', color)} ${label} ${rule}${details ? `  ${details}` : ''}`;
}

export function formatEventPretty(doc: Record<string, unknown>, options: PrettyOptions = {}): string {
  const color = options.color === true;
  const action = (text(doc, 'event.action') ?? text(doc, 'event.type') ?? 'event').padEnd(8);
  const details = processPart(doc, color);
  return `${paint(timestamp(doc), 'dim', color)} ${paint(action, 'low', color)} ${details}`.trimEnd();
}

/** Alerts (`event.kind: alert`) as alerts, everything else as an event. */
export function formatPretty(doc: Record<string, unknown>, options: PrettyOptions = {}): string {
  return docField(doc, 'event.kind') === 'alert' ? formatAlertPretty(doc, options) : formatEventPretty(doc, options);
}
