/**
 * The `[outputs]` table of the agent's TOML config, checked key by key into typed options.
 * Every problem is collected with its key path (`outputs.webhook.timeout_ms: expected a positive
 * integer`) and reported together in one OutputsConfigError, so one start-up attempt shows them
 * all. With no sink table at all (no `[outputs]`, or only `[outputs.queue]`), alerts go to stdout
 * as NDJSON: a fresh machine needs no configuration.
 *
 *   [outputs.stdout]  format = "ndjson" | "pretty", color = "auto" | "always" | "never"
 *   [outputs.file]    path (absolute)
 *   [outputs.syslog]  transport = "unix" | "unix-stream" | "udp" | "tcp", path (unix*, default
 *                     /dev/log), host + port (udp/tcp, default 127.0.0.1:514), facility (default auth)
 *   [outputs.webhook] url (http/https), timeout_ms (5000), retries (5), headers = { Name = "value" },
 *                     ca_file (extra trusted CA, PEM)
 *   [outputs.queue]   max_documents (10000, per sink)
 *
 * Every sink table also takes min_severity = "low" | "medium" | "high" | "critical" (default low:
 * every alert): alerts below it are not sent to that output, and counted (severity.ts).
 */
import { isAbsolute } from 'node:path';
import { isTable, TableReader, type Table } from '../config-table.js';
import { OutputsConfigError } from './errors.js';
import { DEFAULT_QUEUE_SIZE } from './queued-sink.js';
import type { ColorMode, StdoutFormat } from './stdout-sink.js';
import { DEFAULT_MIN_SEVERITY, MIN_SEVERITIES, type MinSeverity } from './severity.js';
import { DEFAULT_SYSLOG_FACILITY, DEFAULT_SYSLOG_HOST, DEFAULT_SYSLOG_PATH, DEFAULT_SYSLOG_PORT, SYSLOG_FACILITIES } from './syslog-format.js';
import type { SyslogTransportKind } from './syslog-sink.js';
import { DEFAULT_WEBHOOK_CONCURRENCY, DEFAULT_WEBHOOK_MAX_AGE_MS, DEFAULT_WEBHOOK_RETRIES, DEFAULT_WEBHOOK_TIMEOUT_MS } from './webhook-defaults.js';

/** What every output takes: alerts of at least this severity (other documents always). */
export interface OutputFilterConfig {
  minSeverity: MinSeverity;
}

export interface StdoutOutputConfig extends OutputFilterConfig {
  format: StdoutFormat;
  color?: ColorMode;
}

export interface FileOutputConfig extends OutputFilterConfig {
  path: string;
}

export type SyslogOutputConfig = OutputFilterConfig &
  (
    | { transport: 'unix' | 'unix-stream'; path: string; facility: string }
    | { transport: 'udp' | 'tcp'; host: string; port: number; facility: string }
  );

export interface WebhookOutputConfig extends OutputFilterConfig {
  url: string;
  timeoutMs: number;
  retries: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Undelivered documents older than this are dropped as expired. */
  maxAgeMs: number;
  headers: Record<string, string>;
  caFile?: string;
}

export interface OutputsConfig {
  stdout?: StdoutOutputConfig;
  file?: FileOutputConfig;
  syslog?: SyslogOutputConfig;
  webhook?: WebhookOutputConfig;
  queue: { maxDocuments: number };
}

export const MAX_QUEUE_DOCUMENTS = 10_000_000;
const MAX_TIMEOUT_MS = 600_000;
const MAX_RETRIES = 100;
const SYSLOG_TRANSPORTS: readonly SyslogTransportKind[] = ['unix', 'unix-stream', 'udp', 'tcp'];
/** RFC 9110 token characters for header names. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII, space, tab and non-ASCII; no CR, LF or other controls. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\uffff]*$/;

function readMinSeverity(reader: TableReader): MinSeverity {
  return reader.choice('min_severity', MIN_SEVERITIES, DEFAULT_MIN_SEVERITY);
}

function readStdout(reader: TableReader): StdoutOutputConfig {
  const config: StdoutOutputConfig = { format: reader.choice('format', ['ndjson', 'pretty'] as const, 'ndjson'), minSeverity: readMinSeverity(reader) };
  if (reader.has('color')) config.color = reader.choice('color', ['auto', 'always', 'never'] as const, 'auto');
  reader.done();
  return config;
}

function readFile(reader: TableReader): FileOutputConfig | undefined {
  const path = reader.string('path');
  const minSeverity = readMinSeverity(reader);
  reader.done();
  if (path === undefined) {
    if (!reader.has('path')) reader.fail('path', 'required');
    return undefined;
  }
  if (!isAbsolute(path)) {
    reader.fail('path', 'expected an absolute path');
    return undefined;
  }
  return { path, minSeverity };
}

function readSyslog(reader: TableReader): SyslogOutputConfig | undefined {
  const transport = reader.choice('transport', SYSLOG_TRANSPORTS, 'unix');
  const minSeverity = readMinSeverity(reader);
  const facility = reader.string('facility', DEFAULT_SYSLOG_FACILITY);
  if (SYSLOG_FACILITIES[facility] === undefined) {
    reader.fail('facility', `unknown facility "${facility}" (expected one of ${Object.keys(SYSLOG_FACILITIES).join(', ')})`);
  }
  const isUnix = transport === 'unix' || transport === 'unix-stream';
  for (const key of isUnix ? ['host', 'port'] : ['path']) {
    if (reader.has(key)) {
      reader.raw(key);
      reader.fail(key, `not used with transport "${transport}"`);
    }
  }
  let config: SyslogOutputConfig;
  if (isUnix) {
    const path = reader.string('path', DEFAULT_SYSLOG_PATH);
    if (!isAbsolute(path)) reader.fail('path', 'expected an absolute path');
    config = { transport, path, facility, minSeverity };
  } else {
    const host = reader.string('host', DEFAULT_SYSLOG_HOST);
    const port = reader.integer('port', DEFAULT_SYSLOG_PORT, 1, 65_535, 'a port number (1-65535)');
    config = { transport, host, port, facility, minSeverity };
  }
  reader.done();
  return config;
}

function readHeaders(reader: TableReader): Record<string, string> {
  const headers: Record<string, string> = {};
  const table = reader.sub('headers');
  if (!table) return headers;
  for (const name of table.keys()) {
    const text = table.raw(name);
    if (!HEADER_NAME.test(name)) table.fail(name, 'not a valid HTTP header name');
    else if (['content-type', 'content-length', 'host', 'transfer-encoding'].includes(name.toLowerCase())) {
      table.fail(name, 'set by the agent, cannot be configured');
    } else if (typeof text !== 'string' || !HEADER_VALUE.test(text)) {
      table.fail(name, 'expected a string without control characters');
    } else headers[name] = text;
  }
  return headers;
}

function readWebhook(reader: TableReader): WebhookOutputConfig | undefined {
  const url = reader.string('url');
  let valid = url !== undefined;
  if (url === undefined && !reader.has('url')) reader.fail('url', 'required');
  if (url !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      reader.fail('url', 'expected an http:// or https:// URL');
      valid = false;
    }
  }
  const timeoutMs = reader.integer('timeout_ms', DEFAULT_WEBHOOK_TIMEOUT_MS, 1, MAX_TIMEOUT_MS, `a positive integer (at most ${MAX_TIMEOUT_MS})`);
  const retries = reader.integer('retries', DEFAULT_WEBHOOK_RETRIES, 0, MAX_RETRIES, `an integer from 0 to ${MAX_RETRIES}`);
  const concurrency = reader.integer('concurrency', DEFAULT_WEBHOOK_CONCURRENCY, 1, 64, 'an integer from 1 to 64');
  const maxAgeSeconds = reader.integer('max_age_seconds', DEFAULT_WEBHOOK_MAX_AGE_MS / 1000, 1, 7 * 86_400, 'an integer from 1 to 604800');
  const headers = readHeaders(reader);
  const minSeverity = readMinSeverity(reader);
  const caFile = reader.string('ca_file');
  if (caFile !== undefined && !isAbsolute(caFile)) reader.fail('ca_file', 'expected an absolute path');
  reader.done();
  if (!valid || url === undefined) return undefined;
  return { url, timeoutMs, retries, concurrency, maxAgeMs: maxAgeSeconds * 1000, headers, minSeverity, ...(caFile !== undefined ? { caFile } : {}) };
}

/**
 * Validates the `[outputs]` table (`{}` or undefined when the config has none). Throws an
 * OutputsConfigError (code CONFIG_INVALID) listing every problem with its key path.
 */
export function parseOutputsConfig(table: unknown, keyPrefix = 'outputs'): OutputsConfig {
  const issues: string[] = [];
  if (table !== undefined && !isTable(table)) throw new OutputsConfigError([`${keyPrefix}: expected a table`]);
  const root = new TableReader(table ?? {}, keyPrefix, issues);
  const config: OutputsConfig = { queue: { maxDocuments: DEFAULT_QUEUE_SIZE } };

  const stdout = root.sub('stdout');
  if (stdout) config.stdout = readStdout(stdout);
  const file = root.sub('file');
  const fileConfig = file && readFile(file);
  if (fileConfig) config.file = fileConfig;
  const syslog = root.sub('syslog');
  const syslogConfig = syslog && readSyslog(syslog);
  if (syslogConfig) config.syslog = syslogConfig;
  const webhook = root.sub('webhook');
  const webhookConfig = webhook && readWebhook(webhook);
  if (webhookConfig) config.webhook = webhookConfig;
  const queue = root.sub('queue');
  if (queue) {
    config.queue.maxDocuments = queue.integer('max_documents', DEFAULT_QUEUE_SIZE, 1, MAX_QUEUE_DOCUMENTS, `a positive integer (at most ${MAX_QUEUE_DOCUMENTS})`);
    queue.done();
  }
  root.done();

  if (issues.length > 0) throw new OutputsConfigError(issues);
  const source: Table = table ?? {};
  const anySink = ['stdout', 'file', 'syslog', 'webhook'].some((key) => source[key] !== undefined);
  if (!anySink) config.stdout = { format: 'ndjson', minSeverity: DEFAULT_MIN_SEVERITY };
  return config;
}
