import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EcsVersion } from '@elastic/ecs';
import { FixtureProcFs } from '../../src/process/procfs.js';
import { ProcessEventStream } from '../../src/ecs/process-event-stream.js';
import { ECS_VERSION, agentInfoFor } from '../../src/ecs/agent.js';
import { ttyDevice, type EcsProcessEvent } from '../../src/ecs/process-event.js';
import { TimeBase } from '../../src/ecs/time-base.js';
import type { RawEvent } from '../../src/capture/raw-event.js';
import { makeProcTree, removeTree, writeProcess, type FixtureProcess } from '../process/proc-tree.js';
import { SteppedClock, execEvent, exitEvent, forkEvent, goneSnapshot, threadEvent } from '../process/raw-events.js';
import { ecsProblems } from './ecs-conformance.js';
import { SHELL, accounts, host } from './event-fixtures.js';

describe('ECS process events', () => {
  let root: string;
  let procfs: FixtureProcFs;
  let clock: SteppedClock;
  let stream: ProcessEventStream;
  const docs: EcsProcessEvent[] = [];

  beforeEach(() => {
    root = makeProcTree();
    writeProcess(root, { pid: 1, ppid: 0, comm: 'systemd', argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd', startTicks: 5 });
    writeProcess(root, SHELL);
    procfs = new FixtureProcFs(root);
    clock = new SteppedClock(1_800_000_000_000);
    // Monotonic 1000 s at wall 1_800_000_000_000 ms.
    stream = new ProcessEventStream({ procfs, host, clock, accounts, monotonicNs: () => 1_000_000_000_000n });
    stream.seed();
  });

  afterEach(() => removeTree(root));

  function handle(raw: RawEvent): EcsProcessEvent {
    const doc = stream.handle(raw);
    expect(doc).not.toBeNull();
    docs.push(doc!);
    return doc!;
  }

  function run(p: FixtureProcess, options: { fork?: boolean } = {}): EcsProcessEvent {
    writeProcess(root, p);
    if (options.fork !== false) handle(forkEvent(p.ppid, p.pid, 1_000_500_000_000n));
    return handle(execEvent(p.pid, procfs.snapshot(p.pid), 1_000_500_000_000n));
  }

  it('writes exec events the way Elastic Defend does', () => {
    const doc = run({ pid: 2000, ppid: 1200, comm: 'curl', argv: ['curl', '-s', 'http://x'], exe: '/usr/bin/curl', cwd: '/tmp', sid: 1200, pgid: 2000, ttyNr: 34816, uid: [1000, 1000], gid: [1000, 1000], startTicks: 60_000 });
    expect(doc['@timestamp']).toBe('2027-01-15T08:00:00.500Z');
    expect(doc.event).toMatchObject({ kind: 'event', category: ['process'], type: ['start'], action: 'exec', created: '2027-01-15T08:00:00.000Z' });
    expect(doc.ecs.version).toBe(EcsVersion);
    expect(doc.agent).toEqual({ ...agentInfoFor(host), type: 'execwarden' });
    expect(doc.host).toEqual({
      name: 'web-1', hostname: 'web-1', id: '0123456789abcdef0123456789abcdef', architecture: 'x86_64',
      os: { type: 'linux', kernel: '6.1.0-18-amd64', name: 'Ubuntu', version: '22.04.4 LTS (Jammy Jellyfish)', platform: 'ubuntu', family: 'debian', full: 'Ubuntu 22.04.4 LTS' },
    });
    expect(doc.process).toMatchObject({
      pid: 2000, name: 'curl', executable: '/usr/bin/curl', args: ['curl', '-s', 'http://x'], args_count: 3,
      command_line: 'curl -s http://x', working_directory: '/tmp', interactive: true,
      tty: { char_device: { major: 136, minor: 0 } },
      start: '2023-11-14T22:23:20.000Z',
      parent: { pid: 1200, name: 'bash', executable: '/usr/bin/bash', args: ['-bash'], args_count: 1, command_line: '-bash', entity_id: stream.lookup(1200)!.entityId },
      session_leader: { pid: 1200, name: 'bash', entity_id: stream.lookup(1200)!.entityId },
      group_leader: { pid: 2000, name: 'curl', entity_id: doc.process.entity_id },
      previous: [{ args: ['-bash'], args_count: 1, executable: '/usr/bin/bash' }],
    });
    const alice = { id: '1000', name: 'alice' };
    expect(doc.user).toEqual({ ...alice, effective: alice, Ext: { real: alice } });
    expect(doc.group).toEqual({ ...alice, Ext: { real: alice } });
    // Written even when equal to the effective ids: Defend always writes them.
    expect(doc.process).toMatchObject({ user: alice, real_user: alice, saved_user: alice, group: alice, real_group: alice, saved_group: alice });
    expect(doc.process.parent).toMatchObject({ user: alice, real_user: alice, saved_user: alice });
    expect(doc.execwarden).toBeUndefined();
  });

  it('writes fork and end events', () => {
    writeProcess(root, { ...SHELL, pid: 2100, ppid: 1200, startTicks: 60_100 });
    const fork = handle(forkEvent(1200, 2100));
    expect(fork.event).toMatchObject({ type: ['start'], action: 'fork' });
    expect(fork.process).toMatchObject({ pid: 2100, name: 'bash', args: ['-bash'], parent: { pid: 1200, name: 'bash' } });
    expect(fork.process.previous).toBeUndefined();
    const end = handle(exitEvent(2100, 137 - 128)); // killed by SIGKILL
    expect(end.event).toMatchObject({ kind: 'event', category: ['process'], type: ['end'], action: 'end' });
    expect(end.process).toMatchObject({ pid: 2100, name: 'bash', exit_code: 137, entity_id: fork.process.entity_id });
    expect(end.process.end).toBe(end['@timestamp']);
    const unknown = handle(exitEvent(4242, 3 << 8));
    expect(unknown.process).toEqual({ pid: 4242, exit_code: 3, end: unknown['@timestamp'] });
  });

  it('numbers events and filters actions', () => {
    const only = new ProcessEventStream({ procfs, host, clock, accounts, actions: new Set(['exec']) });
    only.seed();
    expect(only.handle(forkEvent(1200, 2200))).toBeNull();
    const exec = only.handle(execEvent(2200, goneSnapshot()));
    expect(exec?.event.sequence).toBe(1);
    expect(only.handle(exitEvent(2200))).toBeNull();
    expect(only.handle(threadEvent('fork', 1200, 1201))).toBeNull();
    expect(only.stats()).toMatchObject({ eventsIn: 4, documents: { exec: 1, fork: 0, end: 0 } });
  });

  it('writes what is known of an exec whose process was gone, and says so', () => {
    handle(forkEvent(1200, 2300));
    const doc = handle(execEvent(2300, goneSnapshot()));
    expect(doc.process.pid).toBe(2300);
    expect(doc.process.parent).toMatchObject({ pid: 1200, name: 'bash' });
    expect(doc.process.name).toBeUndefined();
    expect(doc.execwarden?.process).toMatchObject({ snapshot_missing: true, start_estimated: true });
  });

  it('flags an exec whose snapshot was read after the process had exec\'d again', () => {
    handle(forkEvent(1200, 2310));
    const snapshot = { ...goneSnapshot(), failed: [], cmdline: Buffer.from('bash\0-c\0sleep 1\0'), exe: '/usr/bin/bash', comm: 'bash', stale: true };
    const doc = handle(execEvent(2310, snapshot));
    expect(doc.process.args).toEqual(['bash', '-c', 'sleep 1']);
    expect(doc.execwarden?.process).toMatchObject({ snapshot_stale: true });
    const fresh = handle(execEvent(2310, { ...snapshot, stale: false }));
    expect(fresh.execwarden?.process?.snapshot_stale).toBeUndefined();
  });

  it('writes real_user and real_group for setuid programs, ids as strings', () => {
    const doc = run({ pid: 2400, ppid: 1200, comm: 'sudo', argv: ['sudo', 'id'], exe: '/usr/bin/sudo', uid: [1000, 0], gid: [1000, 1], startTicks: 60_400 });
    const root = { id: '0', name: 'root' };
    const alice = { id: '1000', name: 'alice' };
    expect(doc.user).toEqual({ ...root, effective: root, Ext: { real: alice } });
    expect(doc.group).toEqual({ id: '1', name: 'daemon', Ext: { real: alice } });
    expect(doc.process.saved_user).toEqual(root);
    expect(doc.process.real_user).toEqual({ id: '1000', name: 'alice' });
    expect(doc.process.real_group).toEqual({ id: '1000', name: 'alice' });
    expect(doc.process.user).toEqual({ id: '0', name: 'root' });
    expect(doc.process.parent?.user).toEqual({ id: '1000', name: 'alice' });
  });

  it('reports both replaced images of a double exec as previous', () => {
    run({ pid: 2500, ppid: 1200, comm: 'nohup', argv: ['nohup', 'sleep', '9'], exe: '/usr/bin/nohup', startTicks: 60_500 });
    const doc = run({ pid: 2500, ppid: 1200, comm: 'sleep', argv: ['sleep', '9'], exe: '/usr/bin/sleep', startTicks: 60_500 }, { fork: false });
    expect(doc.process.name).toBe('sleep');
    expect(doc.process.previous).toEqual([
      { args: ['-bash'], args_count: 1, executable: '/usr/bin/bash' },
      { args: ['nohup', 'sleep', '9'], args_count: 3, executable: '/usr/bin/nohup' },
    ]);
  });

  it('turns hostile command lines into valid single-line JSON without losing anything', () => {
    // As many arguments as fit in 128 KiB of cmdline, the capture cap.
    const big: string[] = [];
    for (let bytes = 0; ; ) {
      const arg = `arg${big.length}-${'z'.repeat(60)}`;
      if (bytes + arg.length + 1 > 128 * 1024) break;
      bytes += arg.length + 1;
      big.push(arg);
    }
    const escape = 'printf "\\e[31mred\\e[0m"\n\u001b]0;title\u0007\r\ttab';
    const invalid = Buffer.concat([Buffer.from('bash\0-c\0'), Buffer.from(escape), Buffer.from([0]), Buffer.from([0x80, 0xff, 0x41, 0])]);
    const lossy = run({ pid: 2600, ppid: 1200, comm: 'bash', argv: invalid, exe: '/usr/bin/bash', startTicks: 60_600 });
    const line = JSON.stringify(lossy);
    expect(line).not.toMatch(/[\n\r\u0000-\u001f]/);
    const back = JSON.parse(line) as EcsProcessEvent;
    expect(back.process.args).toEqual(['bash', '-c', escape, '\uFFFD\uFFFDA']);
    expect(back.execwarden?.process.args_lossy).toBe(true);
    expect(Buffer.from(back.execwarden!.process.cmdline_base64!, 'base64')).toEqual(invalid);

    const huge = run({ pid: 2700, ppid: 1200, comm: 'python3', argv: big, exe: '/usr/bin/python3', startTicks: 60_700 });
    expect(huge.process.args).toEqual(big);
    expect(huge.process.args_count).toBe(big.length);
    expect(huge.execwarden).toBeUndefined();
    expect(JSON.stringify(huge)).not.toContain('\n');

    const capped = new FixtureProcFs(root, { cmdlineMaxBytes: 64 * 1024 });
    const doc = stream.handle(execEvent(2700, capped.snapshot(2700)))!;
    docs.push(doc);
    expect(doc.execwarden?.process.args_truncated).toBe(true);
    expect(doc.process.args!.length).toBeLessThan(big.length);
    // args keeps what fits: the head and the end, the middle cut out; args_count counts every argument.
    expect(doc.process.args_count).toBe(big.length);
    const cut = doc.execwarden!.process.args_cut_at!;
    expect(cut).toBeGreaterThan(0);
    const args = doc.process.args!;
    expect(args.slice(0, cut - 1)).toEqual(big.slice(0, cut - 1));
    expect(args.slice(cut + 1)).toEqual(big.slice(big.length - (args.length - cut - 1)));
    expect(args.at(-1)).toBe(big.at(-1));
  });

  it('rescans /proc after a loss, at most once per interval, never dropping the last request', () => {
    const limited = new ProcessEventStream({ procfs, host, clock, accounts, minResyncIntervalMs: 1000 });
    limited.seed();
    writeProcess(root, { pid: 2800, ppid: 1200, comm: 'vim', argv: ['vim'], exe: '/usr/bin/vim', startTicks: 60_800 });
    limited.resync();
    expect(limited.lookup(2800)?.image.name).toBe('vim');
    writeProcess(root, { pid: 2900, ppid: 1200, comm: 'top', argv: ['top'], exe: '/usr/bin/top', startTicks: 60_900 });
    limited.resync();
    limited.resync();
    expect(limited.lookup(2900)).toBeUndefined();
    clock.advance(999);
    limited.handle(threadEvent('fork', 1200, 1201));
    expect(limited.lookup(2900)).toBeUndefined();
    clock.advance(1);
    limited.handle(threadEvent('fork', 1200, 1202)); // the first event after the interval rescans
    expect(limited.lookup(2900)?.image.name).toBe('top');
    expect(limited.stats()).toMatchObject({ resyncRequests: 3, resyncs: 2 });
    expect(limited.stats().table.scans).toBe(3);
  });

  it('emits only ECS fields of the right type (every document of this suite)', () => {
    expect(docs.length).toBeGreaterThan(15);
    for (const doc of docs) expect(ecsProblems(JSON.parse(JSON.stringify(doc)))).toEqual([]);
  });

  it('the conformance check catches what it must', () => {
    expect(ecsProblems({ process: { pid: '12' } })).toEqual(['process.pid: "12" is not long']);
    expect(ecsProblems({ process: { nmae: 'x' } })).toEqual(['process.nmae: not an ECS field']);
    expect(ecsProblems({ process: { name: ['a'] } })).toEqual(['process.name: ECS field is not an array']);
    expect(ecsProblems({ event: { kind: 'evnt' } })).toEqual(['event.kind: "evnt" is not an allowed value']);
    expect(ecsProblems({ execwarden: { x: { y: 1 } } })).toEqual([]);
  });
});

describe('supporting pieces', () => {
  it('pins the ECS version of the installed @elastic/ecs', () => {
    expect(ECS_VERSION).toBe(EcsVersion);
  });

  it('splits tty_nr into major and minor', () => {
    expect(ttyDevice(34816)).toEqual({ major: 136, minor: 0 });
    expect(ttyDevice(1025)).toEqual({ major: 4, minor: 1 });
    expect(ttyDevice((136 << 8) | (0x123 << 20) | 0x45)).toEqual({ major: 136, minor: 0x12345 });
  });

  it('dates kernel monotonic timestamps with the measured offset', () => {
    const base = new TimeBase({ nowMs: () => 1_000_000 }, () => 5_000_000_000n);
    expect(base.wallMs(6_000_000_000n)).toBe(1_001_000);
    expect(base.wallMs(5_000_001_000n)).toBeCloseTo(1_000_000.001, 6);
    expect(base.wallMs(0n)).toBe(1_000_000);
  });
});
