/**
 * Raw proc-connector events in, ECS process events out: the process table and the document
 * builder behind one call per event. Pure apart from what it is given (a ProcFs, a clock): the
 * agent, replay and the tests drive it the same way.
 *
 * Every raw event updates the table; only the actions asked for become documents. A fork or exit
 * of a thread (pid != tgid) is not a process event and yields nothing.
 *
 * Resyncs are rate-limited: an overflow storm reports a loss per batch, and a /proc rescan per
 * loss would make the agent fall further behind. A request inside the interval is remembered and
 * served by the first event after it, so the last loss of a storm is always followed by a scan.
 *
 * A loss is judged, not only counted: every process a rescan finds that the stream never
 * described (new, or running an image it did not see exec) becomes an exec document flagged
 * `execwarden.process.recovered`, handed out by takeRecovered() for the rules to see. A reverse
 * shell started under cover of a fork flood is still caught if it is still running. (What ran
 * and ended inside the loss is gone; a wrapper such as setsid is seen as its payload.)
 */
import type { RawEvent } from '../capture/raw-event.js';
import type { Clock } from '../clock.js';
import type { ProcFs } from '../process/procfs.js';
import { ProcessTable, type ProcessEntry, type ProcessTableStats } from '../process/process-table.js';
import { agentInfoFor, type AgentInfo } from './agent.js';
import { EtcAccounts, type AccountResolver, type HostInfo } from './host.js';
import { buildProcessEvent, eventTypeOf, processEventProbe, type EcsProcessEvent, type ProcessAction, type ProcessEventContext, type ProcessEventInput, type ProcessEventProbe } from './process-event.js';
import { TimeBase, type MonotonicClock } from './time-base.js';

export const ALL_PROCESS_ACTIONS: ReadonlySet<ProcessAction> = new Set<ProcessAction>([
  'exec', 'fork', 'end', 'ptrace', 'uid_change', 'gid_change', 'session_id_change',
]);

/** What each action's documents carry in event.category, event.type and event.action. */
export const PROCESS_EVENT_SHAPES: ReadonlyMap<ProcessAction, { 'event.category': readonly string[]; 'event.type': readonly string[]; 'event.action': string }> = new Map(
  [...ALL_PROCESS_ACTIONS].map((action) => [action, { 'event.category': ['process'], 'event.type': eventTypeOf(action), 'event.action': action }]),
);

export interface ProcessEventStreamOptions {
  procfs: ProcFs;
  host: HostInfo;
  clock: Clock;
  maxEntries?: number;
  exitedTtlMs?: number;
  /** Which documents to produce. Default: exec, fork and end. */
  actions?: ReadonlySet<ProcessAction>;
  /** Default: agentInfoFor(host). */
  agent?: AgentInfo;
  /** User and group names. Default: /etc/passwd and /etc/group. */
  accounts?: AccountResolver;
  /** CLOCK_MONOTONIC source paired with `clock` to date kernel timestamps. Default: hrtime. */
  monotonicNs?: MonotonicClock;
  /** Minimum time between two /proc rescans after losses. Default 1000 ms. */
  minResyncIntervalMs?: number;
  /** Environment variable names written to process.env_vars (the capture's allow-list). */
  envVars?: readonly string[];
  /** /proc/sys/kernel/cap_last_cap of the host. Default 40. */
  capabilityLastBit?: number;
}

export const DEFAULT_MIN_RESYNC_INTERVAL_MS = 1000;
const NONE: EcsProcessEvent[] = [];

/** What an event adds to its document beyond the process (see ProcessEventInput). */
type DocumentExtras = Pick<ProcessEventInput, 'snapshotMissing' | 'snapshotStale' | 'exitCode' | 'ptraceChildPid' | 'recovered'>;

export interface ProcessEventStreamStats {
  table: ProcessTableStats;
  /** Raw events handled, and documents produced per action. */
  eventsIn: number;
  documents: Record<ProcessAction, number>;
  /** Losses reported (resync requests) and /proc rescans actually done for them. */
  resyncRequests: number;
  resyncs: number;
  /** Processes those rescans found that the stream had not described (judged as recovered execs). */
  recovered: number;
  /** Events of a documented action whose document was not built: the gate said no rule could take it. */
  notDocumented: number;
}

/**
 * Says, from an event's probe (process-event.ts), whether some rule could take its document;
 * false only when none can.
 */
export type DocumentGate = (probe: ProcessEventProbe) => boolean;

export class ProcessEventStream {
  private readonly table: ProcessTable;
  private readonly clock: Clock;
  private actions: ReadonlySet<ProcessAction>;
  private gate: DocumentGate | null = null;
  private notDocumented = 0;
  private readonly context: ProcessEventContext;
  private readonly timeBase: TimeBase;
  private sequence = 0;
  private eventsIn = 0;
  private resyncs = 0;
  private resyncRequests = 0;
  private resyncPending = false;
  private lastResyncMs = -Infinity;
  private readonly minResyncIntervalMs: number;
  private recovered: EcsProcessEvent[] = [];
  private recoveredCount = 0;
  private readonly documents: Record<ProcessAction, number> = {
    exec: 0, fork: 0, end: 0, ptrace: 0, uid_change: 0, gid_change: 0, session_id_change: 0,
  };

  constructor(opts: ProcessEventStreamOptions) {
    this.clock = opts.clock;
    this.table = new ProcessTable({
      procfs: opts.procfs,
      hostId: opts.host.id,
      clock: opts.clock,
      maxEntries: opts.maxEntries,
      exitedTtlMs: opts.exitedTtlMs,
    });
    this.actions = opts.actions ?? ALL_PROCESS_ACTIONS;
    this.context = {
      host: opts.host,
      agent: opts.agent ?? agentInfoFor(opts.host),
      accounts: opts.accounts ?? new EtcAccounts(),
      envVars: new Set(opts.envVars ?? []),
      capabilityLastBit: opts.capabilityLastBit,
    };
    this.timeBase = new TimeBase(opts.clock, opts.monotonicNs);
    this.minResyncIntervalMs = opts.minResyncIntervalMs ?? DEFAULT_MIN_RESYNC_INTERVAL_MS;
  }

  /** Changes which actions become documents (the table follows every event either way). */
  setActions(actions: ReadonlySet<ProcessAction>): void {
    this.actions = actions;
  }

  /**
   * Builds a document only for events the gate lets through (null: every event of the actions
   * set). The table follows every event either way.
   */
  setGate(gate: DocumentGate | null): void {
    this.gate = gate;
  }

  /** Scans /proc so processes already running have names and parents. */
  seed(): void {
    for (const entry of this.table.scan()) this.table.settle(entry);
  }

  /**
   * Call after a loss (overflow, sequence gap, dropped batch): rescans /proc now, or with the
   * first event after the rate limit allows it (see the module header).
   */
  resync(): void {
    this.resyncRequests++;
    this.resyncPending = true;
    this.resyncIfDue();
  }

  handle(raw: RawEvent): EcsProcessEvent | null {
    this.eventsIn++;
    if (this.resyncPending) this.resyncIfDue();
    switch (raw.kind) {
      case 'fork': {
        const child = this.table.applyFork(raw);
        return child ? this.emit('fork', raw, child, {}) : null;
      }
      case 'exec': {
        const { entry, described } = this.table.applyExec(raw);
        const doc = this.emit('exec', raw, entry, { snapshotMissing: !described, snapshotStale: raw.snapshot?.stale === true });
        // Judged (the document holds the full image): the table keeps the compact form.
        this.table.settle(entry);
        return doc;
      }
      case 'exit': {
        const { entry, ended, exitCode } = this.table.applyExit(raw);
        return ended ? this.emit('end', raw, entry, { exitCode }) : null;
      }
      case 'comm':
        this.table.applyChange(raw);
        return null;
      case 'sid':
      case 'uid':
      case 'gid': {
        // Only the main thread's change is the process's (a thread's setuid is not).
        if (raw.pid !== raw.tgid) return null;
        this.table.applyChange(raw);
        const entry = this.table.get(raw.tgid);
        if (!entry) return null;
        const action: ProcessAction = raw.kind === 'uid' ? 'uid_change' : raw.kind === 'gid' ? 'gid_change' : 'session_id_change';
        return this.emit(action, raw, entry, {});
      }
      case 'ptrace': {
        const tracer = raw.tracerTgid ?? 0;
        if (tracer <= 0) return null; // a detach
        return this.emit('ptrace', { ...raw, tgid: tracer }, this.table.get(tracer) ?? null, { ptraceChildPid: raw.tgid });
      }
      case 'coredump':
        return null;
      default: {
        const unknown: never = raw.kind;
        return unknown;
      }
    }
  }

  /** Read-only view of the table, for lookups by other parts of the engine. */
  lookup(pid: number): ProcessEntry | undefined {
    return this.table.get(pid);
  }

  stats(): ProcessEventStreamStats {
    return {
      table: this.table.stats(),
      eventsIn: this.eventsIn,
      documents: { ...this.documents },
      resyncRequests: this.resyncRequests,
      resyncs: this.resyncs,
      recovered: this.recoveredCount,
      notDocumented: this.notDocumented,
    };
  }

  /** Exec documents of the processes the last rescans recovered (see the module header), once. */
  takeRecovered(): EcsProcessEvent[] {
    if (this.recovered.length === 0) return NONE;
    const out = this.recovered;
    this.recovered = [];
    return out;
  }

  private resyncIfDue(): void {
    const now = this.clock.nowMs();
    if (now - this.lastResyncMs < this.minResyncIntervalMs) return;
    this.resyncPending = false;
    this.lastResyncMs = now;
    this.resyncs++;
    this.timeBase.recalibrate();
    const judged = this.actions.has('exec');
    for (const entry of this.table.scan()) {
      if (judged) {
        this.recoveredCount++;
        this.documents.exec++;
        this.recovered.push(this.document('exec', entry, entry.pid, now, { recovered: true }));
      }
      this.table.settle(entry);
    }
  }

  private emit(
    action: ProcessAction,
    raw: RawEvent,
    entry: ProcessEntry | null,
    extra: DocumentExtras,
  ): EcsProcessEvent | null {
    if (!this.actions.has(action)) return null;
    if (this.gate !== null && !this.gate(processEventProbe(action, entry, this.context.host))) {
      this.notDocumented++;
      return null;
    }
    this.documents[action]++;
    return this.document(action, entry, raw.tgid, this.timeBase.wallMs(raw.timestampNs), extra);
  }

  /** One document of `entry` (or of an unknown `pid`), with its leaders as the table knows them now. */
  private document(action: ProcessAction, entry: ProcessEntry | null, pid: number, timestampMs: number, extra: DocumentExtras): EcsProcessEvent {
    return buildProcessEvent(
      {
        ...extra,
        action,
        entry,
        pid,
        timestampMs,
        createdMs: this.clock.nowMs(),
        sequence: ++this.sequence,
        sessionLeader: entry ? this.table.leader(entry.sid, 'session') : undefined,
        groupLeader: entry ? this.table.leader(entry.pgid, 'group') : undefined,
        parentGroupLeader: entry?.parent ? this.table.leader(entry.parent.pgid, 'group') : undefined,
      },
      this.context,
    );
  }

}
