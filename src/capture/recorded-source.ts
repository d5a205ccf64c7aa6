/**
 * Raw events recorded as NDJSON, one RawEvent per line, and an EventSource that plays them back.
 *
 * The line format is the RawEvent shape with two substitutions JSON needs: `timestampNs` is a
 * decimal string (a bigint) and `snapshot.cmdline` is base64 (bytes, not text: argv may hold
 * anything). `parseRawEvent` validates what it reads, so a hand-edited or truncated recording
 * fails with the line number instead of feeding nonsense to the process table; playback counts
 * rejected lines (`messagesRejected`) and carries on. Blank lines and lines starting with '#'
 * are skipped.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { ExecwardenError } from '../errors.js';
import { parseRecordedStdio } from '../process/stdio.js';
import type { EventSource } from './event-source.js';
import { emptyCaptureStats, RAW_EVENT_KINDS, SNAPSHOT_READS, type CaptureStats, type ProcSnapshot, type RawEvent, type RawEventKind, type SnapshotRead } from './raw-event.js';

export class RecordingFormatError extends ExecwardenError {
  constructor(message: string) {
    super('RECORDING_INVALID', message);
  }
}

const READS = SNAPSHOT_READS;
const OPTIONAL_NUMBERS = [
  'parentPid', 'parentTgid', 'exitCode', 'exitSignal', 'ruid', 'euid', 'rgid', 'egid', 'tracerPid', 'tracerTgid', 'startTicks',
] as const;
const SNAPSHOT_NUMBERS = ['ppid', 'pgid', 'sid', 'ttyNr', 'startTicks', 'ruid', 'euid', 'rgid', 'egid'] as const;
/** Written by newer readers; a recording without them leaves them unknown. */
const OPTIONAL_SNAPSHOT_NUMBERS = ['suid', 'sgid', 'capPermitted', 'capEffective', 'capBounding', 'argsTotal', 'cmdlineTailOffset'] as const;
/** Bounds on a recorded allow-listed environment (the live reader keeps far less). */
const RECORDED_ENV_MAX_ENTRIES = 256;

/** One RawEvent as one line of JSON (no newline). */
export function serializeRawEvent(event: RawEvent): string {
  const { timestampNs, snapshot, ...rest } = event;
  const line: Record<string, unknown> = { ...rest, timestampNs: timestampNs.toString() };
  if (snapshot) line.snapshot = { ...snapshot, cmdline: snapshot.cmdline?.toString('base64') ?? null };
  return JSON.stringify(line);
}

function fail(what: string): never {
  throw new RecordingFormatError(what);
}

function int(value: unknown, field: string): number {
  return typeof value === 'number' && Number.isInteger(value) ? value : fail(`${field} must be an integer`);
}

function nullableString(value: unknown, field: string): string | null {
  return value === null || typeof value === 'string' ? value : fail(`${field} must be a string or null`);
}

function parseSnapshot(value: unknown): ProcSnapshot {
  if (value === null || typeof value !== 'object') fail('snapshot must be an object');
  const s = value as Record<string, unknown>;
  const cmdline = nullableString(s.cmdline, 'snapshot.cmdline');
  if (cmdline !== null && !/^[A-Za-z0-9+/]*={0,2}$/.test(cmdline)) fail('snapshot.cmdline must be base64');
  if (!Array.isArray(s.failed) || !s.failed.every((r) => READS.includes(r as SnapshotRead))) {
    fail(`snapshot.failed must list reads among ${READS.join(', ')}`);
  }
  const snapshot: ProcSnapshot = {
    cmdline: cmdline === null ? null : Buffer.from(cmdline, 'base64'),
    cmdlineTruncated: s.cmdlineTruncated === true,
    comm: nullableString(s.comm, 'snapshot.comm'),
    exe: nullableString(s.exe, 'snapshot.exe'),
    cwd: nullableString(s.cwd, 'snapshot.cwd'),
    ppid: 0, pgid: 0, sid: 0, ttyNr: 0, startTicks: 0, ruid: 0, euid: 0, rgid: 0, egid: 0,
    cgroup: nullableString(s.cgroup ?? null, 'snapshot.cgroup'),
    failed: s.failed as SnapshotRead[],
  };
  for (const field of SNAPSHOT_NUMBERS) snapshot[field] = int(s[field], `snapshot.${field}`);
  for (const field of OPTIONAL_SNAPSHOT_NUMBERS) {
    if (s[field] !== undefined) snapshot[field] = int(s[field], `snapshot.${field}`);
  }
  if (s.env !== undefined && s.env !== null) {
    if (!Array.isArray(s.env) || s.env.length > RECORDED_ENV_MAX_ENTRIES || !s.env.every((v) => typeof v === 'string' && v.includes('='))) {
      fail(`snapshot.env must be a list of at most ${RECORDED_ENV_MAX_ENTRIES} "NAME=value" strings`);
    }
    snapshot.env = s.env as string[];
  } else if (s.env === null) {
    snapshot.env = null;
  }
  if (s.envTruncated === true) snapshot.envTruncated = true;
  if (s.commRenamed === true) snapshot.commRenamed = true;
  if (s.stale === true) snapshot.stale = true;
  if (s.argsTotalExact === false) snapshot.argsTotalExact = false;
  if (s.startedAfterEvent === true) snapshot.startedAfterEvent = true;
  if (s.stdio !== undefined) snapshot.stdio = parseRecordedStdio(s.stdio, 'snapshot.stdio', fail);
  if (s.parentStdio !== undefined) snapshot.parentStdio = parseRecordedStdio(s.parentStdio, 'snapshot.parentStdio', fail);
  return snapshot;
}

/** Parses and validates one recorded line; throws RecordingFormatError. */
export function parseRawEvent(line: string): RawEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    fail('not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('not a JSON object');
  const o = value as Record<string, unknown>;
  if (!(RAW_EVENT_KINDS as readonly string[]).includes(o.kind as string)) fail(`kind must be one of ${RAW_EVENT_KINDS.join(', ')}`);
  if (typeof o.timestampNs !== 'string' || !/^\d+$/.test(o.timestampNs)) fail('timestampNs must be a decimal string');
  const event: RawEvent = {
    kind: o.kind as RawEventKind,
    cpu: int(o.cpu, 'cpu'),
    seq: int(o.seq, 'seq'),
    timestampNs: BigInt(o.timestampNs),
    pid: int(o.pid, 'pid'),
    tgid: int(o.tgid, 'tgid'),
  };
  for (const field of OPTIONAL_NUMBERS) {
    if (o[field] !== undefined) event[field] = int(o[field], field);
  }
  if (o.comm !== undefined) event.comm = nullableString(o.comm, 'comm') ?? undefined;
  if (o.snapshot !== undefined) event.snapshot = parseSnapshot(o.snapshot);
  return event;
}


export interface RecordedSourceOptions {
  /** NDJSON file of serialized raw events. */
  path: string;
  /** Events per delivered batch. Default 256. */
  batchSize?: number;
  /** Called for each rejected line (1-based line number). Default: ignored (still counted). */
  onInvalidLine?: (lineNumber: number, error: RecordingFormatError) => void;
}

/** Plays a recording back as fast as the consumer takes it, in file order. */
export class RecordedSource implements EventSource {
  onLoss?: (reason: 'overflow' | 'sequence-gap' | 'batch-dropped') => void;
  /** Resolves when the whole recording has been delivered (or stop() ended it). */
  readonly finished: Promise<void>;

  private readonly counters = emptyCaptureStats();
  private readonly batchSize: number;
  private resolveFinished!: () => void;
  private rejectFinished!: (error: unknown) => void;
  private stopping = false;
  private started = false;

  constructor(private readonly options: RecordedSourceOptions) {
    this.batchSize = options.batchSize ?? 256;
    this.finished = new Promise<void>((resolve, reject) => {
      this.resolveFinished = resolve;
      this.rejectFinished = reject;
    });
    // A recording that fails to open rejects start(); do not also report it as unhandled here.
    this.finished.catch(() => undefined);
  }

  async start(onBatch: (events: RawEvent[]) => void): Promise<void> {
    if (this.started) throw new ExecwardenError('CAPTURE_RUNNING', 'the recorded source is already started');
    this.started = true;
    const stream = createReadStream(this.options.path);
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (error) => {
        const wrapped = new ExecwardenError('RECORDING_UNREADABLE', `cannot read ${this.options.path}: ${error.message}`, { cause: error });
        this.rejectFinished(wrapped);
        reject(wrapped);
      });
    });
    void this.play(stream, onBatch).then(this.resolveFinished, this.rejectFinished);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.started) await this.finished.catch(() => undefined);
  }

  stats(): CaptureStats {
    return { ...this.counters, eventsByKind: { ...this.counters.eventsByKind } };
  }

  private async play(stream: NodeJS.ReadableStream, onBatch: (events: RawEvent[]) => void): Promise<void> {
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    let batch: RawEvent[] = [];
    let lineNumber = 0;
    try {
      for await (const line of lines) {
        lineNumber++;
        if (this.stopping) break;
        if (line.trim() === '' || line.startsWith('#')) continue;
        let event: RawEvent;
        try {
          event = parseRawEvent(line);
        } catch (error) {
          if (!(error instanceof RecordingFormatError)) throw error;
          this.counters.messagesRejected++;
          this.options.onInvalidLine?.(lineNumber, error);
          continue;
        }
        this.counters.eventsByKind[event.kind]++;
        batch.push(event);
        if (batch.length >= this.batchSize) {
          onBatch(batch);
          batch = [];
        }
      }
      if (batch.length > 0) onBatch(batch);
    } finally {
      lines.close();
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    }
  }
}
