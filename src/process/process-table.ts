/**
 * The host's processes as the event stream tells them: fork creates an entry (the child runs its
 * parent's image), exec replaces the image (the old one goes to `previous`), exit marks the entry
 * exited. A /proc scan seeds the table at start-up and resynchronises it after a loss.
 *
 * Parents by reference: an entry points at the entry of the process that forked it, so a child
 * still knows its parent's name, args and entity id after the parent exited, was reaped and its
 * pid reused (a pid is not an identity; pid + start time is). When an entry leaves the table its
 * own parent pointer is cut, so a chain of exited ancestors cannot pin memory: at most one
 * evicted entry is kept alive per entry in the table.
 *
 * Bounded, in entries and in bytes:
 * - a judged image keeps at most `keptArgsChars` of its argv (settle()), a previous one
 *   `keptPreviousArgsChars`; a scanned one is kept compact at once (scan(): a rescan after a loss
 *   may meet thousands of processes, and its recovered documents are judged on that form);
 * - exited entries stay `exitedTtlMs` (late children and exit events of their children still
 *   resolve), then expire;
 * - above `maxEntries` the oldest exited go first, live entries only when the table holds nothing
 *   else (counted apart);
 * - above `maxKeptBytes` (imageBytes(), an upper estimate, of every distinct image the entries
 *   hold: a fork shares its parent's and is not counted twice), the oldest exited go first too,
 *   down to the MIN_EXITED_KEPT most recent, which are cut down to leanImage() instead; then the
 *   heavy live ones (their images over HEAVY_BYTES), in the order they became heavy, are cut down
 *   too. Each cut is counted (`leaned`); entries that shared an image share its lean copy. An
 *   entry that leaves keeps only its lean image for the children that still point at it. The
 *   budget is enforced once an image has been judged (settle(), a scan, a rename), so an exec's
 *   own document always sees its whole image. A live process is
 *   never dropped for its size, so a user who fills the budget with long command lines, paths or
 *   stream names cannot push a daemon's entry (and its children's parent fields) out. Without
 *   this, 36,000 short-lived execs with 8,000-character arguments held 750 MiB.
 *
 * Threads: the proc connector reports thread creation and exit like fork and exit, with
 * pid != tgid. They are not processes, but a process ends only when its last thread does: the
 * main thread may exit first (pthread_exit, or a Go program's syscall.Exec from another thread,
 * whose exec makes the old leader exit before the exec event arrives). So each entry counts its
 * other threads (thread forks and exits; the scan reads `Threads:`), a leader exit while some run
 * only marks the entry, and the process ends with its last thread. An exec leaves one thread.
 *
 * Entity ids: base64 of a hash of host id, pid and start time (clock ticks since boot, from
 * /proc/<pid>/stat), so the same process gets the same id after an agent restart. A fork child
 * that is gone before its stat could be read gets the start time estimated from the event's
 * monotonic timestamp (exact unless the host was suspended); `startEstimated` says so.
 */
import { createHash } from 'node:crypto';
import type { ProcSnapshot, RawEvent } from '../capture/raw-event.js';
import type { Clock } from '../clock.js';
import type { ProcFs, StatusFields } from './procfs.js';
import { compactImage, imageBytes, imageFromComm, imageFromSnapshot, leanImage, sameImage, type ProcessImage } from './process-image.js';
import { ContainerIds } from './container.js';
import { decideEntryLeader, type EntryType } from './entry-leader.js';
import { FifoQueue, OrderedMap } from '../insertion-order.js';

/** Ids and capability masks (StatusFields) are -1 where unknown. */
export interface ProcessEntry extends Omit<StatusFields, 'threads'> {
  pid: number;
  /** Clock ticks since boot; `startEstimated` when derived from an event timestamp. */
  startTicks: number;
  startEstimated: boolean;
  /** Wall-clock start in ms since the epoch. */
  startMs: number;
  entityId: string;
  image: ProcessImage;
  /** Images this process ran before the current one, oldest first, the fork image included. */
  previous: ProcessImage[];
  ppid: number;
  /** The parent's entry, kept while this entry is in the table (see the module header). */
  parent: ProcessEntry | null;
  pgid: number;
  sid: number;
  ttyNr: number;
  /** From the cgroup at exec or scan (inherited at fork); null on the host. */
  containerId: string | null;
  /** The session's entry leader and its kind (entry-leader.ts); the entry itself when it leads. */
  entryLeader: ProcessEntry | null;
  entryType: EntryType | null;
  origin: 'scan' | 'fork' | 'exec';
  /** Threads besides the main one, as far as the stream told (never below 0). */
  threads: number;
  /** The main thread exited while other threads ran: the process ends with the last of them. */
  leaderExit: { exitCode: number | null } | null;
  exitedAtMs: number | null;
  /** Decoded exit status: the exit code, or 128 + signal number when killed by a signal. */
  exitCode: number | null;
  /** The images the table's byte budget counts for this entry (set while it is in the table). */
  counted?: ProcessImage[] | undefined;
}

export interface ProcessTableOptions {
  procfs: ProcFs;
  hostId: string;
  clock: Clock;
  /** Entries kept at most (live and exited). Default 32768. */
  maxEntries?: number;
  /** How long an exited process stays resolvable. Default 5 minutes. */
  exitedTtlMs?: number;
  /** `previous` images kept per process (the most recent). Default 8. */
  maxPreviousImages?: number;
  /** Argv characters kept of a judged image (compactImage), and of each previous image. Defaults 8192 and 2048. */
  keptArgsChars?: number;
  keptPreviousArgsChars?: number;
  /** Budget for what the entries' images hold (imageBytes). Default 64 MiB. */
  maxKeptBytes?: number;
}

export interface ProcessTableStats {
  /** Entries held now, live and exited. */
  size: number;
  live: number;
  exited: number;
  /** Exited entries removed by the size cap, and live ones (only when nothing else was left). */
  evictions: number;
  evictionsLive: number;
  /** Exited entries removed after their TTL. */
  expired: number;
  scans: number;
  /** Exec events without a usable /proc snapshot (the process was already gone). */
  execsWithoutSnapshot: number;
  /** Exits and execs of pids the table did not know. */
  unknownExits: number;
  unknownExecs: number;
  /** A pid found running a different process than the table thought (missed exit + fork). */
  pidReuses: number;
  /** Image changes found by a scan: execs the stream lost. */
  missedExecs: number;
  /** Estimated start times that the exec snapshot later showed to be off (entity id not stable). */
  startEstimateMisses: number;
  /** Forks that came after their process's exec (the table kept the exec'd image). */
  lateForks: number;
  /** imageBytes() of every entry's images: what the byte budget counts. */
  keptBytes: number;
  /** Live entries cut down to leanImage() because the byte budget was spent. */
  leaned: number;
}

export interface ExitResult {
  /** The process, when the table knew it. */
  entry: ProcessEntry | null;
  /** The process has ended (its last thread exited); false for a thread or a main thread with others left. */
  ended: boolean;
  exitCode: number | null;
}

export interface ExecResult {
  entry: ProcessEntry;
  /** False when the exec had no usable snapshot: the image is unknown. */
  described: boolean;
}

export const DEFAULT_MAX_ENTRIES = 32_768;
export const DEFAULT_EXITED_TTL_MS = 5 * 60_000;
export const DEFAULT_MAX_PREVIOUS_IMAGES = 8;
export const DEFAULT_KEPT_ARGS_CHARS = 8192;
export const DEFAULT_KEPT_PREVIOUS_ARGS_CHARS = 2048;
export const DEFAULT_MAX_KEPT_BYTES = 64 * 1024 * 1024;
/** Exited entries never dropped for bytes (only for the entry cap): the most recent ones. */
const MIN_EXITED_KEPT = 256;
/** An entry whose images hold more than this is cut down first when the budget is spent. */
const HEAVY_BYTES = 8 * 1024;
/** What leanImage() keeps of each text. */
const LEAN_CHARS = 512;

const hostPrefixes = new Map<string, string>();

const BASE64_CODES = Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', (c) => c.charCodeAt(0));

/**
 * A process's id for the life of the system: the host (the first 6 bytes of the SHA-256 of its
 * id, worked out once), the pid (4 bytes) and the start time in clock ticks (8 bytes), in base64
 * (24 characters). Two processes of one host never share it (pid and start time name one process),
 * and it costs no hash per process. Like Defend's, it is opaque to readers: only equality counts.
 * 6 and 12 bytes are whole base64 groups: the host's 8 characters are encoded once, the 12 bytes
 * of pid and start here, as four 24-bit groups (no Buffer per process).
 */
export function entityIdFor(hostId: string, pid: number, startTicks: number): string {
  let prefix = hostPrefixes.get(hostId);
  if (prefix === undefined) {
    prefix = createHash('sha256').update(hostId).digest().subarray(0, 6).toString('base64');
    if (hostPrefixes.size >= 16) hostPrefixes.clear();
    hostPrefixes.set(hostId, prefix);
  }
  const ticks = Math.max(0, Math.floor(startTicks));
  const id = pid >>> 0;
  const high = Math.floor(ticks / 0x1_0000_0000) >>> 0;
  const low = ticks >>> 0;
  const groups = [id >>> 8, ((id & 0xff) << 16) | (high >>> 16), ((high & 0xffff) << 8) | (low >>> 24), low & 0xffffff];
  const codes: number[] = [];
  for (const group of groups) {
    codes.push(BASE64_CODES[group >>> 18]!, BASE64_CODES[(group >>> 12) & 63]!, BASE64_CODES[(group >>> 6) & 63]!, BASE64_CODES[group & 63]!);
  }
  return prefix + String.fromCharCode(...codes);
}

/** Whether `counted` is exactly [image, ...previous]. */
function sameImages(counted: readonly ProcessImage[], image: ProcessImage, previous: readonly ProcessImage[]): boolean {
  if (counted.length !== previous.length + 1 || counted[0] !== image) return false;
  for (let i = 0; i < previous.length; i++) if (counted[i + 1] !== previous[i]) return false;
  return true;
}

/** exit status as wait(2) gives it -> exit code, or 128 + signal like a shell. */
export function decodeExitStatus(status: number): number {
  const signal = status & 0x7f;
  return signal === 0 ? (status >> 8) & 0xff : 128 + signal;
}

/**
 * The exec's snapshot when it tells anything about the new image; null when the process was gone
 * (or its pid already belonged to a process started after the exec: that one is not described).
 */
function usableSnapshot(raw: RawEvent): ProcSnapshot | null {
  const snapshot = raw.snapshot;
  if (snapshot === undefined || snapshot.startedAfterEvent === true) return null;
  return snapshot.cmdline !== null || snapshot.exe !== null || snapshot.comm !== null ? snapshot : null;
}

export class ProcessTable {
  private readonly procfs: ProcFs;
  private readonly hostId: string;
  private readonly clock: Clock;
  private readonly maxEntries: number;
  private readonly exitedTtlMs: number;
  private readonly maxPreviousImages: number;
  private readonly keptArgsChars: number;
  private readonly keptPreviousArgsChars: number;
  private readonly maxKeptBytes: number;
  /**
   * The distinct images entries hold (current and previous), with how many places hold each:
   * keptBytes counts an image once however many entries share it (a fork shares its parent's).
   */
  private readonly imageRefs = new Map<ProcessImage, number>();
  /** One lean copy per image, so that entries which shared an image share its lean copy. */
  private readonly leanCopies = new WeakMap<ProcessImage, ProcessImage>();
  private keptBytes = 0;
  /** Live entries that were heavy when accounted, in that order; an entry moves on as it retires. */
  private readonly heavy = new OrderedMap<ProcessEntry, true>();
  /** Heavy entries that retired while queued, in retirement order; an entry leaves as it is dropped. */
  private readonly heavyExited = new OrderedMap<ProcessEntry, true>();
  /**
   * Live processes by pid. Past `maxEntries` with nothing exited the first inserted goes; finding
   * it scans past the Map's deleted slots (insertion-order.ts), which only a table full of live
   * processes pays, and an OrderedMap here cost every fork and exit more than that.
   */
  private readonly live = new Map<number, ProcessEntry>();
  private readonly containerIds = new ContainerIds();
  /**
   * Exited entries in exit order; they leave only from the front (expiry, eviction). A queue, not
   * a Map: with a full table every event evicts the oldest, which a Map's iterator finds only by
   * scanning past its deleted slots (insertion-order.ts).
   */
  private readonly exited = new FifoQueue<ProcessEntry>();
  /** The most recent exited entry of each pid, for session/group leaders that have exited. */
  private readonly exitedByPid = new Map<number, ProcessEntry>();
  private readonly counters = {
    evictions: 0,
    evictionsLive: 0,
    expired: 0,
    scans: 0,
    execsWithoutSnapshot: 0,
    unknownExits: 0,
    unknownExecs: 0,
    pidReuses: 0,
    missedExecs: 0,
    startEstimateMisses: 0,
    lateForks: 0,
    leaned: 0,
  };

  constructor(opts: ProcessTableOptions) {
    this.procfs = opts.procfs;
    this.hostId = opts.hostId;
    this.clock = opts.clock;
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.exitedTtlMs = opts.exitedTtlMs ?? DEFAULT_EXITED_TTL_MS;
    this.maxPreviousImages = opts.maxPreviousImages ?? DEFAULT_MAX_PREVIOUS_IMAGES;
    this.keptArgsChars = opts.keptArgsChars ?? DEFAULT_KEPT_ARGS_CHARS;
    this.keptPreviousArgsChars = opts.keptPreviousArgsChars ?? DEFAULT_KEPT_PREVIOUS_ARGS_CHARS;
    this.maxKeptBytes = opts.maxKeptBytes ?? DEFAULT_MAX_KEPT_BYTES;
  }

  /** The live process with this pid, if known. */
  get(pid: number): ProcessEntry | undefined {
    return this.live.get(pid);
  }

  /** The process leading a session or process group `leaderPid` (live, or exited and kept). */
  leader(leaderPid: number, kind: 'session' | 'group'): ProcessEntry | undefined {
    const leads = (entry: ProcessEntry | undefined): boolean =>
      entry !== undefined && (kind === 'session' ? entry.sid : entry.pgid) === entry.pid;
    const live = this.live.get(leaderPid);
    if (leads(live)) return live;
    const exited = this.exitedByPid.get(leaderPid);
    return leads(exited) ? exited : undefined;
  }

  /**
   * Reads /proc and reconciles: new processes are added (with their parents), processes that
   * are gone are marked exited, a pid running a different process is replaced, an image that
   * changed is recorded as a missed exec. Used for the start-up seed and after every loss.
   * Returns the live entries it added or found running a new image: after a loss, the launches
   * the stream did not describe.
   */
  scan(): ProcessEntry[] {
    this.counters.scans++;
    const seen = new Set<number>();
    const added: ProcessEntry[] = [];
    const changed: ProcessEntry[] = [];
    for (const pid of this.procfs.listPids()) {
      const snapshot = this.procfs.snapshot(pid);
      if (snapshot === null || snapshot.startTicks < 0) continue;
      seen.add(pid);
      const known = this.live.get(pid);
      if (known && this.isSameProcess(known, snapshot.startTicks)) {
        if (this.refreshFromScan(known, snapshot)) changed.push(known);
        continue;
      }
      if (known) {
        this.counters.pidReuses++;
        this.retire(known, null);
      }
      const entry = this.createFromSnapshot(pid, snapshot, 'scan');
      added.push(entry);
      // Within the bounds as it goes: a scan may meet thousands of processes with long argv.
      this.enforceBounds(true);
    }
    // Parents after the loop: a parent may have a higher pid than its child (pid wrap). Entry
    // leaders in start order, so every parent and leader is decided before its descendants.
    for (const entry of added) entry.parent = this.live.get(entry.ppid) ?? null;
    added.sort((a, b) => a.startTicks - b.startTicks || a.pid - b.pid);
    for (const entry of added) this.decideEntry(entry);
    for (const entry of [...this.live.values()]) {
      if (!seen.has(entry.pid)) this.retire(entry, null);
    }
    this.enforceBounds(true);
    return [...added, ...changed].filter((entry) => this.live.get(entry.pid) === entry);
  }

  /** fork: a new process running its parent's image. Null for a new thread (counted on its process). */
  applyFork(raw: RawEvent): ProcessEntry | null {
    if (raw.pid !== raw.tgid) {
      const owner = this.live.get(raw.tgid);
      if (owner) owner.threads++;
      return null;
    }
    this.expire();
    const pid = raw.tgid;
    const parentPid = raw.parentTgid ?? raw.parentPid ?? 0;
    const parent = this.live.get(parentPid) ?? null;
    // The live reader reads the start time itself (-1: the process was gone); only events that
    // come without it (older recordings) ask /proc from here.
    const exactTicks = raw.startTicks === undefined ? this.procfs.startTicks(pid) : raw.startTicks >= 0 ? raw.startTicks : null;
    const startTicks = exactTicks ?? this.ticksFromTimestamp(raw.timestampNs);
    const stale = this.live.get(pid);
    // The fork of a process already seen exec'ing (the same start time): the reader delivers a
    // fork after its exec only when a flood of other events kept it from reading them in order.
    // The fork is described as it was, and the table keeps the process's exec'd image.
    const lateFork = stale !== undefined && stale.origin === 'exec' && !stale.startEstimated && exactTicks !== null && stale.startTicks === exactTicks;
    if (stale && !lateFork) {
      this.counters.pidReuses++;
      this.retire(stale, null);
    }
    const entry: ProcessEntry = {
      pid,
      startTicks,
      startEstimated: exactTicks === null,
      startMs: this.startMsFromTicks(startTicks),
      entityId: entityIdFor(this.hostId, pid, startTicks),
      image: parent?.image ?? imageFromComm(null),
      previous: [],
      ppid: parentPid,
      parent,
      // Inherited at fork.
      pgid: parent?.pgid ?? -1,
      sid: parent?.sid ?? -1,
      ttyNr: parent?.ttyNr ?? 0,
      ruid: parent?.ruid ?? -1,
      euid: parent?.euid ?? -1,
      suid: parent?.suid ?? -1,
      rgid: parent?.rgid ?? -1,
      egid: parent?.egid ?? -1,
      sgid: parent?.sgid ?? -1,
      capPermitted: parent?.capPermitted ?? -1,
      capEffective: parent?.capEffective ?? -1,
      capBounding: parent?.capBounding ?? -1,
      containerId: parent?.containerId ?? null,
      // A fork stays in its parent's session until it execs (Beats copies the link the same way).
      entryLeader: parent?.entryLeader ?? null,
      entryType: parent?.entryType ?? null,
      origin: 'fork',
      threads: 0,
      leaderExit: null,
      exitedAtMs: null,
      exitCode: null,
      counted: undefined,
    };
    if (lateFork) {
      this.counters.lateForks++;
      return entry;
    }
    this.live.set(pid, entry);
    this.account(entry);
    if (entry.entryLeader === null) this.decideEntry(entry);
    this.enforceBounds();
    return entry;
  }

  /** exec: the process now runs a new image, described by the event's snapshot. */
  applyExec(raw: RawEvent): ExecResult {
    this.expire();
    const pid = raw.tgid;
    const snapshot = usableSnapshot(raw);
    if (snapshot === null) this.counters.execsWithoutSnapshot++;
    const exactTicks = snapshot !== null && snapshot.startTicks >= 0 ? snapshot.startTicks : null;
    let entry = this.live.get(pid);
    if (entry && exactTicks !== null && !this.isSameProcess(entry, exactTicks)) {
      // Same pid, different process: its exit and fork were lost.
      this.counters.pidReuses++;
      this.retire(entry, null);
      entry = undefined;
    }
    if (!entry) {
      this.counters.unknownExecs++;
      entry = snapshot !== null && exactTicks !== null
        ? this.createFromSnapshot(pid, snapshot, 'exec')
        : this.createUnknown(pid, raw.timestampNs);
      entry.parent = this.live.get(entry.ppid) ?? null;
      this.decideEntry(entry);
      this.enforceBounds();
      return { entry, described: snapshot !== null };
    }
    this.pushPrevious(entry, entry.image);
    entry.image = snapshot !== null ? imageFromSnapshot(snapshot) : imageFromComm(null);
    this.account(entry);
    // An exec leaves the process one thread, the one that exec'd, now its main thread.
    entry.threads = 0;
    entry.leaderExit = null;
    if (snapshot !== null) this.applySnapshotFacts(entry, snapshot);
    if (entry.startEstimated && exactTicks !== null) {
      // The entity id already went out with earlier events of this run; only the start is fixed.
      if (exactTicks !== entry.startTicks) this.counters.startEstimateMisses++;
      entry.startTicks = exactTicks;
      entry.startMs = this.startMsFromTicks(exactTicks);
      entry.startEstimated = false;
    }
    this.decideEntry(entry);
    return { entry, described: snapshot !== null };
  }

  /**
   * exit of a thread or a main thread: the process ends with its last thread (see the module
   * header); an ended entry stays resolvable for the TTL.
   */
  applyExit(raw: RawEvent): ExitResult {
    const exitCode = raw.exitCode === undefined ? null : decodeExitStatus(raw.exitCode);
    const entry = this.live.get(raw.tgid) ?? null;
    if (raw.pid !== raw.tgid) {
      if (!entry) return { entry: null, ended: false, exitCode };
      entry.threads = Math.max(0, entry.threads - 1);
      if (entry.leaderExit === null || entry.threads > 0) return { entry, ended: false, exitCode };
      this.expire();
      const code = entry.leaderExit.exitCode;
      this.retire(entry, code);
      this.enforceBounds();
      return { entry, ended: true, exitCode: code };
    }
    this.expire();
    if (!entry) {
      this.counters.unknownExits++;
      return { entry: null, ended: true, exitCode };
    }
    if (entry.threads > 0) {
      entry.leaderExit = { exitCode };
      return { entry, ended: false, exitCode };
    }
    this.retire(entry, exitCode);
    this.enforceBounds();
    return { entry, ended: true, exitCode };
  }

  /** comm, sid, uid and gid events: keep the entry's facts current. */
  applyChange(raw: RawEvent): void {
    const entry = this.live.get(raw.tgid);
    if (!entry) return;
    switch (raw.kind) {
      case 'comm':
        // Only a process whose executable is unknown is named by its comm.
        if (raw.comm !== undefined && entry.image.executable === null) {
          entry.image = { ...entry.image, name: raw.comm };
          this.account(entry);
          this.enforceBounds(true);
        }
        break;
      case 'sid':
        entry.sid = entry.pid;
        entry.pgid = entry.pid;
        break;
      case 'uid':
        if (raw.ruid !== undefined) entry.ruid = raw.ruid;
        if (raw.euid !== undefined) entry.euid = raw.euid;
        break;
      case 'gid':
        if (raw.rgid !== undefined) entry.rgid = raw.rgid;
        if (raw.egid !== undefined) entry.egid = raw.egid;
        break;
      default:
        break;
    }
  }

  stats(): ProcessTableStats {
    return {
      size: this.live.size + this.exited.length,
      live: this.live.size,
      exited: this.exited.length,
      keptBytes: this.keptBytes,
      ...this.counters,
    };
  }

  /** Removes exited entries older than the TTL. Called on every event; O(expired). */
  expire(): void {
    const deadline = this.clock.nowMs() - this.exitedTtlMs;
    for (let entry = this.exited.peek(); entry !== undefined && (entry.exitedAtMs ?? 0) <= deadline; entry = this.exited.peek()) {
      this.drop(this.exited.shift()!);
      this.counters.expired++;
    }
  }

  /**
   * The entry cap always; the byte budget when `bytes` (after an image was judged: settle(), a
   * scan, a rename), so that an image is never cut down before its own document is built.
   */
  private enforceBounds(bytes = false): void {
    for (;;) {
      const overCount = this.live.size + this.exited.length > this.maxEntries;
      if (!overCount && (!bytes || this.keptBytes <= this.maxKeptBytes)) return;
      // For bytes, the most recent exited stay: when live processes alone fill the budget,
      // dropping them all would not meet it, and late events of recent exits still resolve.
      const oldestExited = overCount || this.exited.length > MIN_EXITED_KEPT ? this.exited.shift() : undefined;
      if (oldestExited !== undefined) {
        this.drop(oldestExited);
        this.counters.evictions++;
        continue;
      }
      if (!overCount) {
        // Over the byte budget: cut down the recent exited ones, then the heavy live ones; a live
        // process is never dropped for its size.
        if (this.leanExited() || this.leanHeavy()) continue;
        return;
      }
      const first = this.live.entries().next();
      if (first.done === true) return;
      const oldestLive = first.value;
      this.live.delete(oldestLive[0]);
      this.heavy.delete(oldestLive[1]);
      this.letGo(oldestLive[1]);
      oldestLive[1].parent = null;
      this.counters.evictionsLive++;
    }
  }

  /** Brings keptBytes up to date with the images the entry holds now; a heavy live one is queued for leanHeavy. */
  private account(entry: ProcessEntry, queueIfHeavy = true): void {
    const before = entry.counted;
    // Unchanged (a short image settled as it was): nothing to count again.
    if (before !== undefined && sameImages(before, entry.image, entry.previous)) return;
    const images = entry.previous.length === 0 ? [entry.image] : [entry.image, ...entry.previous];
    for (const image of images) this.holdImage(image);
    if (before !== undefined) for (const image of before) this.releaseImage(image);
    entry.counted = images;
    if (!queueIfHeavy || entry.exitedAtMs !== null || this.heavy.has(entry) || this.entryImageBytes(entry) <= HEAVY_BYTES) return;
    this.heavy.set(entry, true);
  }

  /**
   * An entry leaves the table, uncounted from then on; its children may still point at it (their
   * parent), so what stays reachable through it is its lean image only.
   */
  private letGo(entry: ProcessEntry): void {
    this.unaccount(entry);
    if (imageBytes(entry.image) > HEAVY_BYTES) entry.image = this.leanCopy(entry.image);
  }

  private unaccount(entry: ProcessEntry): void {
    const images = entry.counted;
    if (images === undefined) return;
    for (const image of images) this.releaseImage(image);
    entry.counted = undefined;
  }

  private holdImage(image: ProcessImage): void {
    const refs = this.imageRefs.get(image) ?? 0;
    if (refs === 0) this.keptBytes += imageBytes(image);
    this.imageRefs.set(image, refs + 1);
  }

  private releaseImage(image: ProcessImage): void {
    const refs = this.imageRefs.get(image) ?? 0;
    if (refs > 1) {
      this.imageRefs.set(image, refs - 1);
    } else if (refs === 1) {
      this.imageRefs.delete(image);
      this.keptBytes -= imageBytes(image);
    }
  }

  private entryImageBytes(entry: ProcessEntry): number {
    let bytes = imageBytes(entry.image);
    for (const image of entry.previous) bytes += imageBytes(image);
    return bytes;
  }

  private isHeavyLive(entry: ProcessEntry): boolean {
    return this.live.get(entry.pid) === entry && this.entryImageBytes(entry) > HEAVY_BYTES;
  }

  private leanCopy(image: ProcessImage): ProcessImage {
    let lean = this.leanCopies.get(image);
    if (lean === undefined) {
      lean = leanImage(image, LEAN_CHARS);
      this.leanCopies.set(image, lean);
      this.leanCopies.set(lean, lean);
    }
    return lean;
  }

  /** Cuts the oldest heavy exited entry down to leanImage(); false when none is left. */
  private leanExited(): boolean {
    const oldest = this.heavyExited.oldest();
    if (oldest === undefined) return false;
    this.heavyExited.delete(oldest[0]);
    this.cutDown(oldest[0]);
    return true;
  }

  private cutDown(entry: ProcessEntry): void {
    entry.image = this.leanCopy(entry.image);
    entry.previous = entry.previous.map((image) => this.leanCopy(image));
    this.account(entry, false);
    this.counters.leaned++;
  }

  /** Cuts the longest-queued heavy live entry down to leanImage(); false when none is left. */
  private leanHeavy(): boolean {
    for (let oldest = this.heavy.oldest(); oldest !== undefined; oldest = this.heavy.oldest()) {
      const entry = oldest[0];
      this.heavy.delete(entry);
      if (!this.isHeavyLive(entry)) continue;
      this.cutDown(entry);
      return true;
    }
    return false;
  }

  private retire(entry: ProcessEntry, exitCode: number | null): void {
    if (this.live.get(entry.pid) === entry) this.live.delete(entry.pid);
    if (this.heavy.delete(entry)) this.heavyExited.set(entry, true);
    // Queued once: a second retirement only updates the facts.
    if (entry.exitedAtMs === null) this.exited.push(entry);
    entry.exitedAtMs = this.clock.nowMs();
    entry.exitCode = exitCode;
    this.exitedByPid.set(entry.pid, entry);
  }

  private drop(entry: ProcessEntry): void {
    this.heavyExited.delete(entry);
    this.letGo(entry);
    if (this.exitedByPid.get(entry.pid) === entry) this.exitedByPid.delete(entry.pid);
    // Children may still point here; cut the chain so ancestors do not stay alive with it.
    entry.parent = null;
    entry.previous = [];
    if (entry.entryLeader !== entry) entry.entryLeader = null;
  }

  /** Decides the entry's session entry leader from its relatives (entry-leader.ts). */
  private decideEntry(entry: ProcessEntry): void {
    const decision = decideEntryLeader(entry, {
      sessionLeader: entry.sid > 0 && entry.sid !== entry.pid ? this.leader(entry.sid, 'session') : undefined,
      groupLeader: entry.pgid > 0 && entry.pgid !== entry.pid ? this.leader(entry.pgid, 'group') : undefined,
    });
    entry.entryLeader = decision.leader;
    entry.entryType = decision.type;
  }

  private isSameProcess(entry: ProcessEntry, startTicks: number): boolean {
    // An estimated start time cannot prove a pid was reused; trust the stream then.
    return entry.startEstimated || entry.startTicks === startTicks;
  }

  /**
   * Once an entry's current image has been judged (its exec document built), keeps it in the
   * compact form (compactImage): the table's memory per process is then bounded by a few
   * kilobytes of argv, whatever the processes on the host pass (a sleeping process with 128 KiB of
   * argv costs no more than one with 8 KiB).
   */
  settle(entry: ProcessEntry): void {
    entry.image = compactImage(entry.image, this.keptArgsChars);
    if (entry.counted !== undefined) {
      this.account(entry);
      this.enforceBounds(true);
    }
  }

  private pushPrevious(entry: ProcessEntry, image: ProcessImage): void {
    entry.previous.push(compactImage(image, this.keptPreviousArgsChars));
    if (entry.previous.length > this.maxPreviousImages) entry.previous.shift();
  }

  /** A scanned image is kept compact at once (see the module header): its recovered document sees that form. */
  private createFromSnapshot(pid: number, snapshot: ProcSnapshot, origin: ProcessEntry['origin']): ProcessEntry {
    const image = imageFromSnapshot(snapshot);
    const entry = this.addEntry(pid, snapshot.startTicks, false, origin === 'scan' ? compactImage(image, this.keptArgsChars) : image, snapshot.ppid, origin);
    this.applySnapshotFacts(entry, snapshot);
    return entry;
  }

  private createUnknown(pid: number, timestampNs: bigint): ProcessEntry {
    const startTicks = this.procfs.startTicks(pid) ?? this.ticksFromTimestamp(timestampNs);
    return this.addEntry(pid, startTicks, true, imageFromComm(null), 0, 'exec');
  }

  /** A new live entry; ids, session, group and tty unknown (-1) until a snapshot says. */
  private addEntry(
    pid: number,
    startTicks: number,
    startEstimated: boolean,
    image: ProcessImage,
    ppid: number,
    origin: ProcessEntry['origin'],
  ): ProcessEntry {
    const entry: ProcessEntry = {
      pid,
      startTicks,
      startEstimated,
      startMs: this.startMsFromTicks(startTicks),
      entityId: entityIdFor(this.hostId, pid, startTicks),
      image,
      previous: [],
      ppid,
      parent: null,
      pgid: -1,
      sid: -1,
      ttyNr: 0,
      ruid: -1,
      euid: -1,
      suid: -1,
      rgid: -1,
      egid: -1,
      sgid: -1,
      capPermitted: -1,
      capEffective: -1,
      capBounding: -1,
      containerId: null,
      entryLeader: null,
      entryType: null,
      origin,
      threads: 0,
      leaderExit: null,
      exitedAtMs: null,
      exitCode: null,
      counted: undefined,
    };
    this.live.set(pid, entry);
    this.account(entry);
    return entry;
  }

  /** Ids, session, group and tty from a snapshot; -1 (unreadable) leaves what is known. */
  private applySnapshotFacts(entry: ProcessEntry, snapshot: ProcSnapshot): void {
    if (snapshot.pgid >= 0) entry.pgid = snapshot.pgid;
    if (snapshot.sid >= 0) entry.sid = snapshot.sid;
    if (snapshot.ppid >= 0 && !snapshot.failed.includes('stat')) entry.ttyNr = snapshot.ttyNr;
    if (snapshot.ruid >= 0) entry.ruid = snapshot.ruid;
    if (snapshot.euid >= 0) entry.euid = snapshot.euid;
    if (snapshot.rgid >= 0) entry.rgid = snapshot.rgid;
    if (snapshot.egid >= 0) entry.egid = snapshot.egid;
    if (snapshot.suid !== undefined && snapshot.suid >= 0) entry.suid = snapshot.suid;
    if (snapshot.sgid !== undefined && snapshot.sgid >= 0) entry.sgid = snapshot.sgid;
    if (snapshot.capPermitted !== undefined && snapshot.capPermitted >= 0) entry.capPermitted = snapshot.capPermitted;
    if (snapshot.capEffective !== undefined && snapshot.capEffective >= 0) entry.capEffective = snapshot.capEffective;
    if (snapshot.capBounding !== undefined && snapshot.capBounding >= 0) entry.capBounding = snapshot.capBounding;
    if (snapshot.threads !== undefined && snapshot.threads > 0) entry.threads = snapshot.threads - 1;
    if (!snapshot.failed.includes('cgroup')) entry.containerId = this.containerIds.idFor(snapshot.cgroup);
    // A process seen first in a scan or an exec gets its parent from stat; a forked one keeps
    // the parent that forked it, even after being reparented to init or a subreaper.
    if (entry.origin !== 'fork' && snapshot.ppid > 0 && snapshot.ppid !== entry.ppid) {
      entry.ppid = snapshot.ppid;
      entry.parent = this.live.get(snapshot.ppid) ?? null;
    }
  }

  /** Brings a known entry up to date; true when its image changed (an exec the stream missed). */
  private refreshFromScan(entry: ProcessEntry, snapshot: ProcSnapshot): boolean {
    const image = compactImage(imageFromSnapshot(snapshot), this.keptArgsChars);
    let changed = false;
    // The table keeps judged images compact (settle()), or lean past its budget: compare like with like.
    const kept = this.leanCopies.get(entry.image) === entry.image ? leanImage(image, LEAN_CHARS) : image;
    if (snapshot.cmdline !== null && !sameImage(entry.image, kept)) {
      this.counters.missedExecs++;
      this.pushPrevious(entry, entry.image);
      entry.image = image;
      this.account(entry);
      changed = true;
    }
    this.applySnapshotFacts(entry, snapshot);
    if (changed) this.decideEntry(entry);
    return changed;
  }

  private ticksFromTimestamp(timestampNs: bigint): number {
    return Number((timestampNs * BigInt(this.procfs.clockTicksPerSecond)) / 1_000_000_000n);
  }

  private startMsFromTicks(ticks: number): number {
    return this.procfs.bootTimeMs() + Math.round((ticks * 1000) / this.procfs.clockTicksPerSecond);
  }
}
