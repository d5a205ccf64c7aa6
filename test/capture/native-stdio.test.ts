/**
 * The native reader's standard-stream probe on fixture trees: link classification, a path's type
 * from its inode, sockets resolved from a /proc/<pid>/net listing (chunk boundaries, IPv6, an
 * unconnected socket, the scan cap), the parent's streams; and the link-text classifier that reads
 * the same tree from JS. Inodes above 2^32 keep the unix-socket lookup (which asks the real
 * kernel) out of it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../../src/capture/native.js';
import { FixtureProcFs } from '../../src/process/procfs.js';
import { readStdioLinks } from '../../src/process/stdio.js';
import { makeProcTree, removeTree, statLine } from '../process/proc-tree.js';
import { buildReaderHarness, runReaderHarness } from './reader-harness.js';

const addon = loadNativeAddon();
const root = makeProcTree('execwarden-stdio-');
afterAll(() => removeTree(root));

const HEADER_V4 = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
const HEADER_V6 = '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';

function v4Line(slot: number, local: string, remote: string, inode: number | bigint): string {
  return `${String(slot).padStart(4)}: ${local} ${remote} 01 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 20 4 30 10 -1\n`;
}

interface Fixture {
  pid: number;
  ppid?: number;
  fds: Record<number, string>;
  netns?: string;
  net?: Partial<Record<'tcp' | 'tcp6' | 'udp' | 'udp6', string>>;
}

function write(f: Fixture): void {
  const dir = join(root, String(f.pid));
  mkdirSync(join(dir, 'fd'), { recursive: true });
  writeFileSync(join(dir, 'cmdline'), 'sh\0');
  writeFileSync(join(dir, 'comm'), 'sh\n');
  writeFileSync(join(dir, 'stat'), statLine({ pid: f.pid, ppid: f.ppid ?? 1, comm: 'sh', argv: ['sh'], startTicks: 10 }));
  writeFileSync(join(dir, 'status'), 'Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n');
  writeFileSync(join(dir, 'cgroup'), '0::/\n');
  symlinkSync('/usr/bin/sh', join(dir, 'exe'));
  symlinkSync('/', join(dir, 'cwd'));
  for (const [fd, target] of Object.entries(f.fds)) symlinkSync(target, join(dir, 'fd', fd));
  if (f.netns) {
    mkdirSync(join(dir, 'ns'));
    symlinkSync(f.netns, join(dir, 'ns', 'net'));
  }
  if (f.net) {
    mkdirSync(join(dir, 'net'));
    for (const [name, text] of Object.entries(f.net)) writeFileSync(join(dir, 'net', name), text);
  }
}

const BIG = 2n ** 33n; // beyond the unix lookup's 32-bit inodes

describe('native stdio probe', () => {
  it('classifies links and types paths from their inode', () => {
    const fifo = join(root, 'a-fifo');
    execFileSync('mkfifo', [fifo]);
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    write({ pid: 20, fds: { 0: fifo, 1: file, 2: '/dev/null' } });
    const snap = addon.snapshotForTest(20, { procRoot: root });
    expect(snap.stdio).toEqual([
      { type: 'fifo', path: fifo },
      { type: 'file', path: file },
      { type: 'null', path: '/dev/null' },
    ]);
  });

  it('tells pipes, anonymous inodes, ttys and closed descriptors by their link', () => {
    write({ pid: 21, fds: { 0: 'pipe:[4242]', 1: 'anon_inode:[eventfd]' } });
    const snap = addon.snapshotForTest(21, { procRoot: root });
    expect(snap.stdio).toEqual([
      { type: 'pipe', path: 'pipe:[4242]', inode: 4242 },
      { type: 'anon', path: 'anon_inode:[eventfd]' },
      { type: 'closed' },
    ]);
    write({ pid: 22, fds: { 0: '/dev/pts/3', 1: '/dev/pts/3', 2: '/dev/pts/3' } });
    expect(addon.snapshotForTest(22, { procRoot: root }).stdio![0]).toEqual({ type: 'tty', path: '/dev/pts/3' });
  });

  it('resolves a TCP socket from the listing, past a chunk boundary, and shares it between streams', () => {
    const inode = BIG + 7n;
    let tcp = HEADER_V4;
    for (let i = 0; i < 400; i++) tcp += v4Line(i, '0100007F:1F90', '00000000:0000', BIG + 1000n + BigInt(i));
    tcp += v4Line(400, '0100007F:9C40', '0100007F:115C', inode);
    expect(tcp.length).toBeGreaterThan(40_000);
    write({ pid: 23, fds: { 0: `socket:[${inode}]`, 1: `socket:[${inode}]`, 2: '/dev/null' }, net: { tcp } });
    const snap = addon.snapshotForTest(23, { procRoot: root });
    const socket = { family: 'ipv4', type: 'stream', protocol: 'tcp', local: { ip: '127.0.0.1', port: 40000 }, remote: { ip: '127.0.0.1', port: 4444 } };
    expect(snap.stdio![0]).toEqual({ type: 'socket', path: `socket:[${inode}]`, inode: Number(inode), socket });
    expect(snap.stdio![1]!.socket).toEqual(socket);
  });

  it('resolves IPv6 and UDP, and leaves an unconnected socket without a remote', () => {
    const v6 = BIG + 8n;
    const udp = BIG + 9n;
    // ::1 as the kernel prints it: four host-order words.
    const tcp6 = HEADER_V6 + v4Line(0, '00000000000000000000000001000000:0050', '00000000000000000000000001000000:D431', v6).replace(/ 01 /, ' 01 ');
    const udpText = HEADER_V4 + v4Line(0, '0100007F:0035', '00000000:0000', udp);
    write({ pid: 24, fds: { 0: `socket:[${v6}]`, 1: `socket:[${udp}]`, 2: `socket:[${BIG + 10n}]` }, net: { tcp: HEADER_V4, tcp6, udp: udpText, udp6: HEADER_V6 } });
    const snap = addon.snapshotForTest(24, { procRoot: root });
    expect(snap.stdio![0]!.socket).toEqual({ family: 'ipv6', type: 'stream', protocol: 'tcp', local: { ip: '::1', port: 80 }, remote: { ip: '::1', port: 54321 } });
    expect(snap.stdio![1]!.socket).toEqual({ family: 'ipv4', type: 'dgram', protocol: 'udp', local: { ip: '127.0.0.1', port: 53 } });
    // In no listing: a socket all the same, its family unknown.
    expect(snap.stdio![2]).toEqual({ type: 'socket', path: `socket:[${BIG + 10n}]`, inode: Number(BIG + 10n), socket: { family: 'unknown' } });
  });

  it('stops scanning a listing at its byte cap', () => {
    const inode = BIG + 11n;
    let tcp = HEADER_V4;
    for (let i = 0; i < 200; i++) tcp += v4Line(i, '0100007F:1F90', '00000000:0000', BIG + 5000n + BigInt(i));
    tcp += v4Line(200, '0100007F:9C40', '0100007F:115C', inode);
    write({ pid: 25, fds: { 0: `socket:[${inode}]` }, net: { tcp } });
    expect(addon.snapshotForTest(25, { procRoot: root, procnetMaxBytes: 4096 }).stdio![0]!.socket).toEqual({ family: 'unknown' });
    expect(addon.snapshotForTest(25, { procRoot: root }).stdio![0]!.socket!.family).toBe('ipv4');
  });

  it('ignores hostile listing lines', () => {
    const inode = BIG + 12n;
    const tcp = HEADER_V4
      + `   0: 0100007F:1F9 00000000:0000 01 0 0 0 0 0 ${inode}\n` // short port
      + `   1: ZZ00007F:1F90 00000000:0000 01 0 0 0 0 0 ${inode}\n` // not hex
      + `${'x'.repeat(40_000)} ${inode}\n` // longer than a chunk
      + `   2: 0100007F:1F90 00000000:0000 01 0 0 0 0 0 ${inode}9\n`; // another inode
    write({ pid: 26, fds: { 0: `socket:[${inode}]` }, net: { tcp } });
    expect(addon.snapshotForTest(26, { procRoot: root }).stdio![0]!.socket).toEqual({ family: 'unknown' });
  });

  it("looks a gone process's socket up in its parent's listing, only within one network namespace", () => {
    const inode = BIG + 13n;
    const tcp = HEADER_V4 + v4Line(0, '0100007F:9C40', '0100007F:115C', inode);
    write({ pid: 40, fds: {}, netns: 'net:[4026531840]', net: { tcp } });
    write({ pid: 41, ppid: 40, fds: { 0: `socket:[${inode}]` }, netns: 'net:[4026531840]' });
    expect(addon.snapshotForTest(41, { procRoot: root }).stdio![0]!.socket).toMatchObject({ family: 'ipv4', remote: { port: 4444 } });
    write({ pid: 42, ppid: 40, fds: { 0: `socket:[${inode}]` }, netns: 'net:[4026532999]' });
    expect(addon.snapshotForTest(42, { procRoot: root }).stdio![0]!.socket).toEqual({ family: 'unknown' });
  });

  // 32-bit inodes (the cache keys on 32 bits), high enough that no real unix socket has them.
  const CACHED = 4_000_000_123;

  it('remembers a lookup per network namespace and socket: a second process with the same socket costs no scan', () => {
    const tcp = HEADER_V4 + v4Line(0, '0100007F:9C40', '0100007F:115C', CACHED);
    write({ pid: 50, fds: { 0: `socket:[${CACHED}]`, 1: `socket:[${CACHED}]` }, netns: 'net:[4026531850]', net: { tcp } });
    // Its own listing is empty: only the cache can tell what the socket is.
    write({ pid: 51, fds: { 0: `socket:[${CACHED}]` }, netns: 'net:[4026531850]', net: { tcp: HEADER_V4 } });
    const snap = addon.snapshotForTest([50, 51], { procRoot: root, stdio: true });
    expect(snap.stdio![0]!.socket).toMatchObject({ family: 'ipv4', remote: { ip: '127.0.0.1', port: 4444 } });
    // 50: fd 0 scanned, fd 1 shares it; 50's and 51's parent (pid 1) is not in the tree; 51: cached.
    expect(snap.stdioStats).toMatchObject({ socketListingScans: 1, socketCacheHits: 1, socketLookupsOverBudget: 0 });
    // The same inode in another namespace is another socket: looked up afresh (and not found).
    write({ pid: 52, fds: { 0: `socket:[${CACHED}]` }, netns: 'net:[4026531852]', net: { tcp: HEADER_V4 } });
    const other = addon.snapshotForTest([50, 52], { procRoot: root });
    expect(other.stdio![0]!.socket).toEqual({ family: 'unknown' });
    expect(other.stdioStats).toMatchObject({ socketListingScans: 2, socketCacheHits: 0 });
  });

  it('remembers a socket it could not find, so a process that hands every exec one costs one scan', () => {
    write({ pid: 53, fds: { 0: `socket:[${CACHED + 1}]` }, netns: 'net:[4026531850]', net: { tcp: HEADER_V4 } });
    const snap = addon.snapshotForTest([53, 53, 53], { procRoot: root });
    expect(snap.stdio![0]!.socket).toEqual({ family: 'unknown' });
    expect(snap.stdioStats).toMatchObject({ socketListingScans: 1, socketCacheHits: 2 });
  });

  it('scans no listing once the time budget is spent, and counts the socket left unresolved', () => {
    const snap = addon.snapshotForTest([50, 51], { procRoot: root, socketScanBudgetMs: 0 });
    expect(snap.stdio![0]!.socket).toEqual({ family: 'unknown' });
    // Not remembered either: once the budget refills, the socket is looked up.
    expect(snap.stdioStats).toMatchObject({ socketListingScans: 0, socketCacheHits: 0, socketLookupsOverBudget: 2 });
  });

  it("reads the parent's streams too, and nothing of a process that is gone", () => {
    write({ pid: 30, fds: { 0: 'pipe:[1]', 1: 'pipe:[2]', 2: 'pipe:[2]' } });
    write({ pid: 31, ppid: 30, fds: { 0: '/dev/null', 1: '/dev/null', 2: '/dev/null' } });
    const snap = addon.snapshotForTest(31, { procRoot: root });
    expect(snap.parentStdio!.map((s) => s.type)).toEqual(['pipe', 'pipe', 'pipe']);
    write({ pid: 32, ppid: 999, fds: {} });
    expect(addon.snapshotForTest(32, { procRoot: root }).parentStdio).toBeNull();
    expect(addon.snapshotForTest(32, { procRoot: root, stdio: false }).stdio).toBeNull();
  });

  it("completes a reaped process's second half without the reads that would fail, its sockets still looked up", () => {
    const inode = BIG + 14n;
    const tcp = HEADER_V4 + v4Line(0, '0100007F:9C40', '0100007F:115C', inode);
    const fifo = join(root, 'gone-fifo');
    execFileSync('mkfifo', [fifo]);
    write({ pid: 80, fds: { 0: 'pipe:[8]', 1: 'pipe:[8]', 2: 'pipe:[8]' }, netns: 'net:[4026531880]', net: { tcp } });
    write({ pid: 81, ppid: 80, fds: { 0: `socket:[${inode}]`, 1: fifo, 2: '/dev/null' }, netns: 'net:[4026531880]' });
    const whole = addon.snapshotForTest(81, { procRoot: root });
    expect(whole.failed).toEqual([]);
    expect(whole.stdio![1]).toEqual({ type: 'fifo', path: fifo });
    // Reaped after the urgent half: status, the second half's first read, finds nothing (ENOENT).
    // cwd and cgroup are still in the fixture, so failing them shows they were not tried.
    rmSync(join(root, '81', 'status'));
    const gone = addon.snapshotForTest(81, { procRoot: root });
    expect([...gone.failed].sort()).toEqual(['cgroup', 'cwd', 'status']);
    expect([gone.cwd, gone.cgroup]).toEqual([null, null]);
    // The fifo keeps the kind its link gave: its statx would have gone through the gone fd link.
    expect(gone.stdio![1]).toEqual({ type: 'file', path: fifo });
    // The socket is looked up in the parent's listing, as for any process gone by then.
    expect(gone.stdio![0]!.socket).toMatchObject({ family: 'ipv4', remote: { ip: '127.0.0.1', port: 4444 } });
    expect(gone.parentStdio!.map((stream) => stream.type)).toEqual(['pipe', 'pipe', 'pipe']);
  });

  it("gives a parent's next children its stdio as read for a sibling, but never keeps a gone or zombie parent's", () => {
    write({ pid: 60, fds: { 0: 'pipe:[6]', 1: 'pipe:[6]', 2: '/dev/null' } });
    write({ pid: 61, ppid: 60, fds: { 0: '/dev/null' } });
    write({ pid: 62, ppid: 60, fds: { 0: '/dev/null' } });
    // A fixture snapshot takes microseconds: most of these follow their sibling's within the 2 ms.
    const snap = addon.snapshotForTest([61, 62, 61, 62, 61, 62], { procRoot: root });
    expect(snap.parentStdio).toEqual([
      { type: 'pipe', path: 'pipe:[6]', inode: 6 },
      { type: 'pipe', path: 'pipe:[6]', inode: 6 },
      { type: 'null', path: '/dev/null' },
    ]);
    const reused = (snap.stdioStats as { parentStdioReused?: number } | undefined)?.parentStdioReused;
    expect(reused).toBeGreaterThan(0);
    expect(reused).toBeLessThanOrEqual(5);
    // A parent with no descriptors left (a zombie: its exit may already have been handled) and a
    // parent that is not there are read for each child.
    write({ pid: 63, fds: {} });
    write({ pid: 64, ppid: 63, fds: {} });
    write({ pid: 65, ppid: 999, fds: {} });
    const zombie = addon.snapshotForTest([64, 64, 64], { procRoot: root });
    expect(zombie.parentStdio!.map((stream) => stream.type)).toEqual(['closed', 'closed', 'closed']);
    expect(zombie.stdioStats).toMatchObject({ parentStdioReused: 0 });
    const missing = addon.snapshotForTest([65, 65, 65], { procRoot: root });
    expect(missing.parentStdio).toBeNull();
    expect(missing.stdioStats).toMatchObject({ parentStdioReused: 0 });
  });

  describe("a parent's stdio reading, kept by the C++ snapshotter (reader_harness.cc)", () => {
    let harness = '';
    beforeAll(async () => {
      harness = await buildReaderHarness();
      write({ pid: 70, fds: { 1: 'pipe:[7]' } }); // fd 0 is set by the harness
      for (const child of [71, 72]) write({ pid: child, ppid: 70, fds: {} });
      for (let parent = 100; parent < 200; parent++) {
        write({ pid: parent, fds: { 0: '/dev/null' } });
        write({ pid: parent + 100, ppid: parent, fds: {} });
      }
    });

    it('serves the next child within the window, not after the parent exits or past the window, and stays within its cap', () => {
      const run = runReaderHarness(harness, 'parent-stdio', 15_000, [root]);
      expect({ signal: run.signal, status: run.status, stderr: run.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
      expect(run.result).toEqual({
        first: 'pipe:[1]',
        // The parent changed its fd 0 after the reading: a sibling within the window still gets
        // the reading (the one staleness the window allows).
        reused: 'pipe:[1]',
        reused_count: 1,
        after_exit: 'pipe:[2]', // forget_parent (the parent's exit event) drops the reading
        expired: 'pipe:[3]', // read again once the window (1 ms here) has passed
        expired_reused: 0,
        largest: 64, // a hundred parents, each with one child
        cap: 64,
      });
    });
  });

  it('the link-text classifier reads the same links from JS; the /proc scanner leaves streams out', () => {
    expect(readStdioLinks(root, 21)).toEqual([
      { type: 'pipe', path: 'pipe:[4242]', inode: 4242 },
      { type: 'anon', path: 'anon_inode:[eventfd]' },
      { type: 'closed' },
    ]);
    expect(readStdioLinks(root, 23)![0]).toMatchObject({ type: 'socket', socket: { family: 'unknown' } });
    expect(readStdioLinks(root, 999)).toBeNull();
    expect(new FixtureProcFs(root).snapshot(21)!.stdio).toBeUndefined();
  });
});
