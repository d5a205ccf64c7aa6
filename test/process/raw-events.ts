/** Raw proc-connector events for table and stream tests. */
import type { ProcSnapshot, RawEvent } from '../../src/capture/raw-event.js';
import type { Clock } from '../../src/clock.js';

let seq = 0;
const base = (kind: RawEvent['kind'], pid: number, timestampNs: bigint): RawEvent => ({
  kind, cpu: 0, seq: seq++, timestampNs, pid, tgid: pid,
});

export function forkEvent(parent: number, child: number, timestampNs = 1_000_000_000n): RawEvent {
  return { ...base('fork', child, timestampNs), parentPid: parent, parentTgid: parent };
}

export function threadEvent(kind: 'fork' | 'exit', tgid: number, tid: number): RawEvent {
  return { ...base(kind, tid, 1n), tgid, parentPid: tgid, parentTgid: tgid };
}

export function execEvent(pid: number, snapshot: ProcSnapshot | null, timestampNs = 2_000_000_000n): RawEvent {
  const event = base('exec', pid, timestampNs);
  return snapshot ? { ...event, snapshot } : event;
}

export function exitEvent(pid: number, status = 0, timestampNs = 3_000_000_000n): RawEvent {
  return { ...base('exit', pid, timestampNs), exitCode: status, exitSignal: 17 };
}

export function changeEvent(kind: 'comm' | 'sid' | 'uid' | 'gid', pid: number, fields: Partial<RawEvent> = {}): RawEvent {
  return { ...base(kind, pid, 1n), ...fields };
}

/** A snapshot for a process that was gone: every read failed. */
export function goneSnapshot(): ProcSnapshot {
  return {
    cmdline: null, cmdlineTruncated: false, comm: null, exe: null, cwd: null, ppid: -1, pgid: -1, sid: -1,
    ttyNr: 0, startTicks: -1, ruid: -1, euid: -1, rgid: -1, egid: -1, cgroup: null,
    failed: ['cmdline', 'comm', 'stat', 'status', 'exe', 'cwd', 'cgroup'],
  };
}

export class SteppedClock implements Clock {
  constructor(public now = 1_800_000_000_000) {}
  nowMs(): number {
    return this.now;
  }
  advance(ms: number): void {
    this.now += ms;
  }
}
