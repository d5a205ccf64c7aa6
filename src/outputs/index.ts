/** The outputs module's public surface. */
export type { Sink, SinkStats } from './sink.js';
export {
  parseOutputsConfig, type OutputsConfig, type OutputFilterConfig, type StdoutOutputConfig, type FileOutputConfig, type SyslogOutputConfig, type WebhookOutputConfig,
} from './config.js';
export { createSinks, type SinkDeps } from './create-sinks.js';
export { SinkFanout, type FanoutStats } from './sink-fanout.js';
export { OutputsConfigError, SinkStartError, DeliveryRejectedError } from './errors.js';
export { StdoutSink, useColor, type StdoutSinkOptions, type StdoutFormat, type ColorMode } from './stdout-sink.js';
export { FileSink, type FileSinkOptions } from './file-sink.js';
export { SyslogSink, type SyslogSinkOptions, type SyslogTransportKind } from './syslog-sink.js';
export { WebhookSink, type WebhookSinkOptions } from './webhook-sink.js';
export { QueuedSink, DEFAULT_RETRY, DEFAULT_QUEUE_SIZE, DEFAULT_DRAIN_MS, type RetryPolicy, type SinkErrorHandler } from './queued-sink.js';
export { formatAlertPretty, formatEventPretty, formatPretty, type PrettyOptions } from './pretty-format.js';
export { terminalSafe } from './terminal-text.js';
export { toJsonLine } from './json-line.js';
export { severityOf, meetsMinSeverity, MIN_SEVERITIES, DEFAULT_MIN_SEVERITY, type SeverityLevel, type MinSeverity } from './severity.js';
