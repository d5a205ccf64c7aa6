/**
 * /proc behind an interface, so the process table can be tested without a kernel.
 *
 * `RealProcFs` reads /proc; `FixtureProcFs` reads a directory tree laid out the same way
 * (`<root>/stat` with a `btime` line, `<root>/<pid>/{cmdline,comm,stat,status,exe,cwd,cgroup,environ}`).
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
import { DEFAULT_ENVIRON_LIMITS, filterEnviron, type EnvironLimits, type FilteredEnviron } from './environment.js';

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
/** Of a cut cmdline, the bytes of its end kept (within the cap), the same as the native reader's. */
export const DEFAULT_CMDLINE_TAIL_BYTES = 16 * 1024;
/** Bytes of a cut cmdline read only to count its arguments, the same as the native reader's. */
export const DEFAULT_ARGS_COUNT_MAX_BYTES = 16 * 1024 * 1024;
/**
 * What the agent's /proc rescans keep of each cmdline (head and end): the process table keeps
 * 4,096 characters of each end of a scanned argv at once (process-table.ts), which 16 KiB of
 * bytes cover even at 3 bytes a character, so the kept form is the one an exec would have left.
 * A rescan follows every loss: reading 128 KiB of each of thousands of processes with long argv
 * would only make garbage while the agent is already behind.
 */
export const SCAN_CMDLINE_MAX_BYTES = 32 * 1024;
export const SCAN_CMDLINE_TAIL_BYTES = 16 * 1024;

/** Fields of /proc/<pid>/stat after the comm, by their 1-based number in proc(5). */
export interface StatFields {
  /** Field 3: R, S, D, Z (zombie), ... */
  state: string;
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
  const numbers = {
    ppid: field(4),
    pgid: field(5),
    sid: field(6),
    ttyNr: field(7),
    startTicks: field(22),
  };
  return Object.values(numbers).every(Number.isFinite) ? { state: parts[0], ...numbers } : null;
}

export interface StatusFields {
  ruid: number;
  euid: number;
  suid: number;
  rgid: number;
  egid: number;
  sgid: number;
  /** Capability masks; -1 when the line is missing. */
  capPermitted: number;
  capEffective: number;
  capBounding: number;
  /** `Threads:`; -1 when missing. */
  threads: number;
}

/** Real, effective and saved ids (`Uid:`/`Gid:`) and the CapPrm/CapEff/CapBnd masks of status. */
export function parseStatus(text: string): StatusFields | null {
  const ids = (label: string): [number, number, number] | null => {
    const match = new RegExp(`^${label}:[ \\t]+(\\d+)[ \\t]+(\\d+)[ \\t]+(\\d+)`, 'm').exec(text);
    return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : null;
  };
  const cap = (label: string): number => {
    const match = new RegExp(`^${label}:[ \\t]+([0-9a-fA-F]{1,16})\\b`, 'm').exec(text);
    if (!match) return -1;
    const value = Number.parseInt(match[1], 16);
    return Number.isSafeInteger(value) ? value : -1;
  };
  const uid = ids('Uid');
  const gid = ids('Gid');
  if (!uid || !gid) return null;
  return {
    ruid: uid[0], euid: uid[1], suid: uid[2],
    rgid: gid[0], egid: gid[1], sgid: gid[2],
    capPermitted: cap('CapPrm'), capEffective: cap('CapEff'), capBounding: cap('CapBnd'),
    threads: Number(/^Threads:[ \t]+(\d+)/m.exec(text)?.[1] ?? -1),
  };
}

/** The highest capability bit of the running kernel (/proc/sys/kernel/cap_last_cap); 40 if unreadable. */
export function readCapabilityLastBit(path = '/proc/sys/kernel/cap_last_cap'): number {
  try {
    const value = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(value) && value >= 0 && value <= 52 ? value : 40;
  } catch {
    return 40;
  }
}

/** The `btime` line of /proc/stat, in ms. */
export function parseBootTimeMs(text: string): number | null {
  const match = /^btime\s+(\d+)/m.exec(text);
  return match ? Number(match[1]) * 1000 : null;
}

export interface ProcTreeOptions {
  clockTicksPerSecond?: number;
  cmdlineMaxBytes?: number;
  /** Bytes of cmdline read past the kept ones only to count arguments. Default 16 MiB. */
  argsCountMaxBytes?: number;
  /** Of a cut cmdline, the bytes of its end kept within the cap. Default 16 KiB. */
  cmdlineTailBytes?: number;
  /** Environment variable names to read (the same allow-list the native reader gets). */
  envVars?: readonly string[];
  environLimits?: EnvironLimits;
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

  private readonly argsCountMaxBytes: number;
  private readonly cmdlineTailBytes: number;
  private readonly chunk = Buffer.allocUnsafe(64 * 1024);
  private readonly envNames: ReadonlySet<string>;
  private readonly environLimits: EnvironLimits;

  constructor(root: string, opts: ProcTreeOptions = {}) {
    this.root = root;
    this.argsCountMaxBytes = opts.argsCountMaxBytes ?? DEFAULT_ARGS_COUNT_MAX_BYTES;
    this.cmdlineTailBytes = opts.cmdlineTailBytes ?? DEFAULT_CMDLINE_TAIL_BYTES;
    this.envNames = new Set(opts.envVars ?? []);
    this.environLimits = opts.environLimits ?? DEFAULT_ENVIRON_LIMITS;
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
    // Same order as the native reader: what an exec replaces first (cmdline, comm, stat, environ).
    let cmdline = attempt('cmdline', () => this.readCmdline(pid));
    const commText = attempt('comm', () => this.readText(`${pid}/comm`));
    const stat = attempt('stat', () => {
      const text = this.readText(`${pid}/stat`);
      return text === null ? null : parseStat(text);
    });
    if (stat === null) return null; // no stat: the process does not exist (any more)
    if (cmdline !== null && cmdline.bytes.length === 0 && (stat.state === 'Z' || stat.state === 'X')) {
      // A zombie's memory is released: no bytes is not an empty argv there.
      cmdline = null;
      failed.push('cmdline');
    }
    const environ = this.envNames.size === 0 ? null : attempt('environ', () => this.readEnviron(pid));
    const status = attempt('status', () => {
      const text = this.readText(`${pid}/status`);
      return text === null ? null : parseStatus(text);
    });
    const exe = attempt('exe', () => this.readLink(`${pid}/exe`));
    const cwd = attempt('cwd', () => this.readLink(`${pid}/cwd`));
    const cgroup = attempt('cgroup', () => {
      const text = this.readText(`${pid}/cgroup`);
      return text === null || text === '' ? null : text;
    });
    const snapshot: ProcSnapshot = {
      cmdline: cmdline?.bytes ?? null,
      cmdlineTruncated: cmdline?.truncated ?? false,
      ...(cmdline?.argsTotal !== undefined ? { argsTotal: cmdline.argsTotal, argsTotalExact: cmdline.argsTotalExact } : {}),
      ...(cmdline?.tailOffset !== undefined ? { cmdlineTailOffset: cmdline.tailOffset } : {}),
      comm: commText === null ? null : commText.replace(/\n$/, ''),
      exe,
      cwd,
      ppid: stat.ppid,
      pgid: stat.pgid,
      sid: stat.sid,
      ttyNr: stat.ttyNr,
      startTicks: stat.startTicks,
      ruid: status?.ruid ?? -1,
      euid: status?.euid ?? -1,
      rgid: status?.rgid ?? -1,
      egid: status?.egid ?? -1,
      suid: status?.suid ?? -1,
      sgid: status?.sgid ?? -1,
      capPermitted: status?.capPermitted ?? -1,
      capEffective: status?.capEffective ?? -1,
      capBounding: status?.capBounding ?? -1,
      ...(status && status.threads > 0 ? { threads: status.threads } : {}),
      cgroup,
      failed,
    };
    if (this.envNames.size > 0) {
      snapshot.env = environ?.env ?? null;
      if (environ?.truncated) snapshot.envTruncated = true;
    }
    return snapshot;
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

  /**
   * Keeps at most cmdlineMaxBytes; past them the rest is read only to count its arguments (NULs),
   * at most argsCountMaxBytes more, as the native reader does.
   */
  private readCmdline(pid: number): { bytes: Buffer; truncated: boolean; tailOffset?: number; argsTotal?: number; argsTotalExact?: boolean } | null {
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let extra = 0;
    let nuls = 0;
    let last = 0;
    const tail = Math.min(this.cmdlineTailBytes, Math.floor(this.cmdlineMaxBytes / 2));
    let restTail = Buffer.alloc(0);
    const more = this.readChunks(`${pid}/cmdline`, this.cmdlineMaxBytes + this.argsCountMaxBytes, (chunk) => {
      const keep = Math.min(chunk.length, this.cmdlineMaxBytes - keptBytes);
      if (keep > 0) {
        kept.push(Buffer.from(chunk.subarray(0, keep)));
        keptBytes += keep;
      }
      if (chunk.length > keep) {
        extra += chunk.length - keep;
        if (tail > 0) restTail = Buffer.concat([restTail, chunk.subarray(keep)]).subarray(-tail);
      }
      for (let at = chunk.indexOf(0); at >= 0; at = chunk.indexOf(0, at + 1)) nuls++;
      last = chunk[chunk.length - 1]!;
    });
    if (more === null) return null;
    const bytes = Buffer.concat(kept, keptBytes);
    if (extra === 0 && !more) return { bytes, truncated: false };
    const counted = { argsTotal: nuls + (last !== 0 ? 1 : 0), argsTotalExact: !more };
    if (tail === 0 || extra === 0) return { bytes, truncated: true, ...counted };
    // The same head and end the native reader keeps (see proc_snapshot.h).
    const head = keptBytes - tail;
    const fromRest = Math.min(extra, tail);
    const end = Buffer.concat([bytes.subarray(keptBytes - (tail - fromRest)), restTail.subarray(restTail.length - fromRest)]);
    return { bytes: Buffer.concat([bytes.subarray(0, head), end]), truncated: true, tailOffset: head, ...counted };
  }

  /** The allow-listed variables of environ, reading at most the scan cap plus one byte. */
  private readEnviron(pid: number): FilteredEnviron | null {
    const pieces: Buffer[] = [];
    const more = this.readChunks(`${pid}/environ`, this.environLimits.scanMaxBytes, (chunk) => void pieces.push(Buffer.from(chunk)));
    if (more === null) return null;
    const filtered = filterEnviron(Buffer.concat(pieces), this.envNames, this.environLimits);
    return more ? { ...filtered, truncated: true } : filtered;
  }

  /**
   * Reads up to `max` bytes of a file through one reused buffer, handing each piece to `onChunk`
   * (valid only during the call). Returns whether the file held more than `max` bytes, or null
   * when it could not be read.
   */
  private readChunks(relative: string, max: number, onChunk: (chunk: Buffer) => void): boolean | null {
    let fd: number;
    try {
      fd = openSync(join(this.root, relative), 'r');
    } catch {
      return null;
    }
    try {
      let total = 0;
      for (;;) {
        if (total >= max) return readSync(fd, this.chunk, 0, 1, null) > 0;
        const n = readSync(fd, this.chunk, 0, Math.min(this.chunk.length, max - total), null);
        if (n === 0) return false;
        total += n;
        onChunk(this.chunk.subarray(0, n));
      }
    } catch {
      return null;
    } finally {
      closeSync(fd);
    }
  }
}

/** The host's /proc. */
export class RealProcFs extends ProcTreeFs {
  constructor(opts: Omit<ProcTreeOptions, 'clockTicksPerSecond'> = {}) {
    super('/proc', opts);
  }
}

/**
 * A directory tree laid out like /proc, for tests. exe and cwd may be symlinks (as in /proc) or
 * regular files whose content is the target path.
 */
export class FixtureProcFs extends ProcTreeFs {
  constructor(root: string, opts: ProcTreeOptions = {}) {
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
