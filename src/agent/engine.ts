/**
 * The detection engine: raw proc-connector events in, ECS events and alerts out. It owns the
 * process-event stream (table + ECS builder), the rule set and the alert throttle, and nothing
 * else: no clock but the one it is given, no I/O. `run`, the lab, the benchmark and the tests
 * drive this same object; only what feeds it and what it emits into differ.
 *
 * Rules can be swapped (SIGHUP reload) between batches; sequence state starts over with the new
 * set, which is the honest choice when the set itself may have changed.
 */
import { buildAlert, type AlertDocument, type AlertThrottle } from '../alerts/index.js';
import type { RawEvent } from '../capture/raw-event.js';
import type { Clock } from '../clock.js';
import { ALL_PROCESS_ACTIONS, PROCESS_EVENT_SHAPES, type EcsProcessEvent, type ProcessEventStream } from '../ecs/index.js';
import type { RuleSet } from '../rules/index.js';
import type { Responder } from '../response/kill-response.js';
import { LatencyWindow } from './latency.js';

export type EngineDocument = EcsProcessEvent | AlertDocument | Record<string, unknown>;

export interface EngineEmitter {
  event(doc: EcsProcessEvent): void;
  alert(doc: AlertDocument): void;
}

export interface EngineOptions {
  stream: ProcessEventStream;
  rules: RuleSet;
  throttle: AlertThrottle;
  clock: Clock;
  /** Also emit every ECS process event (not only alerts). */
  emitEvents: boolean;
  /** Performs kill responses (live capture with [response] kill_process only). */
  responder?: Responder;
}

export interface EngineStats {
  rawEvents: number;
  documents: number;
  alerts: number;
  /** Rule evaluations that threw for an event, and events the process stream could not handle. */
  failedEvents: number;
  /** Milliseconds from the matched event's kernel time to the alert leaving the engine. */
  alertLatencyMs: { count: number; p50: number; p99: number; max: number };
  /**
   * Partial sequences pushed out by the open-sequence cap, over every rule set this engine ran:
   * each one is a sequence that can no longer complete, so a flood of first stages (10,000
   * `mkfifo`s) cannot silently turn a sequence rule off.
   */
  sequenceEvictions: number;
  /** Kill responses attempted, by result (all zero when the response is off). */
  responses: { attempts: number; byResult: Record<string, number> };
}

export class Engine {
  private rules: RuleSet;
  private readonly stream: ProcessEventStream;
  private readonly throttle: AlertThrottle;
  private readonly clock: Clock;
  private readonly emitEvents: boolean;
  private readonly responder: Responder | undefined;
  private readonly latency = new LatencyWindow(4096);
  private readonly counters = { rawEvents: 0, documents: 0, alerts: 0, failedEvents: 0 };
  private evictionsOfEarlierSets = 0;

  constructor(options: EngineOptions) {
    this.stream = options.stream;
    this.rules = options.rules;
    this.throttle = options.throttle;
    this.clock = options.clock;
    this.emitEvents = options.emitEvents;
    this.responder = options.responder;
    this.documentOnlyWhatRulesRead();
  }

  get ruleSet(): RuleSet {
    return this.rules;
  }

  setRules(rules: RuleSet): void {
    this.evictionsOfEarlierSets += evictionsOf(this.rules);
    this.rules = rules;
    this.documentOnlyWhatRulesRead();
  }

  /**
   * Unless events are written out, a document is built only for actions some rule could match
   * (a fork or an end that no rule reads costs its table update, not an ECS document), and of
   * those only for events that some rule could take by their names (the stream's gate: an exec
   * of a compiler when no rule reads compilers costs its table update and a probe).
   */
  private documentOnlyWhatRulesRead(): void {
    this.stream.setActions(this.emitEvents ? ALL_PROCESS_ACTIONS : this.rules.shapesMatched(PROCESS_EVENT_SHAPES));
    const rules = this.rules;
    this.stream.setGate(this.emitEvents || !rules.gates ? null : (probe) => rules.mayOffer(probe));
  }

  /**
   * Handles one batch in order; everything it produces goes to `emit` before it returns. With
   * `release`, each event is dropped from the batch once handled: a batch of execs with long argv
   * otherwise holds every snapshot until its last event is done (tens of megabytes that the
   * garbage collector then promotes and keeps as heap).
   */
  handleBatch(batch: readonly RawEvent[] | (RawEvent | undefined)[], emit: EngineEmitter, release = false): void {
    for (let i = 0; i < batch.length; i++) {
      this.handle(batch[i]!, emit);
      if (release) (batch as (RawEvent | undefined)[])[i] = undefined;
    }
  }

  handle(raw: RawEvent, emit: EngineEmitter): void {
    this.counters.rawEvents++;
    let doc: EcsProcessEvent | null;
    try {
      doc = this.stream.handle(raw);
    } catch {
      // A malformed raw event (or a bug) must not stop the stream; it is counted and surfaced.
      this.counters.failedEvents++;
      return;
    }
    // Processes a rescan after a loss found undescribed are judged like any exec.
    for (const recovered of this.stream.takeRecovered()) this.evaluate(recovered, emit);
    if (doc !== null) this.evaluate(doc, emit);
  }

  private evaluate(doc: EcsProcessEvent, emit: EngineEmitter): void {
    this.counters.documents++;
    if (this.emitEvents) emit.event(doc);
    const matches = this.rules.evaluate(doc as unknown as Record<string, unknown>);
    for (const match of matches) {
      // Responses come first, and whether or not flood control then holds the alert back.
      const responses = this.responder?.respond(match) ?? [];
      const built = buildAlert(match, this.clock);
      if (responses.length > 0) built.execwarden = { ...built.execwarden, response: responses };
      const alert = this.throttle.offer(built);
      if (alert === null) continue;
      this.counters.alerts++;
      const eventMs = Date.parse(String((match.events[match.events.length - 1] as { '@timestamp'?: unknown })['@timestamp']));
      if (Number.isFinite(eventMs)) this.latency.add(this.clock.nowMs() - eventMs);
      emit.alert(alert);
    }
  }

  /**
   * Summaries of the alerts flood control held back, for rules whose window has closed (all of
   * them when `all`, as the agent stops): the latest occurrence, with the count and the times.
   */
  flushThrottled(emit: EngineEmitter, all = false): void {
    for (const summary of all ? this.throttle.drainAll() : this.throttle.drain()) {
      const latest = summary.latest;
      const firstSeen = new Date(summary.firstSeenMs).toISOString();
      const lastSeen = new Date(summary.lastSeenMs).toISOString();
      const times = summary.suppressed === 1 ? 'once more' : `${summary.suppressed} more times`;
      emit.alert({
        ...latest,
        '@timestamp': lastSeen,
        message: `${latest.message} (held back by flood control: ${times} between ${firstSeen} and ${lastSeen}; this is the latest)`,
        execwarden: { ...latest.execwarden, throttle: { suppressed: summary.suppressed, first_seen: firstSeen, last_seen: lastSeen } },
      });
    }
  }

  resync(): void {
    this.stream.resync();
  }

  stats(): EngineStats {
    return {
      ...this.counters,
      alertLatencyMs: this.latency.summary(),
      sequenceEvictions: this.evictionsOfEarlierSets + evictionsOf(this.rules),
      responses: this.responder?.stats() ?? { attempts: 0, byResult: {} },
    };
  }
}

function evictionsOf(rules: RuleSet): number {
  let total = 0;
  for (const stats of Object.values(rules.stats().sequences)) total += stats.evicted;
  return total;
}
