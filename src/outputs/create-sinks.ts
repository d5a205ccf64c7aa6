/** Builds the sinks an OutputsConfig describes, in a fixed order: stdout, file, syslog, webhook. */
import type { OutputsConfig } from './config.js';
import { FileSink } from './file-sink.js';
import type { RetryPolicy, SinkErrorHandler } from './queued-sink.js';
import type { Sink } from './sink.js';
import { StdoutSink } from './stdout-sink.js';
import { SyslogSink } from './syslog-sink.js';
import { WebhookSink } from './webhook-sink.js';

export interface SinkDeps {
  /** Where the stdout sink writes. Default process.stdout. */
  stdout?: NodeJS.WritableStream;
  /** HOSTNAME in syslog headers. Default os.hostname(). */
  hostname?: string;
  /** Told about every failed delivery (for the agent's log). */
  onError?: SinkErrorHandler;
  /** Backoff timing for every sink (tests shorten it). The webhook keeps its configured retries. */
  retry?: Partial<RetryPolicy>;
}

export function createSinks(cfg: OutputsConfig, deps: SinkDeps = {}): Sink[] {
  const common = { maxQueued: cfg.queue.maxDocuments, onError: deps.onError, retry: deps.retry };
  const sinks: Sink[] = [];
  if (cfg.stdout) sinks.push(new StdoutSink({ ...common, ...cfg.stdout, stream: deps.stdout }));
  if (cfg.file) sinks.push(new FileSink({ ...common, path: cfg.file.path, minSeverity: cfg.file.minSeverity }));
  if (cfg.syslog) sinks.push(new SyslogSink({ ...common, ...cfg.syslog, hostname: deps.hostname }));
  if (cfg.webhook) {
    const { url, timeoutMs, retries, concurrency, maxAgeMs, headers, caFile, minSeverity } = cfg.webhook;
    sinks.push(new WebhookSink({ ...common, url, timeoutMs, retries, concurrency, maxAgeMs, headers, caFile, minSeverity }));
  }
  return sinks;
}
