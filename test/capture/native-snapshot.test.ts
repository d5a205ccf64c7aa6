/**
 * The native reader's /proc parsing against the TypeScript scanner's, on the same fixture trees:
 * the two must describe a process identically (the table cannot tell a scanned process from a
 * captured one), including on hostile input. Needs the built addon, which `npm ci` builds.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../../src/capture/native.js';
import type { ProcSnapshot } from '../../src/capture/raw-event.js';
import { FixtureProcFs } from '../../src/process/procfs.js';
import { makeProcTree, removeTree, statLine, type FixtureProcess } from '../process/proc-tree.js';
import { random } from '../support/random.js';

const addon = loadNativeAddon();
const root = makeProcTree('execwarden-native-');
afterAll(() => removeTree(root));

interface Extra {
  environ?: Buffer;
  status?: string;
  cgroup?: string;
  cmdline?: Buffer;
}

/** A process directory with real symlinks (the native reader uses readlink). */
function write(p: FixtureProcess, extra: Extra = {}): void {
  const dir = join(root, String(p.pid));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cmdline'), extra.cmdline ?? Buffer.from((p.argv as string[]).map((a) => `${a}\0`).join('')));
  writeFileSync(join(dir, 'comm'), `${p.comm}\n`);
  writeFileSync(join(dir, 'stat'), statLine(p));
  writeFileSync(join(dir, 'status'), extra.status ?? 'Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n');
  writeFileSync(join(dir, 'cgroup'), extra.cgroup ?? '9:name=systemd:/\n0::/user.slice\n');
  if (extra.environ) writeFileSync(join(dir, 'environ'), extra.environ);
  if (p.exe !== null) symlinkSync(p.exe ?? `/usr/bin/${p.comm}`, join(dir, 'exe'));
  symlinkSync(p.cwd ?? '/', join(dir, 'cwd'));
}

const OPTIONS = { envVars: ['LD_PRELOAD', 'SSH_CONNECTION'], envScanMaxBytes: 4096, envValueMaxBytes: 64, envMaxEntries: 3, cmdlineMaxBytes: 256 };

function both(pid: number): { native: ProcSnapshot; scanned: ProcSnapshot } {
  const native = addon.snapshotForTest(pid, { ...OPTIONS, procRoot: root });
  const scanned = new FixtureProcFs(root, {
    envVars: OPTIONS.envVars,
    cmdlineMaxBytes: OPTIONS.cmdlineMaxBytes,
    environLimits: { scanMaxBytes: OPTIONS.envScanMaxBytes, valueMaxBytes: OPTIONS.envValueMaxBytes, maxEntries: OPTIONS.envMaxEntries },
  }).snapshot(pid)!;
  return { native, scanned };
}

function comparable(s: ProcSnapshot): Record<string, unknown> {
  // The native reader reads comm from stat, the scanner from comm: the fixture writes the same.
  // Standard streams are the native reader's alone (test/capture/native-stdio.test.ts).
  const { stale: _stale, commRenamed: _renamed, stdio: _stdio, parentStdio: _parentStdio, failed, ...rest } = s as ProcSnapshot & { stale?: boolean; commRenamed?: boolean };
  return {
    ...rest,
    cmdline: rest.cmdline?.toString('hex') ?? null,
    envTruncated: rest.envTruncated === true,
    argsTotal: rest.argsTotal ?? -1,
    argsTotalExact: rest.argsTotalExact ?? true,
    cmdlineTailOffset: rest.cmdlineTailOffset ?? -1,
    env: rest.env ?? null,
    startedAfterEvent: rest.startedAfterEvent ?? false,
    failed: [...failed].sort(),
  };
}

describe('native snapshot = scanner snapshot', () => {
  it('on an ordinary process with saved ids, capabilities, environ and a hybrid cgroup', () => {
    write(
      { pid: 10, ppid: 1, comm: 'bash', argv: ['bash', '-c', 'id'], exe: '/usr/bin/bash', cwd: '/home/a', startTicks: 500, ttyNr: (136 << 8) | 2 },
      { environ: Buffer.from('PATH=/bin\0LD_PRELOAD=/tmp/x.so\0SSH_CONNECTION=1.2.3.4 5 6.7.8.9 22\0TOKEN=secret\0') },
    );
    const { native, scanned } = both(10);
    expect(comparable(native)).toEqual(comparable(scanned));
    expect(native).toMatchObject({ ruid: 1000, euid: 0, suid: 0, capEffective: 2 ** 41 - 1, env: ['LD_PRELOAD=/tmp/x.so', 'SSH_CONNECTION=1.2.3.4 5 6.7.8.9 22'] });
    expect(native.cgroup).toBe('9:name=systemd:/\n0::/user.slice\n');
  });

  it('on hostile names and padded, duplicated, oversized environments', () => {
    const dupes = Array.from({ length: 6 }, (_, i) => `LD_PRELOAD=/b/${i}.so`).join('\0');
    write(
      { pid: 11, ppid: 1, comm: 'x) S 1 1 1 (y', argv: ['a'], exe: '/tmp/a b', startTicks: 501 },
      { environ: Buffer.from(`${dupes}\0LD_PRELOAD=/tmp/${'z'.repeat(100)}\0LD_PRELOAD=/tmp/last.so\0`) },
    );
    const { native, scanned } = both(11);
    expect(comparable(native)).toEqual(comparable(scanned));
    expect(native.env).toEqual(['LD_PRELOAD=/b/0.so', 'LD_PRELOAD=/b/1.so', 'LD_PRELOAD=/tmp/last.so']);
    expect(native.envTruncated).toBe(true);

    write({ pid: 12, ppid: 1, comm: 'p', argv: ['p'], startTicks: 502 }, { environ: Buffer.from(`PAD=${'x'.repeat(5000)}\0LD_PRELOAD=/tmp/hidden.so\0`) });
    const padded = both(12);
    expect(comparable(padded.native)).toEqual(comparable(padded.scanned));
    expect(padded.native).toMatchObject({ env: [], envTruncated: true });

    write({ pid: 13, ppid: 1, comm: 'q', argv: ['q'], startTicks: 503 }, { environ: Buffer.from(`${'N'.repeat(300)}=1\0LD_PRELOAD=/x\0LD_PRELOAD\0=\0`) });
    const odd = both(13);
    expect(comparable(odd.native)).toEqual(comparable(odd.scanned));
    expect(odd.native.env).toEqual(['LD_PRELOAD=/x']);
  });

  it('tells an empty argv from a zombie, and cuts a long cmdline', () => {
    write({ pid: 14, ppid: 1, comm: 'empty', argv: [], startTicks: 504 }, { cmdline: Buffer.alloc(0) });
    const empty = both(14);
    expect(comparable(empty.native)).toEqual(comparable(empty.scanned));
    expect(empty.native.cmdline).toEqual(Buffer.alloc(0));
    expect(empty.native.failed).not.toContain('cmdline');

    write({ pid: 15, ppid: 1, comm: 'z', argv: [], startTicks: 505, state: 'Z' }, { cmdline: Buffer.alloc(0) });
    const zombie = both(15);
    expect(comparable(zombie.native)).toEqual(comparable(zombie.scanned));
    expect(zombie.native.cmdline).toBeNull();
    expect(zombie.native.failed).toContain('cmdline');

    write({ pid: 16, ppid: 1, comm: 'long', argv: ['y'.repeat(300), 'a', 'b', 'c'], startTicks: 506 });
    const long = both(16);
    expect(comparable(long.native)).toEqual(comparable(long.scanned));
    // Cut at 256 bytes, keeping its head and its end, and every argument counted.
    expect(long.native).toMatchObject({ cmdlineTruncated: true, argsTotal: 4, argsTotalExact: true, cmdlineTailOffset: 128 });
    expect(long.native.cmdline!.length).toBe(256);
    expect(long.native.cmdline!.subarray(128).toString().endsWith('\0a\0b\0c\0')).toBe(true);

    const many = Array.from({ length: 500 }, (_, i) => `arg${i}`);
    write({ pid: 18, ppid: 1, comm: 'many', argv: many, startTicks: 508 });
    const counted = both(18);
    expect(comparable(counted.native)).toEqual(comparable(counted.scanned));
    expect(counted.native).toMatchObject({ cmdlineTruncated: true, argsTotal: 500 });
    const capped = addon.snapshotForTest(18, { ...OPTIONS, argsCountMaxBytes: 100, procRoot: root });
    expect(capped.argsTotalExact).toBe(false);
    expect(capped.argsTotal).toBeLessThan(500);
  });

  it('flags each unreadable file and keeps what it could read', () => {
    write({ pid: 17, ppid: 1, comm: 'k', argv: ['k'], exe: null, startTicks: 507 }, { status: 'Name:\tk\n' });
    const { native, scanned } = both(17);
    expect(comparable(native)).toEqual(comparable(scanned));
    expect(native.failed.sort()).toEqual(['environ', 'exe', 'status']);
    expect(native).toMatchObject({ ruid: -1, suid: -1, capEffective: -1, env: null });
  });

  it('on generated environments, entries crossing the reader\'s 16 KiB chunks included', () => {
    const next = random(8);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const names = ['LD_PRELOAD', 'SSH_CONNECTION', 'LD_PRELOADX', 'LD_', 'L', 'PATH', '', 'SSH_CONNECTION2', 'ld_preload'];
    let kept = 0;
    let cut = 0;
    for (let round = 0; round < 40; round++) {
      const pid = 100 + round;
      const parts: Buffer[] = [];
      const entries = 1 + Math.floor(next() * 30);
      for (let i = 0; i < entries; i++) {
        const size = pick([0, 1, 7, 63, 64, 65, 700, 5000, 16_380]);
        const value = Buffer.alloc(size, pick(['a', 'é', '\u0001', '=']));
        parts.push(Buffer.from(`${pick(names)}${next() < 0.9 ? '=' : ''}`), value, Buffer.from(next() < 0.95 ? [0] : []));
      }
      write({ pid, ppid: 1, comm: 'gen', argv: ['gen'], startTicks: 600 + round }, { environ: Buffer.concat(parts) });
      const options = { envVars: ['LD_PRELOAD', 'SSH_CONNECTION'], envScanMaxBytes: pick([100, 4096, 40_000]), envValueMaxBytes: pick([16, 64, 1024]), envMaxEntries: pick([1, 3, 16]) };
      const native = addon.snapshotForTest(pid, { ...options, procRoot: root });
      const scanned = new FixtureProcFs(root, {
        envVars: options.envVars,
        environLimits: { scanMaxBytes: options.envScanMaxBytes, valueMaxBytes: options.envValueMaxBytes, maxEntries: options.envMaxEntries },
      }).snapshot(pid)!;
      expect({ env: native.env, truncated: native.envTruncated === true }, `round ${round}`).toEqual({ env: scanned.env, truncated: scanned.envTruncated === true });
      if ((native.env?.length ?? 0) > 0) kept++;
      if (native.envTruncated) cut++;
    }
    // The mix exercises both sides: rounds that keep variables and rounds that cut.
    expect(kept).toBeGreaterThan(10);
    expect(cut).toBeGreaterThan(5);
  });

  it('on generated argv around the cap: the same head, end and count', () => {
    const next = random(11);
    for (let round = 0; round < 60; round++) {
      const pid = 300 + round;
      const argv = Array.from({ length: 1 + Math.floor(next() * 40) }, () => 'é'.repeat(Math.floor(next() * 30)) + 'x'.repeat(Math.floor(next() * 60)));
      write({ pid, ppid: 1, comm: 'gen', argv, startTicks: 900 + round });
      const limits = { cmdlineMaxBytes: 300, cmdlineTailBytes: [0, 16, 64, 200][round % 4]!, argsCountMaxBytes: [0, 50, 1 << 20][round % 3]! };
      const native = addon.snapshotForTest(pid, { ...limits, procRoot: root });
      const scanned = new FixtureProcFs(root, limits).snapshot(pid)!;
      expect(comparable(native), `round ${round}`).toEqual(comparable(scanned));
    }
  });
});
