/**
 * /proc behind an interface, so the process table can be tested without a kernel.
 *
 * `RealProcFs` reads /proc; `FixtureProcFs` reads a directory tree laid out the same way
 * (`<root>/stat` with a `btime` line, `<root>/<pid>/{cmdline,comm,stat,status,exe,cwd,cgroup}`).
 * Both produce the same `ProcSnapshot` the native reader produces on exec, so a scanned process
 * and a captured one look alike to the process table.
 *
 * Parsing notes: the comm inside /proc/<pid>/stat is in parentheses and may itself contain
 * spaces and ')', so the fields are taken after the *last* ')'. Reads are synchronous: they are
 * used for start-up scans, resyncs after a loss and one stat read per fork, all off the native
 * hot path. Every read may fail (the process exited, or permission): a failed read is listed in
 * `failed`, never thrown.
 */
import { readFileSync, readdirSync, readlinkSync, openSync, readSync, closeSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcSnapshot, SnapshotRead } from '../capture/raw-event.js';

export interface ProcFs {
  /** Thread-group ids of the processes visible now. */
  listPids(): number[];
  /** Everything /proc tells about one process; null when it does not exist (any more). */
  snapshot(pid: number): ProcSnapshot | null;
  /** Start time (clock ticks since boot, stat field 22) only: one small read. Null if gone. */
  startTicks(pid: number): number | null;
  /** Wall-clock time of boot in ms since the epoch (`btime` of /proc/stat). */
  bootTimeMs(): number;
  /** USER_HZ: the unit of stat's start time. */
  readonly clockTicksPerSecond: number;
}

/** Default cap on the cmdline bytes kept, the same as the native reader's default. */
export const DEFAULT_CMDLINE_MAX_BYTES = 128 * 1024;

/** Fields of /proc/<pid>/stat after the comm, by their 1-based number in proc(5). */
export interface StatFields {
  ppid: number;
  pgid: number;
  sid: number;
  ttyNr: number;
  startTicks: number;
}

/** Parses /proc/<pid>/stat. Returns null when the text does not have the expected shape. */
export function parseStat(text: string): StatFields | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  // parts[0] is field 3 (state), so field N is parts[N - 3].
  const parts = text.slice(close + 1).trim().split(/\s+/);
  if (parts.length < 20) return null;
  const field = (n: number): number => Number(parts[n - 3]);
  const fields: StatFields = {
    ppid: field(4),
    pgid: field(5),
    sid: field(6),
    ttyNr: field(7),
    startTicks: field(22),
  };
  return Object.values(fields).every(Number.isFinite) ? fields : null;
}

/** Real and effective ids from the `Uid:` and `Gid:` lines of /proc/<pid>/status. */
export function parseStatusIds(text: string): { ruid: number; euid: number; rgid: number; egid: number } | null {
  const ids = (label: string): [number, number] | null => {
    const match = new RegExp(`^${label}:\\s+(\\d+)\\s+(\\d+)`, 'm').exec(text);
    return match ? [Number(match[1]), Number(match[2])] : null;
  };
  const uid = ids('Uid');
  const gid = ids('Gid');
  if (!uid || !gid) return null;
  return { ruid: uid[0], euid: uid[1], rgid: gid[0], egid: gid[1] };
}

/** The path part of the first line of /proc/<pid>/cgroup ("0::/system.slice/x.service"). */
export function parseCgroup(text: string): string | null {
  const first = text.split('\n', 1)[0] ?? '';
  const parts = first.split(':');
  return parts.length >= 3 ? parts.slice(2).join(':') : null;
}

/** The `btime` line of /proc/stat, in ms. */
export function parseBootTimeMs(text: string): number | null {
  const match = /^btime\s+(\d+)/m.exec(text);
  return match ? Number(match[1]) * 1000 : null;
}

/**
 * /proc-shaped directory reader. `readLink` is how exe and cwd are resolved; the fixture variant
 * also accepts a plain file holding the target, for trees that cannot carry symlinks.
 */
class ProcTreeFs implements ProcFs {
  readonly clockTicksPerSecond: number;
  protected readonly root: string;
  private readonly cmdlineMaxBytes: number;
  private cachedBootTimeMs: number | null = null;

  constructor(root: string, opts: { clockTicksPerSecond?: number; cmdlineMaxBytes?: number } = {}) {
    this.root = root;
    // USER_HZ is 100 on every architecture Linux runs Node on; getconf would tell the same.
    this.clockTicksPerSecond = opts.clockTicksPerSecond ?? 100;
    this.cmdlineMaxBytes = opts.cmdlineMaxBytes ?? DEFAULT_CMDLINE_MAX_BYTES;
  }

  listPids(): number[] {
    let names: string[];
    try {
      names = readdirSync(this.root);
    } catch {
      return [];
    }
    const pids: number[] = [];
    for (const name of names) if (/^\d+$/.test(name)) pids.push(Number(name));
    return pids.sort((a, b) => a - b);
  }

  bootTimeMs(): number {
    if (this.cachedBootTimeMs === null) {
      this.cachedBootTimeMs = parseBootTimeMs(this.readText('stat') ?? '') ?? 0;
    }
    return this.cachedBootTimeMs;
  }

  startTicks(pid: number): number | null {
    const stat = this.readText(`${pid}/stat`);
    return stat === null ? null : (parseStat(stat)?.startTicks ?? null);
  }

  snapshot(pid: number): ProcSnapshot | null {
    const failed: SnapshotRead[] = [];
    const attempt = <T>(read: SnapshotRead, fn: () => T | null): T | null => {
      const value = fn();
      if (value === null) failed.push(read);
      return value;
    };
    // Same order as the native reader: what an exec replaces first (cmdline, comm, stat).
    const cmdline = attempt('cmdline', () => this.readCmdline(pid));
    const commText = attempt('comm', () => this.readText(`${pid}/comm`));
    const stat = attempt('stat', () => {
      const text = this.readText(`${pid}/stat`);
      return text === null ? null : parseStat(text);
    });
    if (stat === null) return null; // no stat: the process does not exist (any more)
    const ids = attempt('status', () => {
      const text = this.readText(`${pid}/status`);
      return text === null ? null : parseStatusIds(text);
    });
    const exe = attempt('exe', () => this.readLink(`${pid}/exe`));
    const cwd = attempt('cwd', () => this.readLink(`${pid}/cwd`));
    const cgroup = attempt('cgroup', () => {
      const text = this.readText(`${pid}/cgroup`);
      return text === null ? null : parseCgroup(text);
    });
    return {
      cmdline: cmdline?.bytes ?? null,
      cmdlineTruncated: cmdline?.truncated ?? false,
      comm: commText === null ? null : commText.replace(/\n$/, ''),
      exe,
      cwd,
      ppid: stat.ppid,
      pgid: stat.pgid,
      sid: stat.sid,
      ttyNr: stat.ttyNr,
      startTicks: stat.startTicks,
      ruid: ids?.ruid ?? -1,
      euid: ids?.euid ?? -1,
      rgid: ids?.rgid ?? -1,
      egid: ids?.egid ?? -1,
      cgroup,
      failed,
    };
  }

  protected readText(relative: string): string | null {
    try {
      return readFileSync(join(this.root, relative), 'utf8');
    } catch {
      return null;
    }
  }

  protected readLink(relative: string): string | null {
    try {
      return readlinkSync(join(this.root, relative));
    } catch {
      return null;
    }
  }

  /** Reads at most cmdlineMaxBytes; one more byte tells whether there was more. */
  private readCmdline(pid: number): { bytes: Buffer; truncated: boolean } | null {
    let fd: number;
    try {
      fd = openSync(join(this.root, `${pid}/cmdline`), 'r');
    } catch {
      return null;
    }
    try {
      const buffer = Buffer.allocUnsafe(this.cmdlineMaxBytes + 1);
      let length = 0;
      while (length < buffer.length) {
        const n = readSync(fd, buffer, length, buffer.length - length, null);
        if (n === 0) break;
        length += n;
      }
      const truncated = length > this.cmdlineMaxBytes;
      return { bytes: Buffer.from(buffer.subarray(0, Math.min(length, this.cmdlineMaxBytes))), truncated };
    } catch {
      return null;
    } finally {
      closeSync(fd);
    }
  }
}

/** The host's /proc. */
export class RealProcFs extends ProcTreeFs {
  constructor(opts: { cmdlineMaxBytes?: number } = {}) {
    super('/proc', opts);
  }
}

/**
 * A directory tree laid out like /proc, for tests. exe and cwd may be symlinks (as in /proc) or
 * regular files whose content is the target path.
 */
export class FixtureProcFs extends ProcTreeFs {
  constructor(root: string, opts: { clockTicksPerSecond?: number; cmdlineMaxBytes?: number } = {}) {
    super(root, opts);
  }

  protected override readLink(relative: string): string | null {
    const link = super.readLink(relative);
    if (link !== null) return link;
    try {
      if (!lstatSync(join(this.root, relative)).isFile()) return null;
    } catch {
      return null;
    }
    const text = this.readText(relative);
    return text === null ? null : text.replace(/\n$/, '');
  }
}
