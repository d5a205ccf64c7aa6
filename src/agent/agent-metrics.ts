/** The agent's health figures as Prometheus metrics, gathered from the counters each part keeps. */
import type { CaptureStats } from '../capture/raw-event.js';
import type { ProcessEventStreamStats } from '../ecs/index.js';
import type { FanoutStats } from '../outputs/index.js';
import type { RuleSet } from '../rules/index.js';
import type { EngineStats } from './engine.js';
import type { Metric } from './metrics.js';
import { RESPONSE_RESULTS } from '../response/kill-response.js';

export interface AgentMetricInputs {
  capture: CaptureStats;
  engine: EngineStats;
  stream: ProcessEventStreamStats;
  rules: RuleSet;
  outputs: FanoutStats;
  evaluation: { batches: number; events: number; nanoseconds: bigint };
  reloads: { ok: number; failed: number };
}

const P = 'execwarden_';

function one(name: string, help: string, type: Metric['type'], value: number): Metric {
  return { name: P + name, help, type, samples: [{ value }] };
}

export function collectAgentMetrics(input: AgentMetricInputs): Metric[] {
  const { capture, engine, stream, outputs } = input;
  const ruleStats = input.rules.stats();
  const names = new Map(input.rules.rules.map((rule) => [rule.ruleId, rule.name]));
  return [
    {
      name: `${P}events_total`,
      help: 'Proc connector events received, by kind.',
      type: 'counter',
      samples: Object.entries(capture.eventsByKind).map(([kind, value]) => ({ labels: { kind }, value })),
    },
    {
      name: `${P}events_lost_total`,
      help: 'Events lost, by cause: kernel buffer overflows (each hides an unknown number), sequence gaps, events dropped between the reader thread and JS, partial sequences evicted by the open-sequence cap.',
      type: 'counter',
      samples: [
        { labels: { cause: 'overflow' }, value: capture.overflows },
        { labels: { cause: 'sequence_gap' }, value: capture.sequenceGaps },
        { labels: { cause: 'batch_dropped' }, value: capture.eventsDropped },
        { labels: { cause: 'sequence_evicted' }, value: engine.sequenceEvictions },
      ],
    },
    one('cmdlines_kept_short_total', 'Exec command lines cut to their head and end (twice the tail bytes) while the batches waiting for JS held more than their threshold (also those the full cap would have cut).', 'counter', capture.cmdlinesKeptShort ?? 0),
    one('queued_bytes', 'Bytes of captured events handed to JS and not yet taken (bounded; past the bound, batches are dropped and counted as lost).', 'gauge', capture.queuedBytes ?? 0),
    one('messages_rejected_total', 'Netlink messages refused (not from the kernel, or malformed).', 'counter', capture.messagesRejected),
    one('execs_ahead_of_rest_total', 'Execs read while a flood of other events kept their socket from being emptied first: their forks may come after them.', 'counter', capture.execsAheadOfRest ?? 0),
    {
      name: `${P}snapshot_failures_total`,
      help: 'Exec snapshots of /proc/<pid> with failed reads: partial, or the process was already gone.',
      type: 'counter',
      samples: [
        { labels: { reason: 'partial' }, value: capture.snapshotsPartial },
        { labels: { reason: 'gone' }, value: capture.snapshotsGone },
        { labels: { reason: 'stale' }, value: capture.snapshotsStale },
      ],
    },
    {
      name: `${P}stdio_socket_lookups_total`,
      help: 'Sockets on standard streams looked up at exec, by outcome: answered from the cache, a listing of /proc/<pid>/net scanned, or left unresolved because the scan time budget was spent.',
      type: 'counter',
      samples: [
        { labels: { outcome: 'cached' }, value: capture.socketCacheHits ?? 0 },
        { labels: { outcome: 'scanned' }, value: capture.socketListingScans ?? 0 },
        { labels: { outcome: 'over_budget' }, value: capture.socketLookupsOverBudget ?? 0 },
      ],
    },
    one('receive_buffer_bytes', 'Socket receive buffer granted by the kernel.', 'gauge', capture.receiveBufferBytes),
    one('realtime', '1 when the reader thread runs SCHED_FIFO.', 'gauge', capture.realtime ? 1 : 0),
    one('process_table_size', 'Processes held in the process table (live and recently exited).', 'gauge', stream.table.size),
    one('process_table_evictions_total', 'Process table entries evicted by the size cap.', 'counter', stream.table.evictions + stream.table.evictionsLive),
    one('process_table_kept_bytes', "What the process table's images hold, as its byte budget counts it (an upper estimate).", 'gauge', stream.table.keptBytes),
    one('process_table_leaned_total', 'Live processes whose kept image was cut down because the byte budget was spent.', 'counter', stream.table.leaned),
    one('resyncs_total', 'Rescans of /proc after a loss.', 'counter', stream.resyncs),
    one('documents_total', 'ECS process documents built.', 'counter', engine.documents),
    one('events_not_documented_total', 'Process events of an action the rules read whose document was not built: by their names, no rule could take them.', 'counter', stream.notDocumented),
    one('failed_events_total', 'Raw events the engine could not turn into a document.', 'counter', engine.failedEvents),
    one('rules_loaded', 'Rules in the running rule set.', 'gauge', input.rules.size),
    {
      name: `${P}rule_matches_total`,
      help: 'Rule matches, by rule (before de-duplication; exceptions already applied).',
      type: 'counter',
      samples: Object.entries(ruleStats.matchesByRule).map(([id, value]) => ({ labels: { rule_id: id, rule_name: names.get(id) ?? id }, value })),
    },
    one('rule_suppressed_total', 'Matches suppressed by the exceptions file.', 'counter', ruleStats.suppressed),
    one('rule_errors_total', 'Rule evaluations that failed on an event.', 'counter', ruleStats.errors),
    one('alerts_total', 'Alerts written (after de-duplication).', 'counter', engine.alerts),
    {
      name: `${P}responses_total`,
      help: `Kill responses attempted ([response] kill_process), by result: ${RESPONSE_RESULTS.join(', ')}.`,
      type: 'counter',
      samples: RESPONSE_RESULTS.map((result) => ({ labels: { result }, value: engine.responses.byResult[result] ?? 0 })),
    },
    one('evaluation_seconds_total', 'Time spent turning raw events into documents and evaluating rules.', 'counter', Number(input.evaluation.nanoseconds) / 1e9),
    one('evaluated_events_total', 'Raw events handed to the engine.', 'counter', input.evaluation.events),
    {
      name: `${P}alert_latency_milliseconds`,
      help: 'From the matched event (kernel time) to the alert leaving the engine, over recent alerts.',
      type: 'gauge',
      samples: [
        { labels: { quantile: '0.5' }, value: engine.alertLatencyMs.p50 },
        { labels: { quantile: '0.99' }, value: engine.alertLatencyMs.p99 },
        { labels: { quantile: '1' }, value: engine.alertLatencyMs.max },
      ],
    },
    {
      name: `${P}output_queue_depth`,
      help: 'Documents waiting in each output queue.',
      type: 'gauge',
      samples: outputs.sinks.map((s) => ({ labels: { output: s.name }, value: s.queued })),
    },
    {
      name: `${P}output_written_total`,
      help: 'Documents delivered, by output.',
      type: 'counter',
      samples: outputs.sinks.map((s) => ({ labels: { output: s.name }, value: s.written })),
    },
    {
      name: `${P}output_dropped_total`,
      help: 'Documents an output had to drop (queue full or gave up after retries).',
      type: 'counter',
      samples: outputs.sinks.map((s) => ({ labels: { output: s.name }, value: s.dropped })),
    },
    {
      name: `${P}output_filtered_total`,
      help: "Alerts an output left out on purpose: below its min_severity (not a loss).",
      type: 'counter',
      samples: outputs.sinks.map((s) => ({ labels: { output: s.name }, value: s.filtered ?? 0 })),
    },
    {
      name: `${P}reloads_total`,
      help: 'SIGHUP reloads, by result.',
      type: 'counter',
      samples: [
        { labels: { result: 'ok' }, value: input.reloads.ok },
        { labels: { result: 'failed' }, value: input.reloads.failed },
      ],
    },
  ];
}
