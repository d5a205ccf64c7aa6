import { describe, expect, it } from 'vitest';
import { decodeCmdline, executableName, imageBytes, imageFromSnapshot, leanImage } from '../../src/process/process-image.js';
import type { ProcSnapshot } from '../../src/capture/raw-event.js';

function snapshot(overrides: Partial<ProcSnapshot>): ProcSnapshot {
  return {
    cmdline: null, cmdlineTruncated: false, comm: null, exe: null, cwd: null, ppid: 1, pgid: 1, sid: 1,
    ttyNr: 0, startTicks: 1, ruid: 0, euid: 0, rgid: 0, egid: 0, cgroup: null, failed: [], ...overrides,
  };
}

describe('decodeCmdline', () => {
  it('splits on NUL, drops the trailing NUL and keeps empty arguments', () => {
    expect(decodeCmdline(Buffer.from('ls\0-l\0\0/tmp\0'), false)).toEqual({ args: ['ls', '-l', '', '/tmp'], lossy: false });
    expect(decodeCmdline(Buffer.from('sshd: alice [priv]'), false).args).toEqual(['sshd: alice [priv]']);
    expect(decodeCmdline(Buffer.alloc(0), false).args).toEqual([]);
  });

  it('decodes a whole valid command line as each argument alone would be decoded', () => {
    const pieces = ['', 'a', '€', 'ü', '😀', 'x y', '\u0001', '/tmp/é'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let round = 0; round < 500; round++) {
      const args = Array.from({ length: 1 + (next() % 6) }, () => Array.from({ length: next() % 4 }, () => pieces[next() % pieces.length]).join(''));
      const bytes = Buffer.from(args.join('\0') + (next() % 2 === 0 ? '\0' : ''));
      // Each argument decoded alone, between the 0 bytes, the trailing one dropped.
      const end = bytes.length > 0 && bytes[bytes.length - 1] === 0 ? bytes.length - 1 : bytes.length;
      const expected: string[] = [];
      for (let start = 0; end > 0 && start <= end; ) {
        const stop = bytes.indexOf(0, start) < 0 || bytes.indexOf(0, start) > end ? end : bytes.indexOf(0, start);
        expected.push(bytes.subarray(start, stop).toString('utf8'));
        start = stop + 1;
      }
      expect(decodeCmdline(bytes, false)).toEqual({ args: expected, lossy: false });
    }
  });

  it('marks invalid UTF-8 as lossy and replaces it with U+FFFD', () => {
    const bytes = Buffer.concat([Buffer.from('echo\0a'), Buffer.from([0xff, 0xfe]), Buffer.from('b\0')]);
    expect(decodeCmdline(bytes, false)).toEqual({ args: ['echo', 'a\uFFFD\uFFFDb'], lossy: true });
  });

  it('does not call a multi-byte character cut by the cap invalid', () => {
    const euro = Buffer.from('€'); // 3 bytes
    const cut = Buffer.concat([Buffer.from('x\0'), euro, euro.subarray(0, 2)]);
    expect(decodeCmdline(cut, true)).toEqual({ args: ['x', '€'], lossy: false });
    // A truncated cmdline keeps a NUL at the cut: the last (empty) argument is real.
    expect(decodeCmdline(Buffer.from('a\0'), true).args).toEqual(['a', '']);
  });
});

describe('images', () => {
  it('names a process by the basename of its executable, like Defend', () => {
    expect(executableName('/usr/bin/setsid')).toBe('setsid');
    expect(executableName('/tmp/x (deleted)')).toBe('x');
    const image = imageFromSnapshot(snapshot({ cmdline: Buffer.from('bash\0-c\0echo hi\0'), comm: 'a-very-long-nam', exe: '/usr/bin/a-very-long-name-indeed' }));
    expect(image.name).toBe('a-very-long-name-indeed');
    expect(image.commandLine).toBe('bash -c echo hi');
  });

  it('falls back to comm when exe is unreadable and leaves args unknown without cmdline', () => {
    const image = imageFromSnapshot(snapshot({ comm: 'kworker/0:1', failed: ['cmdline', 'exe'] }));
    expect(image).toMatchObject({ name: 'kworker/0:1', executable: null, args: null, commandLine: null });
  });

  it('keeps the exact bytes (base64) of a cmdline that was not valid UTF-8', () => {
    const raw = Buffer.from([0x61, 0x00, 0xc3, 0x28, 0x00]);
    const image = imageFromSnapshot(snapshot({ cmdline: raw, exe: '/bin/a' }));
    expect(Buffer.from(image.cmdlineBase64!, 'base64')).toEqual(raw);
  });
});

describe('imageBytes and leanImage', () => {
  const long = `/srv/${'p'.repeat(5_000)}/file`;
  const image = imageFromSnapshot(snapshot({
    cmdline: Buffer.from(`/usr/bin/tool\0${'a'.repeat(3_000)}\0end\0`),
    comm: 'tool',
    exe: long,
    cwd: long,
    stdio: [
      { type: 'file', path: long },
      { type: 'socket', inode: 7, socket: { family: 'unix', type: 'stream', local: { path: long }, remote: { path: '@peer' } } },
      { type: 'null', path: '/dev/null' },
    ],
  }));

  it('estimates at least two bytes for every character an image holds', () => {
    const chars = long.length * 4 + 3_000 * 2 + '/usr/bin/tool'.length * 2;
    expect(imageBytes(image)).toBeGreaterThanOrEqual(2 * chars);
    expect(imageBytes(image)).toBe(imageBytes(image));
  });

  it('cuts every text an attacker sizes in its middle and keeps names, counts and short texts whole', () => {
    const lean = leanImage(image, 512);
    expect(lean.name).toBe('file');
    expect(lean.argsCount).toBe(3);
    expect(lean.argsTruncated).toBe(true);
    expect(lean.args![0]).toBe('/usr/bin/tool');
    expect(lean.args!.at(-1)).toBe('end');
    for (const text of [lean.executable!, lean.workingDirectory!, lean.stdio![0]!.path!, lean.stdio![1]!.socket!.local!.path!]) {
      expect(text.length).toBeLessThanOrEqual(512);
      expect(text.startsWith('/srv/ppp')).toBe(true);
      expect(text.endsWith('/file')).toBe(true);
      expect(text).toContain('...');
    }
    expect(lean.stdio![1]!.socket!.remote!.path).toBe('@peer');
    expect(lean.stdio![2]).toBe(image.stdio![2]);
    expect(imageBytes(lean)).toBeLessThan(imageBytes(image) / 4);
    // The image itself is untouched: documents already built share it.
    expect(image.executable).toBe(long);
  });
});
