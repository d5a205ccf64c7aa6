import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Watchdog } from '../../src/agent/watchdog.js';
import { notifySystemd } from '../../src/capture/systemd-notify.js';
import { waitFor } from '../support/wait.js';

const clock = { nowMs: () => Date.now() };

describe('Watchdog', () => {
  it('pings at half the timeout systemd asks for, only for this process', () => {
    const make = (env: NodeJS.ProcessEnv) => new Watchdog({ clock, notify: () => true, onStall: () => undefined, env, pid: 42 });
    expect(make({ WATCHDOG_USEC: '30000000' }).pingIntervalMs()).toBe(15_000);
    expect(make({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }).pingIntervalMs()).toBe(15_000);
    expect(make({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '43' }).pingIntervalMs()).toBeNull();
    expect(make({}).pingIntervalMs()).toBeNull();
  });

  it('says READY, pings from the event loop, reports a stall, and says STOPPING', async () => {
    const sent: string[] = [];
    const stalls: number[] = [];
    const dog = new Watchdog({
      clock, notify: (state) => sent.push(state) > 0, onStall: (late) => stalls.push(late),
      env: { WATCHDOG_USEC: '100000' }, stallMs: 150, checkIntervalMs: 20,
    });
    dog.start('watching: 8 rules');
    expect(sent[0]).toBe('READY=1\nSTATUS=watching: 8 rules');
    await waitFor('a ping', () => sent.includes('WATCHDOG=1'), 2_000);
    // Block the event loop: no ping can go out meanwhile, and the late timer says so.
    const pingsBefore = sent.filter((s) => s === 'WATCHDOG=1').length;
    const until = Date.now() + 300;
    while (Date.now() < until) {
      // busy
    }
    expect(sent.filter((s) => s === 'WATCHDOG=1').length).toBe(pingsBefore);
    await waitFor('the stall report', () => stalls.length > 0, 2_000);
    expect(stalls[0]).toBeGreaterThanOrEqual(150);
    dog.stop();
    expect(sent.at(-1)).toBe('STOPPING=1');
  });
});

describe('notifySystemd', () => {
  const dir = mkdtempSync(join(tmpdir(), 'execwarden-notify-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sends a datagram to $NOTIFY_SOCKET, and does nothing without one', async () => {
    const probe = join(dir, 'probe');
    execFileSync('gcc', ['-O2', '-pthread', '-o', probe, new URL('../support/probe.c', import.meta.url).pathname]);
    const socket = join(dir, 'notify.sock');
    const saved = process.env.NOTIFY_SOCKET;
    const listener = spawn(probe, ['notify-listen', socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    let received = '';
    listener.stdout!.on('data', (chunk: Buffer) => (received += chunk.toString()));
    try {
      await waitFor('the listener', () => received.includes('listening'), 5_000);
      process.env.NOTIFY_SOCKET = socket;
      expect(notifySystemd('READY=1\nSTATUS=test')).toBe(true);
      await waitFor('the datagram', () => received.includes('READY=1\nSTATUS=test'), 5_000);
      delete process.env.NOTIFY_SOCKET;
      expect(notifySystemd('READY=1')).toBe(false);
    } finally {
      listener.kill();
      if (saved === undefined) delete process.env.NOTIFY_SOCKET;
      else process.env.NOTIFY_SOCKET = saved;
    }
  });
});
