/**
 * The native addon on hostile input, without a kernel subscription: ProcMonitor option limits
 * (both sides of each), the datagram decoder and the /proc parsers fuzzed with generated and
 * mutated input (seeded, so a failure replays), a std::bad_alloc at the Node-API boundary, and the
 * reader's bounded exec table (through the C++ harness).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNativeAddon, type DecodedDatagram } from '../../src/capture/native.js';
import { RAW_EVENT_KINDS, SNAPSHOT_READS, type RawEvent } from '../../src/capture/raw-event.js';
import { statLine } from '../process/proc-tree.js';
import { random } from '../support/random.js';
import { PROC_EVENT, datagram, int32s, type CraftedEvent } from './datagram.js';
import { runWithAddon } from './native-child.js';
import { buildReaderHarness, runReaderHarness } from './reader-harness.js';

const addon = loadNativeAddon();

describe('ProcMonitor option limits', () => {
  const LIMITS: Array<[name: string, min: number, max: number]> = [
    ['batchSize', 1, 65536],
    ['maxQueuedBatches', 1, 65536],
    ['maxQueuedBytes', 64 * 1024, 2 ** 30],
    ['shortCmdlinesAboveBytes', 0, 2 ** 30],
    ['batchMaxAgeMs', 0, 60000],
    ['receiveBufferBytes', 0, 2 ** 30],
    ['ackTimeoutMs', 1, 60000],
    ['cmdlineMaxBytes', 1, 64 * 1024 * 1024],
    ['envMaxEntries', 1, 4096],
  ];

  it.each(LIMITS)('%s accepts %d to %d and refuses either side with a RangeError naming it', (name, min, max) => {
    expect(() => new addon.ProcMonitor({ [name]: min })).not.toThrow();
    expect(() => new addon.ProcMonitor({ [name]: max })).not.toThrow();
    const message = `${name} must be an integer from ${min} to ${max}`;
    for (const bad of [min - 1, max + 1, min + 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new addon.ProcMonitor({ [name]: bad }), `${name}: ${bad}`).toThrow(RangeError);
      expect(() => new addon.ProcMonitor({ [name]: bad }), `${name}: ${bad}`).toThrow(message);
    }
    expect(() => new addon.ProcMonitor({ [name]: String(min) })).toThrow(TypeError);
    expect(() => new addon.ProcMonitor({ [name]: String(min) })).toThrow(`${name} must be a number`);
  });

  it('refuses the batch sizes the review found (2^20 would reserve about 100 MB per batch)', () => {
    expect(() => new addon.ProcMonitor({ batchSize: 2 ** 20 })).toThrow(/batchSize/);
    expect(() => new addon.ProcMonitor({ maxQueuedBatches: 2 ** 20 })).toThrow(/maxQueuedBatches/);
  });
});

// --- decoder fuzz -----------------------------------------------------------------------------

const NLMSGHDR = 16;
const CN_MSG = 20;
const EVENT_HEADER = 16;
/** The smallest message that can carry an event or an ack. */
const MIN_MESSAGE = NLMSGHDR + CN_MSG + EVENT_HEADER;
const KINDS = Object.values(PROC_EVENT);
const BOUNDARY_U32 = [0, 1, 3, 15, 16, 17, 35, 36, 51, 52, 53, 56, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0xfffffffc, 0xffffffff];

function isU32(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0xffffffff;
}
function isI32(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= -(2 ** 31) && (value as number) < 2 ** 31;
}

/** Everything a decoded datagram may be, given its size; returns the first violation or null. */
function decodedViolation(result: DecodedDatagram, size: number, senderPort: number): string | null {
  const { events, acks, accepted, rejected } = result;
  if (!Array.isArray(events) || !Array.isArray(acks)) return 'events and acks must be arrays';
  if (!isU32(accepted) || !isU32(rejected)) return 'accepted and rejected must be counts';
  if (senderPort !== 0) return events.length + acks.length + accepted === 0 && rejected === 1 ? null : 'a foreign sender must be refused whole';
  // Each message the decoder looks at consumes at least a netlink header; each accepted one
  // holds a full header chain; each yields at most one event or ack.
  if (accepted + rejected > Math.floor(size / NLMSGHDR)) return `${accepted + rejected} messages in ${size} bytes`;
  if (accepted > Math.floor(size / MIN_MESSAGE)) return `${accepted} accepted in ${size} bytes`;
  if (events.length + acks.length !== accepted) return `${events.length} events + ${acks.length} acks for ${accepted} accepted`;
  for (const ack of acks) {
    if (![ack.cpu, ack.seq, ack.ack, ack.err].every(isU32)) return `malformed ack ${JSON.stringify(ack)}`;
  }
  for (const event of events) {
    const problem = eventViolation(event);
    if (problem) return problem;
  }
  return null;
}

function eventViolation(event: RawEvent): string | null {
  const text = () => JSON.stringify(event, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  if (!RAW_EVENT_KINDS.includes(event.kind)) return `unknown kind in ${text()}`;
  if (typeof event.timestampNs !== 'bigint' || event.timestampNs < 0n || event.timestampNs >= 2n ** 64n) return `timestamp in ${text()}`;
  if (!isU32(event.cpu) || !isU32(event.seq) || !isI32(event.pid) || !isI32(event.tgid)) return `header in ${text()}`;
  for (const key of ['parentPid', 'parentTgid', 'tracerPid', 'tracerTgid'] as const) {
    if (event[key] !== undefined && !isI32(event[key])) return `${key} in ${text()}`;
  }
  for (const key of ['exitCode', 'exitSignal', 'ruid', 'euid', 'rgid', 'egid'] as const) {
    if (event[key] !== undefined && !isU32(event[key])) return `${key} in ${text()}`;
  }
  if (event.comm !== undefined && (typeof event.comm !== 'string' || event.comm.length > 16)) return `comm in ${text()}`;
  if (event.snapshot !== undefined) return `a decoded event has no snapshot: ${text()}`;
  return null;
}

describe('datagram decoder fuzz', () => {
  const next = random(20240611);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));

  function craftedEvent(): CraftedEvent {
    const event: CraftedEvent = {
      what: next() < 0.9 ? pick(KINDS) : int(2 ** 32),
      cpu: next() < 0.8 ? int(8) : int(2 ** 32),
      seq: int(2 ** 32),
      ack: int(2 ** 32),
      timestampNs: BigInt(int(2 ** 32)) * BigInt(int(2 ** 32)),
      data: next() < 0.5 ? int32s(...Array.from({ length: 6 }, () => int(2 ** 32) | 0)) : bytes(24),
    };
    if (next() < 0.15) event.payloadBytes = int(25);
    if (next() < 0.1) event.cnLen = pick([...BOUNDARY_U32.filter((v) => v <= 0xffff), int(0x10000)]);
    if (next() < 0.1) event.nlmsgLen = pick([...BOUNDARY_U32, int(200)]);
    if (next() < 0.05) event.idx = int(4);
    if (next() < 0.05) event.val = int(4);
    return event;
  }

  function mutate(buffer: Buffer): Buffer {
    const out = Buffer.from(buffer);
    const edits = 1 + int(4);
    let result = out;
    for (let i = 0; i < edits && result.length > 0; i++) {
      switch (int(6)) {
        case 0: // flip bytes
          for (let j = 0; j < 1 + int(4); j++) result[int(result.length)] = int(256);
          break;
        case 1: // a boundary value over a 32-bit field (lengths, types, the event's `what`)
          if (result.length >= 4) result.writeUInt32LE(pick(BOUNDARY_U32), int(result.length - 3) & ~(next() < 0.7 ? 3 : 0));
          break;
        case 2: // a 16-bit boundary value (nlmsg_type, cn_msg.len)
          if (result.length >= 2) result.writeUInt16LE(pick([0, 1, 2, 3, 16, 40, 0xffff]), int(result.length - 1));
          break;
        case 3: // truncate, possibly inside a header
          result = result.subarray(0, int(result.length + 1));
          break;
        case 4: // garbage or a partial header at the end
          result = Buffer.concat([result, bytes(int(40))]);
          break;
        default: // unaligned: drop or add 1 to 3 bytes in the middle
          {
            const at = int(result.length);
            result = next() < 0.5 ? Buffer.concat([result.subarray(0, at), result.subarray(Math.min(result.length, at + 1 + int(3)))]) : Buffer.concat([result.subarray(0, at), bytes(1 + int(3)), result.subarray(at)]);
          }
          break;
      }
    }
    return result;
  }

  function check(buffer: Buffer, senderPort = 0): DecodedDatagram {
    let result: DecodedDatagram;
    try {
      result = addon.decodeForTest(buffer, senderPort);
    } catch (error) {
      throw new Error(`decodeForTest threw on ${buffer.toString('hex')}: ${String(error)}`);
    }
    const problem = decodedViolation(result, buffer.length, senderPort);
    if (problem) throw new Error(`${problem}\n  datagram: ${buffer.toString('hex')}`);
    return result;
  }

  it('survives random bytes of every small length', () => {
    for (let round = 0; round < 3000; round++) check(bytes(int(round < 200 ? 80 : 400)));
  });

  it('survives mutated valid datagrams: bad lengths, truncation, unaligned messages, stray bytes', () => {
    let accepted = 0;
    let rejected = 0;
    for (let round = 0; round < 5000; round++) {
      const valid = datagram(...Array.from({ length: 1 + int(6) }, craftedEvent));
      const input = next() < 0.2 ? valid : mutate(valid);
      const result = check(input, next() < 0.03 ? 1 + int(2 ** 31) : 0);
      accepted += result.accepted;
      rejected += result.rejected;
    }
    // The mix reaches both sides of the decoder.
    expect(accepted).toBeGreaterThan(2000);
    expect(rejected).toBeGreaterThan(2000);
  });

  it('bounds the count by the bytes on a full 64 KiB datagram of the smallest messages', () => {
    const one = datagram({ what: PROC_EVENT.exec, data: int32s(1, 1), payloadBytes: 8 });
    expect(one.length).toBe(MIN_MESSAGE + 8);
    const count = Math.floor(65536 / one.length);
    const full = Buffer.concat(Array.from({ length: count }, () => one));
    expect(check(full).events).toHaveLength(count);
    // The same with every nlmsg_len claiming 4 GiB - 1: the first message stops the datagram.
    const huge = Buffer.from(full);
    for (let at = 0; at < huge.length; at += one.length) huge.writeUInt32LE(0xffffffff, at);
    expect(check(huge)).toMatchObject({ events: [], accepted: 0, rejected: 1 });
  });

  it('throws only a TypeError on arguments that are not a Buffer and a port', () => {
    for (const args of [[], ['x', 0], [Buffer.alloc(4)], [Buffer.alloc(4), '0'], [null, null]] as unknown[][]) {
      expect(() => (addon.decodeForTest as (...a: unknown[]) => unknown)(...args)).toThrow(TypeError);
    }
  });
});

// --- /proc parser fuzz ------------------------------------------------------------------------

describe('/proc snapshot fuzz', () => {
  const root = mkdtempSync(join(tmpdir(), 'execwarden-fuzz-proc-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const next = random(777);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  // Bytes the parsers look for, more often than chance would give them.
  const TELLING = Buffer.from('() \n\t\0-:=0123456789abcdefUidGidCap');
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => (next() < 0.5 ? TELLING[int(TELLING.length)]! : int(256))));

  const VALID = {
    stat: () => Buffer.from(statLine({ pid: 1, ppid: 1 + int(100), comm: pick(['sh', 'a) b (c', '', ')']), argv: [], startTicks: int(1e9), state: pick(['S', 'R', 'Z']) })),
    status: () => Buffer.from(`Name:\tx\nUid:\t${int(70000)}\t0\t0\t0\nGid:\t1\t2\t3\t4\nCapPrm:\t000001ffffffffff\nCapEff:\t${'f'.repeat(int(20))}\nCapBnd:\t0\n`),
    cmdline: () => Buffer.from(Array.from({ length: int(6) }, () => `arg${int(100)}\0`).join('')),
    environ: () => Buffer.from(`PATH=/bin\0LD_PRELOAD=/x.so\0${'A'.repeat(int(300))}=1\0LD_PRELOAD\0`),
    cgroup: () => Buffer.from('12:pids:/user.slice\n0::/system.slice/x.service\n'),
  };
  type File = keyof typeof VALID;

  /** Random bytes, a valid file mutated, a file past the reader's 8 KiB text buffer, or empty. */
  function content(file: File): Buffer {
    const roll = next();
    if (roll < 0.3) return bytes(int(600));
    if (roll < 0.45) return Buffer.alloc(0);
    if (roll < 0.55) return Buffer.concat([VALID[file](), bytes(8192 + int(4000))]);
    const valid = Buffer.from(VALID[file]());
    for (let i = 0; i < 1 + int(4); i++) {
      if (valid.length === 0) break;
      const at = int(valid.length);
      if (next() < 0.5) valid[at] = int(256);
      else valid.fill(pick([0x39, 0x2d, 0x29, 0x28, 0x20]), at, Math.min(valid.length, at + int(30))); // long numbers, lone '-', parentheses, spaces
    }
    return next() < 0.3 ? valid.subarray(0, int(valid.length + 1)) : valid;
  }

  const NUMBERS = ['ppid', 'pgid', 'sid', 'ttyNr', 'startTicks', 'ruid', 'euid', 'rgid', 'egid', 'suid', 'sgid', 'capPermitted', 'capEffective', 'capBounding', 'argsTotal'] as const;
  const ENV_NAMES = ['LD_PRELOAD', 'PATH'];

  it('always yields a well-formed snapshot from random stat, status, cmdline, environ, cgroup and links', () => {
    const seen = new Set<string>();
    for (let round = 0; round < 300; round++) {
      const pid = 1000 + round;
      const dir = join(root, String(pid));
      mkdirSync(dir);
      for (const file of Object.keys(VALID) as File[]) {
        if (next() < 0.9) writeFileSync(join(dir, file), content(file));
      }
      // Link targets are arbitrary bytes but NUL (a path cannot hold one), up to PATH_MAX.
      for (const link of ['exe', 'cwd']) {
        if (next() < 0.8) symlinkSync(Buffer.from(bytes(1 + int(next() < 0.1 ? 4000 : 60)).map((b) => b || 0x41)), join(dir, link));
      }
      const options = { envVars: ENV_NAMES, cmdlineMaxBytes: pick([1, 7, 64, 4096]), argsCountMaxBytes: pick([0, 10, 100000]), envScanMaxBytes: pick([1, 100, 20000]), envValueMaxBytes: pick([1, 8, 1024]), envMaxEntries: pick([1, 3, 16]) };
      const snapshot = addon.snapshotForTest(pid, { ...options, procRoot: root });
      const where = `round ${round}`;

      for (const key of NUMBERS) {
        const value = snapshot[key];
        if (value !== undefined) expect(Number.isSafeInteger(value), `${where}: ${key} = ${value}`).toBe(true);
      }
      for (const key of ['comm', 'exe', 'cwd', 'cgroup'] as const) {
        expect(snapshot[key] === null || typeof snapshot[key] === 'string', `${where}: ${key}`).toBe(true);
      }
      for (const key of ['cmdlineTruncated', 'envTruncated', 'argsTotalExact', 'stale', 'commRenamed'] as const) {
        expect(typeof snapshot[key], `${where}: ${key}`).toBe('boolean');
      }
      expect([snapshot.stale, snapshot.commRenamed], where).toEqual([false, false]);
      expect(snapshot.cmdline === null || Buffer.isBuffer(snapshot.cmdline), where).toBe(true);
      expect(snapshot.cmdline?.length ?? 0, where).toBeLessThanOrEqual(options.cmdlineMaxBytes);
      expect(snapshot.cgroup?.length ?? 0, where).toBeLessThan(8192);
      expect(new Set(snapshot.failed).size, where).toBe(snapshot.failed.length);
      for (const read of snapshot.failed) expect(SNAPSHOT_READS, where).toContain(read);
      // A failed read leaves its fields unknown; a successful one sets them from the file.
      if (snapshot.failed.includes('stat')) expect([snapshot.ppid, snapshot.startTicks, snapshot.comm], where).toEqual([-1, -1, null]);
      if (snapshot.failed.includes('status')) expect([snapshot.ruid, snapshot.euid, snapshot.suid, snapshot.rgid, snapshot.egid, snapshot.sgid], where).toEqual([-1, -1, -1, -1, -1, -1]);
      if (!snapshot.env) {
        expect(snapshot.failed, where).toContain('environ');
      } else {
        expect(snapshot.env.length, where).toBeLessThanOrEqual(options.envMaxEntries);
        for (const entry of snapshot.env) {
          const name = ENV_NAMES.find((n) => entry.startsWith(`${n}=`));
          expect(name, `${where}: ${entry}`).toBeDefined();
          // UTF-8 decoding never yields more UTF-16 units than there were bytes.
          expect(entry.length, where).toBeLessThanOrEqual(name!.length + 1 + options.envValueMaxBytes);
        }
      }
      for (const read of snapshot.failed) seen.add(read);
      if (snapshot.failed.length === 0) seen.add('none');
    }
    // The mix reaches both sides: every read fails somewhere, and some snapshots are whole.
    expect([...seen].sort()).toEqual([...SNAPSHOT_READS, 'none'].sort());
  });
});

// --- the Node-API boundary --------------------------------------------------------------------

describe('native exceptions at the Node-API boundary', () => {
  it('snapshotForTest turns std::bad_alloc into an Error with code ENOMEM instead of aborting', () => {
    // A 64 MiB cmdline buffer under an address-space limit 16 MiB above what the process maps.
    const run = runWithAddon(`
      const result = {};
      limitAddressSpace(16 * 1024 * 1024);
      try { addon.snapshotForTest(1, { cmdlineMaxBytes: 64 * 1024 * 1024, procRoot: '/nonexistent' }); result.threw = false; }
      catch (e) { Object.assign(result, { name: e.name, code: e.code, message: e.message }); }
      restoreAddressSpace();
      // The raw addon packs its snapshot (src/capture/packed.ts): the sixth value lists the failed reads.
      result.after = addon.snapshotForTest(1, { procRoot: '/nonexistent' }).values[5].includes('stat');
      console.log(JSON.stringify(result));
    `);
    expect({ signal: run.signal, status: run.status }).toEqual({ signal: null, status: 0 });
    expect(run.result).toEqual({ name: 'Error', code: 'ENOMEM', message: expect.stringMatching(/out of memory/), after: true });
  });
});

describe('the reader\'s exec table', () => {
  let harness = '';
  beforeAll(async () => {
    harness = await buildReaderHarness();
  });

  it('stays within its cap when exits are lost, keeping young entries and the latest', () => {
    const run = runReaderHarness(harness, 'exec-history');
    expect({ signal: run.signal, status: run.status, stderr: run.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
    expect(run.result).toEqual({
      capacity: 1000,
      largest: 1000, // a million execs without an exit
      newest_kept: true,
      oldest_gone: true,
      young_kept: true,
      before_sweep: 1000,
      after_sweep: 11, // the 990 entries past the horizon went; 10 young ones and the new one stay
      forgotten: true,
      updated: true,
    });
  });
});

describe("the reader's sequence-gap count", () => {
  let harness = '';
  beforeAll(async () => {
    harness = await buildReaderHarness();
  });

  it('counts a gap only once it outlives the grace period when execs and the rest come on two sockets', () => {
    const run = runReaderHarness(harness, 'sequence-grace');
    expect({ signal: run.signal, status: run.status, stderr: run.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
    expect(run.result).toEqual({
      // One socket: a gap counts at once, and a late arrival takes one back.
      plain_gap: 2,
      plain_late: -1,
      plain_missing: 1,
      // Two sockets: the gap is open until 10 + 1000 ns, one of its two events comes within it.
      graced_gap: 0,
      due: 1010,
      graced_late: 0,
      early_settle: 0,
      on_time_settle: 1,
      // The other one comes after it was counted: taken back as before.
      after_settle_late: -1,
      graced_missing: 0,
      none_due: 0,
      // Past 1,024 open gaps on one CPU the oldest counts at once, so memory stays bounded.
      counted_at_once: 5,
      crowded_unsettled: 1024,
    });
  });
});
