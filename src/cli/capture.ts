/**
 * `execwarden capture`: ECS process events from the live proc connector, one JSON document per
 * line on stdout (or one readable line each with --pretty), until the signal aborts. Then it
 * stops the source, lets stdout drain and prints its counters to stderr, so a capture that lost
 * events says so. After a loss the process table is rebuilt from /proc (rate-limited by the
 * stream).
 */
import type { CaptureOptions } from '../capture/raw-event.js';
import type { EventSource } from '../capture/event-source.js';
import { LiveSource, checkCapturePrivileges } from '../capture/live-source.js';
import type { PrivilegeCheck } from '../capture/privileges.js';
import { systemClock, type Clock } from '../clock.js';
import { loadHostInfo } from '../ecs/host.js';
import type { ProcessAction } from '../ecs/process-event.js';
import { ALL_PROCESS_ACTIONS, ProcessEventStream } from '../ecs/process-event-stream.js';
import { ExecwardenError } from '../errors.js';
import { toJsonLine } from '../outputs/json-line.js';
import { formatEventPretty } from '../outputs/pretty-format.js';
import { DEFAULT_ENV_VARS, namesToRead } from '../process/environment.js';
import { RealProcFs, SCAN_CMDLINE_MAX_BYTES, SCAN_CMDLINE_TAIL_BYTES, readCapabilityLastBit, type ProcFs } from '../process/procfs.js';
import type { CommandIo } from './io.js';

export interface CaptureActionOptions {
  actions: string[];
  pretty: boolean;
  receiveBufferBytes?: number;
  realtime?: boolean;
}

/** What the action reaches outside the process; tests replace it. */
export interface CaptureDependencies {
  checkPrivileges(): PrivilegeCheck;
  createSource(options: CaptureOptions): EventSource & { warnings?(): string[] };
  procfs(): ProcFs;
  clock: Clock;
}

const defaultDependencies: CaptureDependencies = {
  checkPrivileges: checkCapturePrivileges,
  createSource: (options) => new LiveSource({ ...options, envVars: namesToRead(DEFAULT_ENV_VARS) }),
  procfs: () => new RealProcFs({ envVars: namesToRead(DEFAULT_ENV_VARS), cmdlineMaxBytes: SCAN_CMDLINE_MAX_BYTES, cmdlineTailBytes: SCAN_CMDLINE_TAIL_BYTES }),
  clock: systemClock,
};

export function parseActions(actions: string[]): Set<ProcessAction> {
  const wanted = actions.flatMap((a) => a.split(',')).map((a) => a.trim()).filter((a) => a !== '');
  if (wanted.length === 0) return new Set(ALL_PROCESS_ACTIONS);
  const unknown = wanted.filter((a) => !ALL_PROCESS_ACTIONS.has(a as ProcessAction));
  if (unknown.length > 0) {
    throw new ExecwardenError('USAGE', `unknown action ${unknown.map((a) => `'${a}'`).join(', ')}: use ${[...ALL_PROCESS_ACTIONS].join(', ')}`);
  }
  return new Set(wanted as ProcessAction[]);
}

function aborted(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return new Promise(() => undefined);
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Resolves once everything written so far has been handed to the OS (or the stream failed). */
function drained(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    if (!stream.write('', () => resolve())) stream.once('drain', () => resolve());
  });
}

export async function captureAction(
  opts: CaptureActionOptions,
  io: CommandIo,
  deps: CaptureDependencies = defaultDependencies,
): Promise<number> {
  const actions = parseActions(opts.actions);
  const privileges = deps.checkPrivileges();
  if (!privileges.ok) {
    throw new ExecwardenError('CAPTURE_PRIVILEGE', `capture needs ${privileges.missing.join('; ')}`);
  }
  for (const limit of privileges.degraded) io.stderr.write(`execwarden: warning: without ${limit}\n`);

  const stream = new ProcessEventStream({
    procfs: deps.procfs(),
    host: loadHostInfo(),
    clock: deps.clock,
    actions,
    envVars: DEFAULT_ENV_VARS,
    capabilityLastBit: readCapabilityLastBit(),
  });
  stream.seed();

  const color = (io.stdout as { isTTY?: boolean }).isTTY === true && !process.env.NO_COLOR;
  const render = opts.pretty
    ? (doc: Record<string, unknown>) => formatEventPretty(doc, { color })
    : (doc: Record<string, unknown>) => toJsonLine(doc);

  const losses = { overflow: 0, 'sequence-gap': 0, 'batch-dropped': 0 };
  const source = deps.createSource({ receiveBufferBytes: opts.receiveBufferBytes, realtime: opts.realtime });
  source.onLoss = (reason) => {
    losses[reason]++;
    stream.resync();
  };

  await source.start((batch) => {
    let text = '';
    for (const raw of batch) {
      const doc = stream.handle(raw);
      // Processes a rescan after a loss found undescribed come first, flagged recovered.
      for (const recovered of stream.takeRecovered()) text += `${render(recovered as unknown as Record<string, unknown>)}\n`;
      if (doc) text += `${render(doc as unknown as Record<string, unknown>)}\n`;
    }
    if (text !== '') io.stdout.write(text);
  });
  for (const warning of source.warnings?.() ?? []) io.stderr.write(`execwarden: warning: ${warning}\n`);

  await aborted(io.signal);
  await source.stop();
  await drained(io.stdout);

  const capture = source.stats();
  const processes = stream.stats();
  const counters = {
    documents: processes.documents,
    raw_events: capture.eventsByKind,
    overflows: capture.overflows,
    sequence_gaps: capture.sequenceGaps,
    batches_dropped: capture.batchesDropped,
    events_dropped: capture.eventsDropped,
    messages_rejected: capture.messagesRejected,
    snapshots_partial: capture.snapshotsPartial,
    snapshots_gone: capture.snapshotsGone,
    snapshots_stale: capture.snapshotsStale,
    comms_renamed: capture.commsRenamed,
    socket_lookups: { cached: capture.socketCacheHits ?? 0, scanned: capture.socketListingScans ?? 0, over_budget: capture.socketLookupsOverBudget ?? 0 },
    losses_reported: losses,
    resync_requests: processes.resyncRequests,
    resyncs: processes.resyncs,
    process_table: processes.table,
    receive_buffer_bytes: capture.receiveBufferBytes,
    realtime: capture.realtime,
  };
  io.stderr.write(`execwarden capture counters: ${JSON.stringify(counters)}\n`);
  return 0;
}
