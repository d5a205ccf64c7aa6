import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordedSource, RecordingFormatError, parseRawEvent, serializeRawEvent } from '../../src/capture/recorded-source.js';
import type { RawEvent } from '../../src/capture/raw-event.js';

const EXEC: RawEvent = {
  kind: 'exec', cpu: 1, seq: 77, timestampNs: 123_456_789_012_345_678n, pid: 4242, tgid: 4242,
  snapshot: {
    cmdline: Buffer.concat([Buffer.from('bash\0-c\0echo "hi"\n\u001b[2J\0'), Buffer.from([0xff, 0xfe, 0])]),
    cmdlineTruncated: true, comm: 'bash', exe: '/usr/bin/bash', cwd: '/tmp/a b', ppid: 1, pgid: 4242, sid: 4242,
    ttyNr: 0, startTicks: 99, ruid: 1000, euid: 0, rgid: 1000, egid: 0, cgroup: '/user.slice', failed: ['cwd'],
  },
};
/** An exec as the current reader writes it: saved ids, capabilities, whole cgroup text, environment. */
const FULL_EXEC: RawEvent = {
  ...EXEC,
  seq: 78,
  snapshot: {
    ...EXEC.snapshot!,
    suid: 0, sgid: 0, capPermitted: 2 ** 41 - 1, capEffective: 2 ** 21, capBounding: 2 ** 41 - 1,
    cgroup: '9:name=systemd:/\n0::/system.slice/x.service\n', env: ['LD_PRELOAD=/tmp/x.so'], envTruncated: true,
    commRenamed: true, stale: true, failed: ['cwd', 'environ'],
    stdio: [
      { type: 'socket', path: 'socket:[77]', inode: 77, socket: { family: 'ipv6', type: 'stream', protocol: 'tcp', local: { ip: '::1', port: 4000 }, remote: { ip: '::1', port: 4444 } } },
      { type: 'socket', path: 'socket:[78]', inode: 78, socket: { family: 'unix', type: 'stream', remote: { path: '/run/systemd/journal/stdout' } } },
      { type: 'closed' },
    ],
    parentStdio: null,
  },
};
const FORK: RawEvent = { kind: 'fork', cpu: 0, seq: 1, timestampNs: 5n, pid: 10, tgid: 10, parentPid: 9, parentTgid: 9 };
const EXIT: RawEvent = { kind: 'exit', cpu: 0, seq: 2, timestampNs: 6n, pid: 10, tgid: 10, exitCode: 256, exitSignal: 17 };
const COMM: RawEvent = { kind: 'comm', cpu: 0, seq: 3, timestampNs: 7n, pid: 10, tgid: 10, comm: 'worker' };

describe('raw event recording format', () => {
  it('round-trips every field, bigint and argv bytes included, on one line', () => {
    for (const event of [EXEC, FULL_EXEC, FORK, EXIT, COMM]) {
      const line = serializeRawEvent(event);
      expect(line).not.toContain('\n');
      expect(parseRawEvent(line)).toEqual(event);
    }
    expect(JSON.parse(serializeRawEvent(EXEC)).timestampNs).toBe('123456789012345678');
  });

  it('rejects malformed lines with a coded error saying what is wrong', () => {
    const good = JSON.parse(serializeRawEvent(EXEC)) as Record<string, unknown>;
    const cases: Array<[unknown, RegExp]> = [
      [{ ...good, kind: 'spawn' }, /kind must be one of/],
      [{ ...good, timestampNs: 12 }, /timestampNs must be a decimal string/],
      [{ ...good, pid: '1' }, /pid must be an integer/],
      [{ ...good, snapshot: { ...(good.snapshot as object), failed: ['nope'] } }, /snapshot.failed/],
      [{ ...good, snapshot: { ...(good.snapshot as object), cmdline: '%%%' } }, /base64/],
      [{ ...good, snapshot: { ...(good.snapshot as object), env: ['no equals sign'] } }, /snapshot.env/],
      [{ ...good, snapshot: { ...(good.snapshot as object), env: Array(257).fill('A=1') } }, /snapshot.env/],
      [{ ...good, snapshot: { ...(good.snapshot as object), suid: 'x' } }, /snapshot.suid must be an integer/],
      [{ ...good, snapshot: { ...(good.snapshot as object), stdio: [{ type: 'pipe' }] } }, /snapshot.stdio must be null or a list of 3/],
      [{ ...good, snapshot: { ...(good.snapshot as object), stdio: [{ type: 'wormhole' }, { type: 'pipe' }, { type: 'pipe' }] } }, /snapshot.stdio\[0\].type must be one of/],
      [{ ...good, snapshot: { ...(good.snapshot as object), parentStdio: [{ type: 'pipe' }, { type: 'pipe', path: 'x'.repeat(5000) }, { type: 'pipe' }] } }, /snapshot.parentStdio\[1\].path must be a string of at most/],
      [{ ...good, snapshot: { ...(good.snapshot as object), stdio: [{ type: 'socket', socket: { family: 'ipv4', remote: { port: 70000 } } }, { type: 'pipe' }, { type: 'pipe' }] } }, /socket.remote.port must be a port number/],
      [{ ...good, snapshot: { ...(good.snapshot as object), stdio: [{ type: 'socket', socket: { family: 'ax25' } }, { type: 'pipe' }, { type: 'pipe' }] } }, /socket.family must be one of/],
      [[1], /not a JSON object/],
    ];
    for (const [value, message] of cases) {
      expect(() => parseRawEvent(JSON.stringify(value))).toThrow(message);
    }
    try {
      parseRawEvent('{');
    } catch (error) {
      expect(error).toBeInstanceOf(RecordingFormatError);
      expect((error as RecordingFormatError).code).toBe('RECORDING_INVALID');
    }
  });
});

describe('RecordedSource', () => {
  let dir: string | null = null;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true });
    dir = null;
  });

  it('plays a recording back in order, in batches, counting rejected lines', async () => {
    dir = mkdtempSync(join(tmpdir(), 'execwarden-rec-'));
    const path = join(dir, 'events.ndjson');
    const events = [FORK, EXEC, COMM, EXIT];
    writeFileSync(path, ['# recorded on a test host', ...events.slice(0, 2).map(serializeRawEvent), '', 'garbage', ...events.slice(2).map(serializeRawEvent)].join('\n'));
    const invalid: number[] = [];
    const source = new RecordedSource({ path, batchSize: 3, onInvalidLine: (n) => invalid.push(n) });
    const batches: RawEvent[][] = [];
    await source.start((batch) => batches.push(batch));
    await source.finished;
    expect(batches.map((b) => b.length)).toEqual([3, 1]);
    expect(batches.flat()).toEqual(events);
    expect(invalid).toEqual([5]);
    const stats = source.stats();
    expect(stats.messagesRejected).toBe(1);
    expect(stats.eventsByKind).toMatchObject({ fork: 1, exec: 1, comm: 1, exit: 1, uid: 0 });
    await source.stop();
  });

  it('rejects start() with a coded error when the file cannot be read', async () => {
    const source = new RecordedSource({ path: '/nonexistent/events.ndjson' });
    await expect(source.start(() => undefined)).rejects.toMatchObject({ code: 'RECORDING_UNREADABLE' });
  });
});
