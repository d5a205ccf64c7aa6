/**
 * What crosses the native boundary: one proc-connector event, decoded but not interpreted, plus
 * the /proc/<pid> snapshot the reader thread took the moment an exec arrived. Plain data only;
 * the same shape is produced by the recorded source (NDJSON, with Buffers as base64) and by the
 * /proc scanner (src/process/procfs.ts) when the process table is seeded or resynchronised.
 */

export const RAW_EVENT_KINDS = ['fork', 'exec', 'exit', 'comm', 'sid', 'uid', 'gid', 'ptrace', 'coredump'] as const;

export type RawEventKind = (typeof RAW_EVENT_KINDS)[number];

/** Names of the /proc reads a snapshot tries; a failed one is listed in `ProcSnapshot.failed`. */
export type SnapshotRead = 'cmdline' | 'comm' | 'stat' | 'status' | 'exe' | 'cwd' | 'cgroup' | 'environ';

/** Every SnapshotRead, in the order of the native reader's bits. */
export const SNAPSHOT_READS: readonly SnapshotRead[] = ['cmdline', 'comm', 'stat', 'status', 'exe', 'cwd', 'cgroup', 'environ'];

/** What a standard stream (fd 0, 1 or 2) of a process is; see native/stdio_probe.h. */
export const STREAM_TYPES = ['socket', 'pipe', 'fifo', 'tty', 'file', 'null', 'device', 'anon', 'closed', 'other', 'unknown'] as const;
export type StreamType = (typeof STREAM_TYPES)[number];

export const SOCKET_FAMILIES = ['ipv4', 'ipv6', 'unix', 'unknown'] as const;
export type SocketFamily = (typeof SOCKET_FAMILIES)[number];

export interface SocketEndpoint {
  /** inet: the address and port. */
  ip?: string;
  port?: number;
  /** unix: the bound path ("@name" for an abstract name). */
  path?: string;
}

export interface StreamSocket {
  /** "unknown": the socket was in neither lookup (netlink, packet, another namespace's unix socket). */
  family: SocketFamily;
  /** "stream", "dgram", "seqpacket", "raw", "other"; absent when unknown. */
  type?: string;
  /** "tcp" or "udp" for inet sockets. */
  protocol?: string;
  local?: SocketEndpoint;
  /** Absent when the socket is not connected (or its peer has no name). */
  remote?: SocketEndpoint;
}

export interface StdioStream {
  type: StreamType;
  /** The /proc/<pid>/fd/N link text: a path, "pipe:[n]", "socket:[n]", "anon_inode:[...]". */
  path?: string;
  /** Of a socket or a pipe: its inode (the number in the link). */
  inode?: number;
  socket?: StreamSocket;
}

export interface ProcSnapshot {
  /** Raw /proc/<pid>/cmdline bytes: arguments separated by NUL, as the kernel gives them. */
  cmdline: Buffer | null;
  /** True when cmdline was longer than the configured cap and was cut there. */
  cmdlineTruncated: boolean;
  /**
   * When cmdline was cut: the offset in `cmdline` where the kept end of the whole cmdline begins
   * (head bytes before it, the last bytes of the cmdline from it on, the middle not kept). Absent
   * or -1: no tail was kept (cmdline is a plain head).
   */
  cmdlineTailOffset?: number;
  /**
   * When cmdline was cut: the number of arguments in the whole of it (the rest was counted, not
   * kept); `argsTotalExact` false when counting stopped at its own cap (then a lower bound).
   * Absent or -1 when cmdline was not cut.
   */
  argsTotal?: number;
  argsTotalExact?: boolean;
  /** /proc/<pid>/comm without the trailing newline (at most 15 bytes, kernel-side). */
  comm: string | null;
  /** readlink /proc/<pid>/exe (" (deleted)" suffix kept as the kernel reports it). */
  exe: string | null;
  /** readlink /proc/<pid>/cwd. */
  cwd: string | null;
  /** From /proc/<pid>/stat. -1 where stat could not be read. */
  ppid: number;
  pgid: number;
  sid: number;
  /** tty_nr from stat (0 = no controlling terminal); major = (tty >> 8) & 0xfff. */
  ttyNr: number;
  /** Process start time in clock ticks since boot (stat field 22). */
  startTicks: number;
  /** From /proc/<pid>/status Uid:/Gid: lines (real, effective, saved). -1 where unreadable. */
  ruid: number;
  euid: number;
  rgid: number;
  egid: number;
  /** Saved ids; absent (older recordings) or -1 means unknown. */
  suid?: number;
  sgid?: number;
  /** CapPrm, CapEff and CapBnd of /proc/<pid>/status as bit masks; absent or -1: unknown. */
  capPermitted?: number;
  capEffective?: number;
  capBounding?: number;
  /**
   * The whole /proc/<pid>/cgroup text, one "id:controllers:path" line per hierarchy (older
   * recordings hold the path of one line only; both parse).
   */
  cgroup: string | null;
  /**
   * Allow-listed environment variables as "NAME=value", in environ order; null when environ was
   * not read (no allow-list, or the read failed). Never the whole environment.
   */
  env?: string[] | null;
  /** The environ scan stopped at its byte cap, or a kept value or the entry count was cut. */
  envTruncated?: boolean;
  /** The process renamed itself before comm was read: comm is not its exec-time name. */
  commRenamed?: boolean;
  /**
   * Live capture only: the process read under this pid started after the exec event, so the one
   * that exec'd is gone and its pid was reused: the snapshot describes another process.
   */
  startedAfterEvent?: boolean;
  /**
   * fds 0, 1 and 2 at exec (the links read in the urgent half, sockets resolved after), and the
   * parent's at the same moment. Null or absent: not read (process gone, older recordings).
   */
  stdio?: StdioStream[] | null;
  parentStdio?: StdioStream[] | null;
  /** `Threads:` of status (the /proc scanner reads it; an exec leaves one). */
  threads?: number;
  /** Reads that failed (process gone, permission, ...). Never fatal. */
  failed: SnapshotRead[];
  /**
   * Live capture only: the process had already exec'd again when this snapshot was read, so it
   * describes the later image (a wrapper such as setsid lost the race). Absent means not stale.
   */
  stale?: boolean;
}

export interface RawEvent {
  kind: RawEventKind;
  /** CPU that generated the event and its per-CPU sequence number (from the connector header). */
  cpu: number;
  seq: number;
  /** Kernel timestamp: CLOCK_MONOTONIC nanoseconds (ktime_get_ns) at the event. */
  timestampNs: bigint;
  /** The subject process: the child for fork; the process itself otherwise. */
  pid: number;
  tgid: number;
  /** fork: the parent. exit/coredump: the parent where the kernel reports it (0 otherwise). */
  parentPid?: number;
  parentTgid?: number;
  /** exit: exit status as the kernel reports it (wait status) and the exit signal. */
  exitCode?: number;
  exitSignal?: number;
  /** uid/gid events: real and effective ids after the change. */
  ruid?: number;
  euid?: number;
  rgid?: number;
  egid?: number;
  /** comm event: the new comm. */
  comm?: string;
  /** ptrace event: the tracer (0 on detach). */
  tracerPid?: number;
  tracerTgid?: number;
  /** exec: the snapshot of /proc/<pid> taken on the reader thread. */
  snapshot?: ProcSnapshot;
  /**
   * fork of a process: its start time (clock ticks since boot, stat field 22) as the reader read
   * it, -1 when the process was already gone; absent when not read (older recordings).
   */
  startTicks?: number;
}

/** Counters kept by the native reader; every loss is visible here. */
export interface CaptureStats {
  eventsByKind: Record<RawEventKind, number>;
  /** recvmsg returned ENOBUFS: the kernel dropped an unknown number of events. */
  overflows: number;
  /** Per-CPU sequence gaps: events the kernel numbered but we never received. */
  sequenceGaps: number;
  /** Messages refused: not from the kernel (nl_pid != 0) or with bad lengths. */
  messagesRejected: number;
  /** Batches (and the events in them) dropped because JS did not keep up. */
  batchesDropped: number;
  eventsDropped: number;
  /** Of the dropped batches, those refused because the bytes waiting for JS were at their bound. */
  batchesOverBytes?: number;
  /** Exec cmdlines kept to their head and end because JS was far behind (see maxQueuedBytes). */
  cmdlinesKeptShort?: number;
  /** Bytes of batches handed to JS and not yet taken. */
  queuedBytes?: number;
  /** Exec snapshots with at least one failed read, and those where the process was already gone. */
  snapshotsPartial: number;
  snapshotsGone: number;
  /** Exec snapshots read only after the process had exec'd again: the earlier image is lost. */
  snapshotsStale: number;
  /** Exec snapshots whose comm was read after the process renamed itself. */
  commsRenamed: number;
  /** Exec snapshots of another process that had taken the pid (the exec'ing one was gone). */
  snapshotsReused?: number;
  /**
   * Sockets on standard streams: lookups answered from the cache, listings of /proc/<pid>/net
   * scanned, and sockets left unresolved because the scan time budget was spent.
   */
  socketCacheHits?: number;
  socketListingScans?: number;
  socketLookupsOverBudget?: number;
  /** Fork start times taken from the same process's exec snapshot (no stat read of their own). */
  forkStartsFromExec?: number;
  /**
   * Execs taken while the socket of the other events could not be emptied first (a flood of
   * them): their forks may come after them (the process table keeps the exec'd image).
   */
  execsAheadOfRest?: number;
  /** Exec snapshots given the parent's stdio as read for a sibling under 2 ms earlier. */
  parentStdioReused?: number;
  /** Receive buffer the kernel actually granted (bytes) and whether SCHED_FIFO was granted. */
  receiveBufferBytes: number;
  realtime: boolean;
}

export interface CaptureOptions {
  /** Socket receive buffer to request (SO_RCVBUFFORCE, falling back to SO_RCVBUF). */
  receiveBufferBytes?: number;
  /** Raise the reader thread to SCHED_FIFO when permitted. Default true. */
  realtime?: boolean;
  /**
   * Receive execs on a socket of their own, split from the other kinds of event by a socket
   * filter in the kernel, so that only an exec wakes the reader at once. Default true; one
   * socket where the kernel refuses the filter.
   */
  splitExec?: boolean;
  /** Capabilities (by number) the reader thread drops as it starts (it needs them only before). */
  dropCapabilities?: number[];
  /** Flush a batch to JS at this many events or this age, whichever comes first. */
  batchSize?: number;
  batchMaxAgeMs?: number;
  /** Flush a batch once its snapshots hold this many bytes of text (argv, environ). Default 4 MiB. */
  batchMaxBytes?: number;
  /** Batches allowed to wait for JS before new ones are dropped (and counted). */
  maxQueuedBatches?: number;
  /**
   * Bytes of batches (their snapshots' texts and the events' own size) allowed to wait for JS
   * before new ones are dropped (and counted). Default 64 MiB.
   */
  maxQueuedBytes?: number;
  /**
   * Past this many bytes waiting for JS, exec cmdlines keep twice `cmdlineTailBytes` (head and
   * end) instead of `cmdlineMaxBytes`. Default 8 MiB.
   */
  shortCmdlinesAboveBytes?: number;
  /** Cap on cmdline bytes kept per exec. Default 128 KiB. */
  cmdlineMaxBytes?: number;
  /** Of a cut cmdline, the bytes of its end kept within the cap. Default 16 KiB. */
  cmdlineTailBytes?: number;
  /** Environment variable names read from environ at exec (an allow-list; never everything). */
  envVars?: string[];
  /** Bytes of environ scanned at most (default 1 MiB), bytes kept per variable (1024), variables kept (16). */
  envScanMaxBytes?: number;
  envValueMaxBytes?: number;
  envMaxEntries?: number;
}

/** Counters of a source that has not delivered anything yet. */
export function emptyCaptureStats(): CaptureStats {
  return {
    eventsByKind: Object.fromEntries(RAW_EVENT_KINDS.map((kind) => [kind, 0])) as Record<RawEventKind, number>,
    overflows: 0,
    sequenceGaps: 0,
    messagesRejected: 0,
    batchesDropped: 0,
    eventsDropped: 0,
    snapshotsPartial: 0,
    snapshotsGone: 0,
    snapshotsStale: 0,
    commsRenamed: 0,
    receiveBufferBytes: 0,
    realtime: false,
  };
}
