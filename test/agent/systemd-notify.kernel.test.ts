/**
 * `execwarden run` speaks systemd's notify protocol as the unit's Type=notify and WatchdogSec=
 * expect: READY=1 once it watches, WATCHDOG=1 from its event loop while it runs, STOPPING=1 on
 * SIGTERM. A unix datagram listener (test/support/probe.c) stands in for systemd.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeAsRoot } from '../support/require-root.js';
import { waitFor } from '../support/wait.js';

const ROOT = resolve(import.meta.dirname, '../..');

describeAsRoot('run under a notify socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'execwarden-notify-run-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says READY, feeds the watchdog and says STOPPING', async () => {
    const probe = join(dir, 'probe');
    execFileSync('gcc', ['-O2', '-pthread', '-o', probe, join(ROOT, 'test/support/probe.c')]);
    const socket = join(dir, 'notify.sock');
    const listener = spawn(probe, ['notify-listen', socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    let received = '';
    listener.stdout!.on('data', (chunk: Buffer) => (received += chunk.toString()));
    await waitFor('the listener', () => received.includes('listening'), 5_000);
    const agent = spawn(process.execPath, [join(ROOT, 'bin/execwarden.js'), 'run'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NOTIFY_SOCKET: socket, WATCHDOG_USEC: '2000000' },
    });
    let log = '';
    agent.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    try {
      await waitFor('READY=1', () => received.includes('READY=1'), 20_000, () => log);
      expect(log).toContain('execwarden started');
      await waitFor('a watchdog ping', () => received.includes('WATCHDOG=1'), 5_000);
      const exited = new Promise<number | null>((done) => agent.once('exit', (code) => done(code)));
      agent.kill('SIGTERM');
      expect(await exited).toBe(0);
      await waitFor('STOPPING=1', () => received.includes('STOPPING=1'), 5_000);
    } finally {
      if (agent.exitCode === null) agent.kill('SIGKILL');
      listener.kill();
    }
  });
});
