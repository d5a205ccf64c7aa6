import { describe, expect, it } from 'vitest';
import { readFileSync, readlinkSync } from 'node:fs';
import { FixtureProcFs, RealProcFs, parseBootTimeMs, parseStat, parseStatus } from '../../src/process/procfs.js';
import { makeProcTree, removeTree, writeProcess } from './proc-tree.js';

const BASIC = new URL('../fixtures/proc/basic', import.meta.url).pathname;

describe('parseStat', () => {
  it('takes the fields after the last ")" so a comm with ") " cannot shift them', () => {
    const text = '77 (evil) 1 2 3 (x)) S 10 20 30 34817 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 4242 0 0\n';
    expect(parseStat(text)).toEqual({ state: 'S', ppid: 10, pgid: 20, sid: 30, ttyNr: 34817, startTicks: 4242 });
  });

  it('rejects text without the expected fields', () => {
    expect(parseStat('12 (x) S 1 2')).toBeNull();
    expect(parseStat('no parenthesis')).toBeNull();
  });
});

describe('small /proc parsers', () => {
  it('reads real, effective and saved ids and the capability masks from status', () => {
    const status =
      'Name:\tping\nUid:\t1000\t0\t7\t0\nGid:\t1000\t1001\t1002\t1001\n' +
      'CapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t0000000000200000\nCapBnd:\t00000000a80425fb\n';
    expect(parseStatus(status)).toEqual({
      ruid: 1000, euid: 0, suid: 7, rgid: 1000, egid: 1001, sgid: 1002,
      capPermitted: 0x1ffffffffff, capEffective: 0x200000, capBounding: 0xa80425fb, threads: -1,
    });
    expect(parseStatus('Uid:\t1\t2\t3\t4\nGid:\t5\t6\t7\t8\nThreads:\t12\n')?.threads).toBe(12);
    expect(parseStatus('Uid:\t1\t2\t3\t4\nGid:\t5\t6\t7\t8\n')).toMatchObject({ suid: 3, sgid: 7, capEffective: -1 });
    expect(parseStatus('Name:\tx\n')).toBeNull();
  });

  it('reads btime', () => {
    expect(parseBootTimeMs('cpu 1\nbtime 1700000000\n')).toBe(1_700_000_000_000);
  });
});

describe('FixtureProcFs', () => {
  const procfs = new FixtureProcFs(BASIC);

  it('lists the pids of the tree in order and knows the boot time', () => {
    expect(procfs.listPids()).toEqual([1, 2, 640, 1200, 1300]);
    expect(procfs.bootTimeMs()).toBe(1_700_000_000_000);
    expect(procfs.clockTicksPerSecond).toBe(100);
  });

  it('snapshots a process like the native reader does', () => {
    const snap = procfs.snapshot(1300);
    expect(snap).not.toBeNull();
    expect(snap!.cmdline!.toString()).toBe('/opt/tool/bin/tricky\0--flag\0\0');
    expect(snap).toMatchObject({
      cmdlineTruncated: false,
      comm: 'tricky) name',
      exe: '/opt/tool/bin/tricky (deleted)',
      cwd: '/',
      ppid: 1200,
      pgid: 1300,
      sid: 1200,
      ttyNr: 34816,
      startTicks: 60_000,
      ruid: 1000,
      euid: 0,
      rgid: 1000,
      egid: 1000,
      cgroup: '0::/user.slice/session-1.scope\n',
      failed: [],
    });
  });

  it('follows symlinks for exe and cwd as /proc has them', () => {
    expect(procfs.snapshot(1200)!.cwd).toBe('/home/alice');
  });

  it('flags reads that fail instead of throwing (kernel thread without exe)', () => {
    const snap = procfs.snapshot(2)!;
    expect(snap.exe).toBeNull();
    expect(snap.failed).toEqual(['exe']);
    expect(snap.cmdline!.length).toBe(0);
  });

  it('returns null for a pid that does not exist', () => {
    expect(procfs.snapshot(99999)).toBeNull();
    expect(procfs.startTicks(99999)).toBeNull();
    expect(procfs.startTicks(1300)).toBe(60_000);
  });

  it('cuts cmdline at the cap and says so', () => {
    const root = makeProcTree();
    try {
      writeProcess(root, { pid: 5, ppid: 1, comm: 'long', argv: ['x'.repeat(100), 'y'.repeat(100)], startTicks: 1 });
      const capped = new FixtureProcFs(root, { cmdlineMaxBytes: 150 }).snapshot(5)!;
      expect(capped.cmdline!.length).toBe(150);
      expect(capped.cmdlineTruncated).toBe(true);
      const exact = new FixtureProcFs(root, { cmdlineMaxBytes: 202 }).snapshot(5)!;
      expect(exact.cmdline!.length).toBe(202);
      expect(exact.cmdlineTruncated).toBe(false);
    } finally {
      removeTree(root);
    }
  });
});

describe('RealProcFs', () => {
  it('describes this very process', () => {
    const procfs = new RealProcFs();
    const snap = procfs.snapshot(process.pid)!;
    expect(snap.cmdline!.toString('utf8').split('\0').slice(0, -1)).toEqual(
      readFileSync('/proc/self/cmdline', 'utf8').split('\0').slice(0, -1),
    );
    expect(snap.exe).toBe(readlinkSync('/proc/self/exe'));
    expect(snap.cwd).toBe(process.cwd());
    expect(snap.ppid).toBe(process.ppid);
    expect(snap.ruid).toBe(process.getuid!());
    expect(procfs.listPids()).toContain(process.pid);
    expect(procfs.bootTimeMs()).toBeGreaterThan(0);
    expect(procfs.bootTimeMs()).toBeLessThan(Date.now());
  });
});
