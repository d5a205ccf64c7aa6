/**
 * Builds the sinks an OutputsConfig describes, in a fixed order: stdout, file, syslog, webhook.
 * Each sink's module is loaded only when it is configured: the webhook's brings http, https and
 * TLS (about 4 MiB of resident memory) into an agent that may never send a request.
 */
import type { OutputsConfig } from './config.js';
import type { RetryPolicy, SinkErrorHandler } from './queued-sink.js';
import type { Sink } from './sink.js';

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

export async function createSinks(cfg: OutputsConfig, deps: SinkDeps = {}): Promise<Sink[]> {
  const common = { maxQueued: cfg.queue.maxDocuments, onError: deps.onError, retry: deps.retry };
  const sinks: Sink[] = [];
  if (cfg.stdout) {
    const { StdoutSink } = await import('./stdout-sink.js');
    sinks.push(new StdoutSink({ ...common, ...cfg.stdout, stream: deps.stdout }));
  }
  if (cfg.file) {
    const { FileSink } = await import('./file-sink.js');
    sinks.push(new FileSink({ ...common, path: cfg.file.path, minSeverity: cfg.file.minSeverity }));
  }
  if (cfg.syslog) {
    const { SyslogSink } = await import('./syslog-sink.js');
    sinks.push(new SyslogSink({ ...common, ...cfg.syslog, hostname: deps.hostname }));
  }
  if (cfg.webhook) {
    const { WebhookSink } = await import('./webhook-sink.js');
    const { url, timeoutMs, retries, concurrency, maxAgeMs, headers, caFile, minSeverity } = cfg.webhook;
    sinks.push(new WebhookSink({ ...common, url, timeoutMs, retries, concurrency, maxAgeMs, headers, caFile, minSeverity }));
  }
  return sinks;
}
