/**
 * SIGTERM while an output is failing: the agent drains within `[shutdown] drain_seconds`, counts
 * what it could not deliver, says so in its last log line and exits 0, whatever the fault (a full
 * disk under the file output, a webhook server that accepts and never answers, a syslog server
 * that refuses, a stdout nobody reads). Each case runs `execwarden run` as its own process.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runShell } from '../capture/kernel-capture.js';
import { describeAsRoot } from '../support/require-root.js';
import { waitFor } from '../support/wait.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DRAIN_SECONDS = 2;
const MARKER = 'shutdown-fault-marker';

const RULE = `[metadata]
creation_date = "2026/11/30"
maturity = "production"
updated_date = "2026/11/30"

[rule]
author = ["execwarden"]
description = "Every exec of the fault test's marker."
from = "now-9m"
language = "eql"
license = "Apache-2.0"
name = "Shutdown fault marker"
risk_score = 21
rule_id = "5d0c7a31-9e55-4f0e-8f64-2c1f6f3d4b10"
severity = "low"
type = "eql"
query = '''
process where event.type == "start" and event.action == "exec" and process.args == "${MARKER}"
'''
`;

interface Stopped {
  code: number | null;
  signal: NodeJS.Signals | null;
  seconds: number;
  log: string;
}

describeAsRoot('SIGTERM with a failing output', () => {
  let dir: string;
  let tmpfs: string | null = null;
  const servers: Server[] = [];
  const sockets: Socket[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'execwarden-faults-'));
    mkdirSync(join(dir, 'rules'));
    writeFileSync(join(dir, 'rules', 'marker.toml'), RULE);
  });

  afterAll(() => {
    for (const socket of sockets) socket.destroy();
    for (const server of servers) server.close();
    if (tmpfs) {
      try {
        execFileSync('umount', [tmpfs]);
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the agent with `outputs`, raises `alerts` marker alerts, sends SIGTERM, times the exit. */
  async function stopUnderFault(
    name: string,
    outputs: string,
    alerts: number,
    stdio: 'ignore' | 'stall' = 'ignore',
    afterStart?: () => void,
  ): Promise<Stopped> {
    const config = join(dir, `${name}.toml`);
    writeFileSync(
      config,
      `[rules]\npaths = ["${join(dir, 'rules')}"]\n[alerts]\ndedup_window_seconds = 0\n[shutdown]\ndrain_seconds = ${DRAIN_SECONDS}\n${outputs}`,
    );
    const agent: ChildProcess = spawn(process.execPath, [join(ROOT, 'bin/execwarden.js'), 'run', '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    agent.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    // 'stall': nobody ever reads the agent's stdout.
    if (stdio === 'ignore') agent.stdout!.resume();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
      agent.once('exit', (code, signal) => done({ code, signal })),
    );
    try {
      await waitFor(`${name}: start-up`, () => log.includes('execwarden started') || agent.exitCode !== null, 20_000, () => log);
      expect(agent.exitCode, log).toBeNull();
      afterStart?.();
      await runShell(`for i in $(seq ${alerts}); do /bin/true ${MARKER} $i; done`);
      // Let the alerts reach the failing output.
      await new Promise((r) => setTimeout(r, 500));
      const started = performance.now();
      agent.kill('SIGTERM');
      const timeout = setTimeout(() => agent.kill('SIGKILL'), (DRAIN_SECONDS + 10) * 1000);
      const { code, signal } = await exited;
      clearTimeout(timeout);
      return { code, signal, seconds: (performance.now() - started) / 1000, log };
    } finally {
      if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
    }
  }

  function expectBoundedDrain(result: Stopped): number {
    expect(result.signal, result.log).toBeNull();
    expect(result.code, result.log).toBe(0);
    expect(result.seconds, result.log).toBeLessThanOrEqual(DRAIN_SECONDS + 1);
    const last = result.log.trim().split('\n').pop()!;
    const line = JSON.parse(last) as { msg: string; droppedAtShutdown: number };
    expect(line.msg).toMatch(/^execwarden stopped: \d+ documents? still undelivered/);
    return line.droppedAtShutdown;
  }

  it('a file output on a full disk', async () => {
    tmpfs = join(dir, 'full');
    mkdirSync(tmpfs);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', tmpfs]);
    // Fill it up, leaving no room for an alert.
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${join(tmpfs, 'filler')}`, 'bs=4k', 'count=64'], { stdio: 'ignore' });
    } catch {
      // dd stops with ENOSPC: the disk is full, as wanted
    }
    const dropped = expectBoundedDrain(await stopUnderFault('file', `[outputs.file]\npath = "${join(tmpfs, 'alerts.ndjson')}"\n`, 20));
    expect(dropped).toBeGreaterThan(0);
  });

  it('a webhook whose server accepts and never answers', async () => {
    const silent = createServer((socket) => {
      sockets.push(socket);
      socket.resume();
    });
    servers.push(silent);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    const dropped = expectBoundedDrain(await stopUnderFault('webhook', `[outputs.webhook]\nurl = "http://127.0.0.1:${port}/alerts"\ntimeout_ms = 5000\n`, 20));
    expect(dropped).toBeGreaterThan(0);
  });

  it('a syslog server that went away after start-up', async () => {
    // Up for the agent's start-up check, then gone: every delivery is refused and retried.
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.resume();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const result = await stopUnderFault('syslog', `[outputs.syslog]\ntransport = "tcp"\nhost = "127.0.0.1"\nport = ${port}\n`, 20, 'ignore', () => {
      server.close();
      for (const socket of sockets.splice(0)) socket.destroy();
    });
    expect(expectBoundedDrain(result)).toBeGreaterThan(0);
  });

  it('a stdout nobody reads', async () => {
    // Every process event goes to stdout too, so the pipe fills within the run.
    const result = await stopUnderFault('stdout', `[capture]\nevents = true\n[outputs.stdout]\nformat = "ndjson"\n`, 2000, 'stall');
    expectBoundedDrain(result);
  });
});
