/**
 * Decodes what the native addon hands over for a batch (native/addon.cc, `packer`): the numbers
 * of every event, and of every exec's snapshot, at fixed offsets in one ArrayBuffer each, and
 * their strings, Buffers and arrays in one array, in event order. V8 builds these objects far
 * faster here than Node-API does property by property. The offsets below are the ones addon.cc
 * writes; the decoder tests (crafted datagrams, fixture snapshots) run through both.
 */
import { RAW_EVENT_KINDS, type ProcSnapshot, type RawEvent, type SnapshotRead, type StdioStream } from './raw-event.js';

/** An event: 16 int32 words (64 bytes); a float64 at byte 48 and a uint64 at byte 56. */
const EVENT_WORDS = 16;
const WORD = { kind: 0, cpu: 1, seq: 2, pid: 3, tgid: 4, parentPid: 5, parentTgid: 6, flags: 7, first: 8, second: 9 } as const;
const START_TICKS_SLOT = 6; // in float64 slots of an event
const TIMESTAMP_SLOT = 7; // in uint64 slots of an event
const EVENT_HAS_PARENT = 1;
const EVENT_HAS_START_TICKS = 2;
const EVENT_HAS_SNAPSHOT = 4;

/** A snapshot: 20 float64 numbers, and 9 values. */
const SNAPSHOT_NUMBERS = 20;
const NUMBER = {
  ppid: 0, pgid: 1, sid: 2, ttyNr: 3, startTicks: 4, ruid: 5, euid: 6, rgid: 7, egid: 8, suid: 9, sgid: 10,
  capPermitted: 11, capEffective: 12, capBounding: 13, argsTotal: 14, cmdlineTailOffset: 15, flags: 16,
} as const;
const SNAPSHOT_CMDLINE_TRUNCATED = 1;
const SNAPSHOT_STALE = 2;
const SNAPSHOT_ENV_TRUNCATED = 4;
const SNAPSHOT_COMM_RENAMED = 8;
const SNAPSHOT_ARGS_TOTAL_EXACT = 16;
const SNAPSHOT_STARTED_AFTER_EVENT = 32;

/** Reads values in order, as the addon appended them. */
class Values {
  next = 0;
  constructor(private readonly values: readonly unknown[]) {}
  take<T>(): T {
    if (this.next >= this.values.length) throw new RangeError('packed batch: fewer values than its events need');
    return this.values[this.next++] as T;
  }
  /** Every value was taken: the two sides agree on the layout. */
  done(): void {
    if (this.next !== this.values.length) throw new RangeError('packed batch: more values than its events need');
  }
}

function snapshotAt(numbers: Float64Array, index: number, values: Values): ProcSnapshot {
  const at = index * SNAPSHOT_NUMBERS;
  const flags = numbers[at + NUMBER.flags]!;
  const cmdline = values.take<Buffer | null>();
  const comm = values.take<string | null>();
  const exe = values.take<string | null>();
  const cwd = values.take<string | null>();
  const cgroup = values.take<string | null>();
  const failed = values.take<SnapshotRead[]>();
  const env = values.take<string[] | null>();
  const stdio = values.take<StdioStream[] | null>();
  const parentStdio = values.take<StdioStream[] | null>();
  return {
    cmdline,
    cmdlineTruncated: (flags & SNAPSHOT_CMDLINE_TRUNCATED) !== 0,
    comm,
    exe,
    cwd,
    ppid: numbers[at + NUMBER.ppid]!,
    pgid: numbers[at + NUMBER.pgid]!,
    sid: numbers[at + NUMBER.sid]!,
    ttyNr: numbers[at + NUMBER.ttyNr]!,
    startTicks: numbers[at + NUMBER.startTicks]!,
    ruid: numbers[at + NUMBER.ruid]!,
    euid: numbers[at + NUMBER.euid]!,
    rgid: numbers[at + NUMBER.rgid]!,
    egid: numbers[at + NUMBER.egid]!,
    cgroup,
    failed,
    stale: (flags & SNAPSHOT_STALE) !== 0,
    suid: numbers[at + NUMBER.suid]!,
    sgid: numbers[at + NUMBER.sgid]!,
    capPermitted: numbers[at + NUMBER.capPermitted]!,
    capEffective: numbers[at + NUMBER.capEffective]!,
    capBounding: numbers[at + NUMBER.capBounding]!,
    envTruncated: (flags & SNAPSHOT_ENV_TRUNCATED) !== 0,
    commRenamed: (flags & SNAPSHOT_COMM_RENAMED) !== 0,
    argsTotal: numbers[at + NUMBER.argsTotal]!,
    argsTotalExact: (flags & SNAPSHOT_ARGS_TOTAL_EXACT) !== 0,
    cmdlineTailOffset: numbers[at + NUMBER.cmdlineTailOffset]!,
    startedAfterEvent: (flags & SNAPSHOT_STARTED_AFTER_EVENT) !== 0,
    env,
    stdio,
    parentStdio,
  };
}

/** The events of a packed batch (or of a crafted datagram), in order. */
export function decodeEvents(events: ArrayBuffer, snapshots: ArrayBuffer, values: readonly unknown[]): RawEvent[] {
  const count = events.byteLength / (EVENT_WORDS * 4);
  const words = new Int32Array(events);
  const unsigned = new Uint32Array(events);
  const doubles = new Float64Array(events);
  const timestamps = new BigUint64Array(events);
  const numbers = new Float64Array(snapshots);
  const taken = new Values(values);
  const out: RawEvent[] = new Array(count);
  let snapshotIndex = 0;
  for (let i = 0; i < count; i++) {
    const at = i * EVENT_WORDS;
    const kind = RAW_EVENT_KINDS[words[at + WORD.kind]!];
    if (kind === undefined) throw new RangeError(`packed batch: unknown event kind ${words[at + WORD.kind]}`);
    const flags = words[at + WORD.flags]!;
    const event: RawEvent = {
      kind,
      cpu: unsigned[at + WORD.cpu]!,
      seq: unsigned[at + WORD.seq]!,
      timestampNs: timestamps[i * 8 + TIMESTAMP_SLOT]!,
      pid: words[at + WORD.pid]!,
      tgid: words[at + WORD.tgid]!,
    };
    if ((flags & EVENT_HAS_PARENT) !== 0) {
      event.parentPid = words[at + WORD.parentPid]!;
      event.parentTgid = words[at + WORD.parentTgid]!;
    }
    if ((flags & EVENT_HAS_START_TICKS) !== 0) event.startTicks = doubles[i * 8 + START_TICKS_SLOT]!;
    switch (kind) {
      case 'exit':
        event.exitCode = unsigned[at + WORD.first]!;
        event.exitSignal = unsigned[at + WORD.second]!;
        break;
      case 'uid':
        event.ruid = unsigned[at + WORD.first]!;
        event.euid = unsigned[at + WORD.second]!;
        break;
      case 'gid':
        event.rgid = unsigned[at + WORD.first]!;
        event.egid = unsigned[at + WORD.second]!;
        break;
      case 'comm':
        event.comm = taken.take<string>();
        break;
      case 'ptrace':
        event.tracerPid = words[at + WORD.first]!;
        event.tracerTgid = words[at + WORD.second]!;
        break;
      default:
        break;
    }
    if ((flags & EVENT_HAS_SNAPSHOT) !== 0) event.snapshot = snapshotAt(numbers, snapshotIndex++, taken);
    out[i] = event;
  }
  taken.done();
  return out;
}

/** The one snapshot of a packed snapshot (snapshotForTest). */
export function decodeSnapshot(snapshots: ArrayBuffer, values: readonly unknown[]): ProcSnapshot {
  const taken = new Values(values);
  const snapshot = snapshotAt(new Float64Array(snapshots), 0, taken);
  taken.done();
  return snapshot;
}
