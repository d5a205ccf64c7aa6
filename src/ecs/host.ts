/**
 * Facts about the host that every event carries (`host.*`), and user/group names.
 *
 * Read once at start-up from the filesystem (`root` lets tests point at a fixture tree):
 * host.id from /etc/machine-id (then /var/lib/dbus/machine-id), host.os from /etc/os-release,
 * kernel/arch/hostname from the running system unless given. Names come from /etc/passwd and
 * /etc/group rather than getpwuid: no native call, no NSS modules (LDAP, sssd) blocking the
 * event loop; accounts known only to NSS keep their numeric id without a name.
 */
import { readFileSync, statSync } from 'node:fs';
import { hostname as osHostname, machine, release } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

export interface HostOs {
  type: 'linux';
  kernel: string;
  name: string;
  version: string;
  platform: string;
  family: string;
  full: string;
}

export interface HostInfo {
  name: string;
  hostname: string;
  id: string;
  architecture: string;
  os: HostOs;
}

/** Parses os-release(5): KEY=value lines, values optionally quoted. */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    let value = match[2];
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1).replace(/\\(["'$`\\])/g, '$1');
    fields[match[1]] = value;
  }
  return fields;
}

/** Distribution families as Beats and Defend name them, keyed by ID / ID_LIKE values. */
const FAMILIES: Record<string, string> = {
  debian: 'debian', ubuntu: 'debian', raspbian: 'debian', linuxmint: 'debian',
  rhel: 'redhat', centos: 'redhat', fedora: 'redhat', rocky: 'redhat', almalinux: 'redhat',
  amzn: 'redhat', ol: 'redhat',
  suse: 'suse', opensuse: 'suse', sles: 'suse', 'opensuse-leap': 'suse',
  arch: 'arch', archarm: 'arch', manjaro: 'arch',
  alpine: 'alpine', gentoo: 'gentoo',
};

export function hostOsFromRelease(fields: Record<string, string>, kernel: string): HostOs {
  const platform = fields.ID ?? 'linux';
  const candidates = [platform, ...(fields.ID_LIKE ?? '').split(/\s+/).filter(Boolean)];
  const family = candidates.map((id) => FAMILIES[id]).find(Boolean) ?? platform;
  const name = fields.NAME ?? 'Linux';
  return {
    type: 'linux',
    kernel,
    name,
    version: fields.VERSION ?? fields.VERSION_ID ?? '',
    platform,
    family,
    full: fields.PRETTY_NAME ?? `${name} ${fields.VERSION ?? ''}`.trim(),
  };
}

function readTrimmed(path: string): string | null {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text === '' ? null : text;
  } catch {
    return null;
  }
}

export interface HostInfoOptions {
  /** Filesystem root to read /etc from (tests). Default "/". */
  root?: string;
  hostname?: string;
  kernel?: string;
  architecture?: string;
}

export function loadHostInfo(opts: HostInfoOptions = {}): HostInfo {
  const root = opts.root ?? '/';
  const hostname = opts.hostname ?? osHostname();
  const kernel = opts.kernel ?? release();
  // Without a machine id the hostname is the only stable identity left; hash it so host.id
  // keeps the same shape.
  const id =
    readTrimmed(join(root, 'etc/machine-id')) ??
    readTrimmed(join(root, 'var/lib/dbus/machine-id')) ??
    createHash('sha256').update(`hostname:${hostname}`).digest('hex').slice(0, 32);
  const osRelease =
    readTrimmed(join(root, 'etc/os-release')) ?? readTrimmed(join(root, 'usr/lib/os-release')) ?? '';
  return {
    name: hostname,
    hostname,
    id,
    architecture: opts.architecture ?? machine(),
    os: hostOsFromRelease(parseOsRelease(osRelease), kernel),
  };
}

/** Names for numeric user and group ids. */
export interface AccountResolver {
  userName(uid: number): string | undefined;
  groupName(gid: number): string | undefined;
}

/** Parses passwd(5)/group(5) style files: name:x:id:... -> id -> first name seen. */
export function parseIdFile(text: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const [name, , id] = line.split(':');
    const numeric = Number(id);
    if (name && id !== undefined && id !== '' && Number.isInteger(numeric) && !names.has(numeric)) {
      names.set(numeric, name);
    }
  }
  return names;
}

/**
 * /etc/passwd and /etc/group, cached. A lookup that misses checks whether a file changed (a user
 * added while the agent runs) at most once per `recheckMs` (default 1 s), so ids with no name
 * (a container's, an NSS-only account's) cost no system call per event; `reload()` forces it
 * (SIGHUP).
 */
export class EtcAccounts implements AccountResolver {
  private readonly passwdPath: string;
  private readonly groupPath: string;
  private readonly recheckMs: number;
  private readonly nowMs: () => number;
  private users = new Map<number, string>();
  private groups = new Map<number, string>();
  private passwdMtimeMs = -1;
  private groupMtimeMs = -1;
  private checkedAtMs = -Infinity;

  constructor(opts: { root?: string; recheckMs?: number; nowMs?: () => number } = {}) {
    const root = opts.root ?? '/';
    this.passwdPath = join(root, 'etc/passwd');
    this.groupPath = join(root, 'etc/group');
    this.recheckMs = opts.recheckMs ?? 1000;
    this.nowMs = opts.nowMs ?? (() => performance.now());
    this.reload();
  }

  reload(): void {
    this.users = this.load(this.passwdPath);
    this.groups = this.load(this.groupPath);
    this.passwdMtimeMs = mtimeMs(this.passwdPath);
    this.groupMtimeMs = mtimeMs(this.groupPath);
    this.checkedAtMs = this.nowMs();
  }

  userName(uid: number): string | undefined {
    const name = this.users.get(uid);
    if (name === undefined && this.changed()) return this.users.get(uid);
    return name;
  }

  groupName(gid: number): string | undefined {
    const name = this.groups.get(gid);
    if (name === undefined && this.changed()) return this.groups.get(gid);
    return name;
  }

  /** After a miss: reloads when a file changed, checking at most once per recheckMs. */
  private changed(): boolean {
    const now = this.nowMs();
    if (now - this.checkedAtMs < this.recheckMs) return false;
    this.checkedAtMs = now;
    if (mtimeMs(this.passwdPath) === this.passwdMtimeMs && mtimeMs(this.groupPath) === this.groupMtimeMs) return false;
    this.reload();
    return true;
  }

  private load(path: string): Map<number, string> {
    try {
      return parseIdFile(readFileSync(path, 'utf8'));
    } catch {
      return new Map();
    }
  }
}

function mtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}
