import { afterEach, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcAccounts, hostOsFromRelease, loadHostInfo, parseIdFile, parseOsRelease } from '../../src/ecs/host.js';

const ROOT = new URL('./fixtures/root', import.meta.url).pathname;

describe('host facts', () => {
  it('reads machine-id and os-release from the given root', () => {
    const info = loadHostInfo({ root: ROOT, hostname: 'h', kernel: 'k', architecture: 'aarch64' });
    expect(info).toEqual({
      name: 'h', hostname: 'h', id: '0123456789abcdef0123456789abcdef', architecture: 'aarch64',
      os: { type: 'linux', kernel: 'k', name: 'Ubuntu', version: '22.04.4 LTS (Jammy Jellyfish)', platform: 'ubuntu', family: 'debian', full: 'Ubuntu 22.04.4 LTS' },
    });
  });

  it('falls back to a hash of the hostname without a machine id', () => {
    const empty = mkdtempSync(join(tmpdir(), 'execwarden-host-'));
    try {
      const a = loadHostInfo({ root: empty, hostname: 'alpha' });
      expect(a.id).toMatch(/^[0-9a-f]{32}$/);
      expect(loadHostInfo({ root: empty, hostname: 'alpha' }).id).toBe(a.id);
      expect(a.os).toMatchObject({ type: 'linux', name: 'Linux', platform: 'linux' });
    } finally {
      rmSync(empty, { recursive: true });
    }
  });

  it('parses os-release quoting and maps families', () => {
    const fields = parseOsRelease('NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION=\'9.3 (Blue Onyx)\'\n# c\n');
    expect(fields).toMatchObject({ NAME: 'Rocky Linux', ID: 'rocky', VERSION: '9.3 (Blue Onyx)' });
    expect(hostOsFromRelease(fields, 'k')).toMatchObject({ platform: 'rocky', family: 'redhat', full: 'Rocky Linux 9.3 (Blue Onyx)' });
    expect(hostOsFromRelease({ ID: 'nixos' }, 'k').family).toBe('nixos');
  });

  it('describes this host', () => {
    const info = loadHostInfo();
    expect(info.os.type).toBe('linux');
    expect(info.id.length).toBeGreaterThan(0);
    expect(info.hostname).toBe(info.name);
  });
});

describe('EtcAccounts', () => {
  let dir: string | null = null;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true });
    dir = null;
  });

  it('names users and groups, first entry wins, comments skipped', () => {
    expect(parseIdFile('a:x:1:1\nb:x:1:1\n#c:x:2:2\nbad\n')).toEqual(new Map([[1, 'a']]));
    const accounts = new EtcAccounts({ root: ROOT });
    expect(accounts.userName(1000)).toBe('alice');
    expect(accounts.groupName(0)).toBe('root');
    expect(accounts.userName(4242)).toBeUndefined();
  });

  it('picks up a user added while running', () => {
    dir = mkdtempSync(join(tmpdir(), 'execwarden-etc-'));
    cpSync(ROOT, dir, { recursive: true });
    let now = 0;
    const accounts = new EtcAccounts({ root: dir, nowMs: () => now });
    expect(accounts.userName(1001)).toBeUndefined();
    const passwd = join(dir, 'etc/passwd');
    writeFileSync(passwd, 'bob:x:1001:1001::/home/bob:/bin/sh\n', { flag: 'a' });
    utimesSync(passwd, new Date(), new Date(Date.now() + 5_000));
    // Misses do not touch the files more than once a second.
    expect(accounts.userName(1001)).toBeUndefined();
    now += 1000;
    expect(accounts.userName(1001)).toBe('bob');
    expect(accounts.userName(4242)).toBeUndefined();
  });
});
