/**
 * The composition root of `execwarden run`: live capture -> engine -> sinks, plus what a service
 * needs around it (start-up facts in the log, SIGHUP reload, a drain on shutdown, loss alerts and
 * metrics). Everything here is wiring and lifecycle; detection is in Engine.
 *
 * Start-up order is chosen so that a failure leaves nothing behind: rules first (a broken rule
 * file stops start-up before anything is opened), then outputs (an unwritable file or a refused
 * webhook stops it too), then the /proc seed and, last, the kernel subscription.
 */
import { AlertThrottle, type AlertDocument } from '../alerts/index.js';
import type { EventSource } from '../capture/event-source.js';
import { LiveSource, checkCapturePrivileges } from '../capture/live-source.js';
import { notifySystemd } from '../capture/systemd-notify.js';
import { CAP_DAC_READ_SEARCH, CAP_KILL, CAP_NET_ADMIN, CAP_SYS_NICE, CAP_SYS_PTRACE, hasCap, readPrivilegeFacts } from '../capture/privileges.js';
import type { CaptureStats, RawEvent } from '../capture/raw-event.js';
import { systemClock, type Clock } from '../clock.js';
import { loadHostInfo, ProcessEventStream, type EcsProcessEvent, type HostInfo } from '../ecs/index.js';
import { ExecwardenError } from '../errors.js';
import { createSinks } from '../outputs/create-sinks.js';
import type { Sink } from '../outputs/sink.js';
import { SinkFanout } from '../outputs/sink-fanout.js';
import { RealProcFs, SCAN_CMDLINE_MAX_BYTES, SCAN_CMDLINE_TAIL_BYTES, namesToRead, readCapabilityLastBit, type ProcFs } from '../process/index.js';
import { formatDiagnostic, type RuleDiagnostic } from '../rules/index.js';
import { loadConfiguredRules, type AgentConfig } from './config.js';
import { Engine, type EngineEmitter } from './engine.js';
import type { Logger } from './logger.js';
import { CAPTURE_STOPPED_RULE_ID, CAPTURE_STOPPED_RULE_NAME, internalAlert, LossMonitor, stallAlert } from './internal-alerts.js';
import { Watchdog } from './watchdog.js';
import { loadNativeAddon } from '../capture/native.js';
import { Responder, type ResponseDeps } from '../response/kill-response.js';
import { collectAgentMetrics } from './agent-metrics.js';
import type { Metric, MetricsServer } from './metrics.js';

export interface AgentDeps {
  logger: Logger;
  clock?: Clock;
  /** Default: the live proc connector with the configured buffer and priority. */
  source?: EventSource & { warnings?(): string[] };
  procfs?: ProcFs;
  host?: HostInfo;
  /** Where the stdout sink writes. Default process.stdout. */
  stdout?: NodeJS.WritableStream;
  /** Sinks added to the configured ones (the lab's in-memory detector sink). */
  extraSinks?: Sink[];
  /** Skip the privilege check (recorded sources in tests). */
  skipPrivilegeCheck?: boolean;
  /** Shortest time between two events-lost alerts. Default 60 s; the lab wants every phase's. */
  lossAlertWindowMs?: number;
  /**
   * Once capture runs, drop the capabilities only start-up needs (CAP_NET_ADMIN for the receive
   * buffer, CAP_SYS_NICE for the reader's priority) from the reader and JS threads, and clear
   * the ambient set so children (the syslog output's logger) inherit nothing. `run` asks for it;
   * in-process uses (the lab, the tests) keep theirs, since capabilities are per thread and for
   * good. Default false.
   */
  dropStartupCapabilities?: boolean;
  /** Speak systemd's notify protocol: READY=1, the watchdog, STOPPING=1 (watchdog.ts). `run` asks for it. */
  systemd?: boolean;
  /**
   * How a kill response is sent. Default: the native pidfd kill, and only with the live source:
   * events from any other source (a recording, a test) describe processes that are not these.
   */
  kill?: ResponseDeps['kill'];
}

/** What start-up needs and running does not. */
const STARTUP_ONLY_CAPABILITIES = [CAP_NET_ADMIN, CAP_SYS_NICE];

export type AlertListener = (alert: Record<string, unknown>, observedAtMs: number) => void;

/** How often throttled repeats and loss counters are looked at. */
const HOUSEKEEPING_MS = 1000;
const LOSS_LOG_INTERVAL_MS = 1000;
const DELIVERY_LOG_INTERVAL_MS = 10_000;

export class RulesInvalidError extends ExecwardenError {
  constructor(readonly diagnostics: RuleDiagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    super('RULES_INVALID', `${errors.length} error${errors.length === 1 ? '' : 's'} in the rules:\n${errors.map(formatDiagnostic).join('\n')}`);
  }
}

/** The kill response when [response] kill_process is on and the events are this host's, live. */
function createResponder(config: AgentConfig, deps: AgentDeps, stream: ProcessEventStream, clock: Clock): Responder | undefined {
  if (!config.response.killProcess) return undefined;
  let kill = deps.kill;
  if (kill === undefined) {
    if (deps.source !== undefined) {
      deps.logger.warn('[response] kill_process is on, but the events do not come from live capture: nothing will be killed');
      return undefined;
    }
    const addon = loadNativeAddon();
    kill = (pid, startTicks) => addon.killProcess(pid, startTicks);
    const facts = readPrivilegeFacts();
    if (!hasCap(facts.effectiveCaps, CAP_KILL)) {
      deps.logger.warn('[response] kill_process is on without CAP_KILL: processes of other users cannot be killed (the attempts are recorded as failed, errno 1); the service needs CAP_KILL in a drop-in');
    }
  }
  deps.logger.info({ killRules: config.response.killRules.length, neverKill: config.response.neverKill.length }, 'kill response on: processes caught by rules with kill_process actions (and [response] kill_rules) are killed');
  return new Responder(config.response, { lookup: (pid) => stream.lookup(pid), kill, clock, selfPid: process.pid });
}

export class Agent {
  private readonly listeners: AlertListener[] = [];
  private readonly evaluation = { batches: 0, events: 0, nanoseconds: 0n };
  private readonly losses = { overflow: 0, 'sequence-gap': 0, 'batch-dropped': 0 };
  private lastLossLogMs = -Infinity;
  private housekeeping: NodeJS.Timeout | undefined;
  private metricsServer: MetricsServer | undefined;
  private stopping: Promise<void> | undefined;
  private reloads = { ok: 0, failed: 0 };
  private failure: string | null = null;
  private readonly failureListeners: ((reason: string) => void)[] = [];
  private watchdog: Watchdog | null = null;
  private outputsGone = false;
  private readonly outputsGoneListeners: (() => void)[] = [];
  private readonly emitter: EngineEmitter;

  private constructor(
    readonly config: AgentConfig,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly host: HostInfo,
    private readonly source: EventSource & { warnings?(): string[] },
    private readonly stream: ProcessEventStream,
    private readonly engine: Engine,
    private readonly fanout: SinkFanout,
    private readonly lossMonitor: LossMonitor,
    private readonly dropStartupCapabilities = false,
    private readonly systemd = false,
  ) {
    this.emitter = {
      event: (doc: EcsProcessEvent) => this.fanout.write(doc as unknown as Record<string, unknown>),
      alert: (doc: AlertDocument | Record<string, unknown>) => this.deliverAlert(doc as Record<string, unknown>),
    };
  }

  /** Builds and starts the pipeline; rejects (with nothing left open) when any part cannot start. */
  static async start(config: AgentConfig, deps: AgentDeps): Promise<Agent> {
    const { logger } = deps;
    const clock = deps.clock ?? systemClock;

    const rules = await loadConfiguredRules(config);
    logDiagnostics(logger, rules.diagnostics);
    if (rules.ruleSet === null) throw new RulesInvalidError(rules.diagnostics);

    if (!deps.source && !deps.skipPrivilegeCheck) {
      const privileges = checkCapturePrivileges();
      if (!privileges.ok) throw new ExecwardenError('CAPTURE_PRIVILEGE', `capture needs ${privileges.missing.join('; ')}`);
      for (const limit of privileges.degraded) logger.warn({ limit }, `running without ${limit}`);
    }

    const host = deps.host ?? loadHostInfo();
    const envRead = namesToRead(config.capture.envVars);
    const stream = new ProcessEventStream({
      procfs: deps.procfs ?? new RealProcFs({ envVars: envRead, cmdlineMaxBytes: SCAN_CMDLINE_MAX_BYTES, cmdlineTailBytes: SCAN_CMDLINE_TAIL_BYTES }),
      host,
      clock,
      maxEntries: config.processTable.maxEntries,
      exitedTtlMs: config.processTable.exitedTtlMs,
      envVars: config.capture.envVars,
      capabilityLastBit: readCapabilityLastBit(),
    });
    const responder = createResponder(config, deps, stream, clock);
    const engine = new Engine({
      stream,
      rules: rules.ruleSet,
      throttle: new AlertThrottle(clock, { windowMs: config.alerts.floodWindowMs, perRuleBudget: config.alerts.floodBudget }),
      clock,
      emitEvents: config.capture.events,
      ...(responder ? { responder } : {}),
    });

    const sinks = [
      ...(await createSinks(config.outputs, {
        stdout: deps.stdout,
        hostname: host.hostname,
        onError: throttledDeliveryLog(logger, clock),
      })),
      ...(deps.extraSinks ?? []),
    ];
    const fanout = new SinkFanout(sinks);
    await fanout.start();

    const source =
      deps.source ??
      new LiveSource({
        receiveBufferBytes: config.capture.receiveBufferBytes,
        realtime: config.capture.realtime,
        envVars: envRead,
        ...(deps.dropStartupCapabilities ? { dropCapabilities: STARTUP_ONLY_CAPABILITIES } : {}),
      });
    const agent = new Agent(
      config, logger, clock, host, source, stream, engine, fanout,
      new LossMonitor(clock, host, deps.lossAlertWindowMs),
      deps.dropStartupCapabilities === true && deps.source === undefined,
      deps.systemd === true,
    );
    try {
      await agent.open(rules.ruleSet.size, rules.rules.files.length, sinks);
    } catch (error) {
      await agent.stop();
      throw error;
    }
    return agent;
  }

  onAlert(listener: AlertListener): void {
    this.listeners.push(listener);
  }

  private async open(ruleCount: number, ruleFiles: number, sinks: Sink[]): Promise<void> {
    this.stream.seed();
    this.source.onLoss = (reason) => this.onLoss(reason);
    await this.source.start((batch) => this.handleBatch(batch));
    if (this.dropStartupCapabilities) await this.reportDroppedCapabilities();
    this.housekeeping = setInterval(() => this.houseKeep(), HOUSEKEEPING_MS);
    this.housekeeping.unref();
    if (this.config.metrics.listen) {
      // node:http only when metrics are served.
      const { startMetricsServer } = await import('./metrics.js');
      this.metricsServer = await startMetricsServer(this.config.metrics.listen, () => this.metrics());
    }
    const capture = this.source.stats();
    this.logger.info(
      {
        rules: ruleCount,
        ruleFiles,
        rulePaths: this.config.rules.paths.length > 0 ? this.config.rules.paths : 'bundled',
        exceptions: this.config.rules.exceptions,
        outputs: sinks.map((sink) => sink.name),
        events: this.config.capture.events,
        capabilities: heldCapabilities(),
        realtime: capture.realtime,
        receiveBufferBytes: capture.receiveBufferBytes,
        processTable: this.stream.stats().table.size,
        metrics: this.metricsServer ? `${this.metricsServer.address.host}:${this.metricsServer.address.port}` : null,
        config: this.config.file,
      },
      `execwarden started: ${ruleCount} rules, outputs ${sinks.map((sink) => sink.name).join(', ')}`,
    );
    for (const warning of this.source.warnings?.() ?? []) this.logger.warn(warning);
    if (this.systemd) {
      this.watchdog = new Watchdog({
        clock: this.clock,
        notify: notifySystemd,
        onStall: (lateByMs) => {
          this.logger.warn({ lateByMs: Math.round(lateByMs) }, 'the event loop stalled');
          this.deliverAlert(stallAlert(lateByMs, this.clock.nowMs(), this.host));
        },
      });
      this.watchdog.start(`watching: ${ruleCount} rules`);
    }
  }

  /** See AgentDeps.dropStartupCapabilities: LiveSource drops them; this says how it went. */
  private async reportDroppedCapabilities(): Promise<void> {
    const source = this.source;
    if (!(source instanceof LiveSource)) return;
    // The reader thread drops them as it starts running: give it a moment to have started.
    for (let waited = 0; waited < 1000 && !source.capabilitiesDropped().reader; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const { reader, js, error } = source.capabilitiesDropped();
    if (reader && js) {
      this.logger.info({ dropped: ['CAP_NET_ADMIN', 'CAP_SYS_NICE'] }, 'dropped the capabilities only start-up needs; ambient set cleared');
    } else {
      this.logger.warn({ reader, js, err: error }, 'could not drop every capability only start-up needs');
    }
  }

  private handleBatch(batch: RawEvent[]): void {
    const started = process.hrtime.bigint();
    const count = batch.length;
    // The batch is the source's and used once: its events are released as they are handled.
    this.engine.handleBatch(batch, this.emitter, true);
    this.evaluation.nanoseconds += process.hrtime.bigint() - started;
    this.evaluation.batches++;
    this.evaluation.events += count;
  }

  private deliverAlert(doc: Record<string, unknown>): void {
    this.fanout.write(doc);
    if (this.listeners.length === 0) return;
    const observedAt = this.clock.nowMs();
    for (const listener of this.listeners) {
      try {
        listener(doc, observedAt);
      } catch (error) {
        this.logger.error({ err: error }, 'alert listener failed');
      }
    }
  }

  private onLoss(reason: 'overflow' | 'sequence-gap' | 'batch-dropped'): void {
    this.losses[reason]++;
    // The stream rate-limits rescans itself; only the log line is limited here.
    this.engine.resync();
    const now = this.clock.nowMs();
    if (now - this.lastLossLogMs < LOSS_LOG_INTERVAL_MS) return;
    this.lastLossLogMs = now;
    this.logger.warn({ reason, losses: this.losses }, 'events lost: rescanning /proc to resynchronise the process table');
  }

  /**
   * Called once when every output has stopped for good (stdout was the only one and its reader
   * went away, as in `execwarden run | head -1`): with nothing left to tell, `run` stops and exits
   * 0, like any filter whose reader left. With another output still there, the agent runs on.
   */
  onOutputsGone(listener: () => void): void {
    if (this.outputsGone) listener();
    else this.outputsGoneListeners.push(listener);
  }

  private checkOutputs(): void {
    if (this.outputsGone) return;
    const sinks = this.fanout.sinks;
    if (sinks.length === 0 || !sinks.every((sink) => (sink as { closed?: boolean }).closed === true)) return;
    this.outputsGone = true;
    this.logger.warn('every output has stopped for good (standard output was the only one, and its reader is gone): stopping');
    for (const listener of this.outputsGoneListeners.splice(0)) listener();
  }

  /** Called once if capture dies on its own; the agent is then blind and must not pretend otherwise. */
  onFailure(listener: (reason: string) => void): void {
    if (this.failure !== null) listener(this.failure);
    else this.failureListeners.push(listener);
  }

  private houseKeep(): void {
    this.checkSource();
    this.checkOutputs();
    this.engine.flushThrottled(this.emitter);
    const capture = this.source.stats();
    const alert = this.lossMonitor.check({
      overflows: capture.overflows,
      sequenceGaps: capture.sequenceGaps,
      eventsDropped: capture.eventsDropped,
      // Both leave an exec described as something it was not: counted together.
      staleSnapshots: capture.snapshotsStale + (capture.snapshotsReused ?? 0),
      outputDrops: this.fanout.stats().dropped,
      sequenceEvictions: this.engine.stats().sequenceEvictions,
    });
    if (alert) {
      this.logger.warn({ loss: (alert.execwarden as Record<string, unknown>).loss }, String(alert.message));
      this.deliverAlert(alert);
    }
  }

  private checkSource(): void {
    const reason = this.failure === null ? (this.source.failure?.() ?? null) : null;
    if (reason === null) return;
    this.failure = reason;
    this.logger.fatal({ reason }, `capture stopped: ${reason}`);
    this.deliverAlert(
      internalAlert(
        {
          ruleId: CAPTURE_STOPPED_RULE_ID,
          ruleName: CAPTURE_STOPPED_RULE_NAME,
          description: 'The proc connector reader stopped; the agent can no longer see program starts.',
          severity: 'critical',
          message: `execwarden capture stopped: ${reason}; no process launches are being watched`,
        },
        this.clock.nowMs(),
        this.host,
      ),
    );
    for (const listener of this.failureListeners.splice(0)) listener(reason);
  }

  /** SIGHUP: reload rules and exceptions (keeping the running set when the new one is invalid), reopen outputs. */
  async reload(): Promise<boolean> {
    let ok = true;
    try {
      const rules = await loadConfiguredRules(this.config);
      logDiagnostics(this.logger, rules.diagnostics);
      if (rules.ruleSet !== null) {
        this.engine.setRules(rules.ruleSet);
        this.logger.info({ rules: rules.ruleSet.size, ruleFiles: rules.rules.files.length }, `rules reloaded: ${rules.ruleSet.size} rules`);
      } else {
        ok = false;
        this.logger.error(
          { errors: rules.diagnostics.filter((d) => d.severity === 'error').length },
          `reload refused: the rules have errors; keeping the ${this.engine.ruleSet.size} rules in use`,
        );
      }
    } catch (error) {
      ok = false;
      this.logger.error({ err: error }, 'reload failed; keeping the rules in use');
    }
    for (const problem of await this.fanout.reopen()) {
      ok = false;
      this.logger.error(problem);
    }
    if (ok) this.reloads.ok++;
    else this.reloads.failed++;
    return ok;
  }

  /** Stops capture, hands the last batch and throttled repeats to the outputs, drains them. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.watchdog?.stop();
      if (this.housekeeping) clearInterval(this.housekeeping);
      await this.source.stop();
      this.houseKeep();
      this.engine.flushThrottled(this.emitter, true);
      if (this.metricsServer) await this.metricsServer.close();
      const droppedBefore = this.droppedByOutputs();
      await this.fanout.close(this.config.shutdown.drainMs);
      const droppedAtShutdown = this.droppedByOutputs() - droppedBefore;
      this.logger.info(
        { droppedAtShutdown, drainSeconds: this.config.shutdown.drainMs / 1000, stats: this.summary() },
        `execwarden stopped: ${droppedAtShutdown} document${droppedAtShutdown === 1 ? '' : 's'} still undelivered after the ${this.config.shutdown.drainMs / 1000} s drain ${droppedAtShutdown === 1 ? 'was' : 'were'} dropped`,
      );
    })();
    return this.stopping;
  }

  private droppedByOutputs(): number {
    return this.fanout.stats().dropped;
  }

  captureStats(): CaptureStats {
    return this.source.stats();
  }

  /** Counters for the shutdown log line and tests. */
  summary(): Record<string, unknown> {
    const capture = this.source.stats();
    return {
      engine: this.engine.stats(),
      capture,
      losses: this.losses,
      processTable: this.stream.stats().table,
      rules: this.engine.ruleSet.stats(),
      outputs: this.fanout.stats(),
      reloads: this.reloads,
    };
  }

  metrics(): Metric[] {
    return collectAgentMetrics({
      capture: this.source.stats(),
      engine: this.engine.stats(),
      stream: this.stream.stats(),
      rules: this.engine.ruleSet,
      outputs: this.fanout.stats(),
      evaluation: this.evaluation,
      reloads: this.reloads,
    });
  }
}

/**
 * Logs failed deliveries at most once per sink every 10 s, with how many failed meanwhile: a dead
 * webhook must not turn every alert into a log line of its own.
 */
function throttledDeliveryLog(logger: Logger, clock: Clock): (sink: string, error: unknown) => void {
  const state = new Map<string, { lastMs: number; since: number }>();
  return (sink, error) => {
    const now = clock.nowMs();
    const entry = state.get(sink) ?? { lastMs: -Infinity, since: 0 };
    entry.since++;
    state.set(sink, entry);
    if (now - entry.lastMs < DELIVERY_LOG_INTERVAL_MS) return;
    logger.warn({ sink, err: error, failures: entry.since }, `output ${sink}: delivery failed (${entry.since} failure${entry.since === 1 ? '' : 's'} since the last report)`);
    entry.lastMs = now;
    entry.since = 0;
  };
}

/** Each rule diagnostic as a log line: errors as errors, the rest as warnings. */
function logDiagnostics(logger: Logger, diagnostics: readonly RuleDiagnostic[]): void {
  for (const d of diagnostics) {
    const fields = { code: d.code, file: d.file, line: d.line, column: d.column };
    if (d.severity === 'error') logger.error(fields, formatDiagnostic(d));
    else logger.warn(fields, formatDiagnostic(d));
  }
}

/** The capabilities that matter to the agent, as held by this process (CapEff). */
function heldCapabilities(): string[] {
  const caps = readPrivilegeFacts().effectiveCaps;
  const relevant: [number, string][] = [
    [CAP_DAC_READ_SEARCH, 'CAP_DAC_READ_SEARCH'],
    [CAP_NET_ADMIN, 'CAP_NET_ADMIN'],
    [CAP_SYS_PTRACE, 'CAP_SYS_PTRACE'],
    [CAP_SYS_NICE, 'CAP_SYS_NICE'],
  ];
  return relevant.filter(([bit]) => hasCap(caps, bit)).map(([, name]) => name);
}
