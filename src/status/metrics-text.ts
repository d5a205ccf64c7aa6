/**
 * Reads the agent's Prometheus text exposition (format 0.0.4, as src/agent/metrics.ts renders it)
 * back into samples, and picks out the counters `status` reports. Whatever answers on the
 * configured address is not necessarily the agent, so the text is untrusted: it is read within
 * fixed limits (bytes, samples, labels per sample, entries kept per counter), a line that does not
 * parse is counted and skipped, and label values are kept as data (printing escapes them).
 */

export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedMetrics {
  samples: MetricSample[];
  /** Lines that were neither comments nor valid samples. */
  malformed: number;
  /** True when the limits cut the text short. */
  truncated: boolean;
}

export interface MetricsTextLimits {
  maxChars: number;
  maxSamples: number;
  maxLabels: number;
}

export const DEFAULT_METRICS_TEXT_LIMITS: Readonly<MetricsTextLimits> = Object.freeze({
  maxChars: 1024 * 1024,
  maxSamples: 10_000,
  maxLabels: 16,
});

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const LABEL_ESCAPES: Record<string, string> = { '\\': '\\', '"': '"', n: '\n' };

function parseValue(text: string): number | null {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(text)) return null;
  return Number(text);
}

/** `{a="x",b="y"}` from `start` (at the `{`); returns the labels and the index after `}`, or null. */
function parseLabels(line: string, start: number, maxLabels: number): { labels: Record<string, string>; end: number } | null {
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  let count = 0;
  let i = start + 1;
  for (;;) {
    while (line[i] === ' ') i++;
    if (line[i] === '}') return { labels, end: i + 1 };
    const name = LABEL_NAME.exec(line.slice(i, i + 200))?.[0];
    if (name === undefined) return null;
    i += name.length;
    if (line[i] !== '=' || line[i + 1] !== '"') return null;
    i += 2;
    let value = '';
    for (;;) {
      const char = line[i];
      if (char === undefined) return null;
      if (char === '"') break;
      if (char === '\\') {
        const escaped = LABEL_ESCAPES[line[i + 1] ?? ''];
        if (escaped === undefined) return null;
        value += escaped;
        i += 2;
      } else {
        value += char;
        i += 1;
      }
    }
    i += 1;
    if (++count > maxLabels) return null;
    labels[name] = value;
    while (line[i] === ' ') i++;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') return null;
  }
}

function parseSample(line: string, maxLabels: number): MetricSample | null {
  const name = NAME.exec(line)?.[0];
  if (name === undefined) return null;
  let rest = name.length;
  let labels: Record<string, string> = Object.create(null) as Record<string, string>;
  if (line[rest] === '{') {
    const parsed = parseLabels(line, rest, maxLabels);
    if (parsed === null) return null;
    labels = parsed.labels;
    rest = parsed.end;
  }
  // The value, then an optional timestamp.
  const fields = line.slice(rest).trim().split(/\s+/);
  if (fields.length < 1 || fields.length > 2 || fields[0] === '') return null;
  const value = parseValue(fields[0]);
  if (value === null) return null;
  return { name, labels, value };
}

export function parseMetricsText(text: string, limits: MetricsTextLimits = DEFAULT_METRICS_TEXT_LIMITS): ParsedMetrics {
  let truncated = text.length > limits.maxChars;
  const body = truncated ? text.slice(0, limits.maxChars) : text;
  const samples: MetricSample[] = [];
  let malformed = 0;
  const lines = body.split('\n');
  // A cut text ends in a partial line: leave it out rather than count it as malformed.
  if (truncated) lines.pop();
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '' || line.startsWith('#')) continue;
    if (samples.length >= limits.maxSamples) {
      truncated = true;
      break;
    }
    const sample = parseSample(line, limits.maxLabels);
    if (sample === null) malformed++;
    else samples.push(sample);
  }
  return { samples, malformed, truncated };
}

/** The running agent's figures that `status` judges; null where the endpoint did not say. */
export interface AgentCounters {
  eventsByKind: Record<string, number>;
  lostByCause: Record<string, number>;
  snapshotFailures: Record<string, number>;
  outputDropped: Record<string, number>;
  alerts: number | null;
  realtime: boolean | null;
  rulesLoaded: number | null;
  reloadsFailed: number | null;
}

/** Entries kept per labelled counter: the agent has a handful; more means it is not the agent. */
export const MAX_ENTRIES_PER_COUNTER = 32;

const P = 'execwarden_';

function byLabel(samples: readonly MetricSample[], name: string, label: string): Record<string, number> {
  const entries: [string, number][] = [];
  for (const sample of samples) {
    if (sample.name !== name) continue;
    const key = sample.labels[label];
    if (key === undefined || !Number.isFinite(sample.value)) continue;
    if (entries.length >= MAX_ENTRIES_PER_COUNTER) break;
    entries.push([key, sample.value]);
  }
  // fromEntries defines own properties, so a label such as "__proto__" stays a plain key.
  return Object.fromEntries(entries);
}

function single(samples: readonly MetricSample[], name: string, labels: Record<string, string> = {}): number | null {
  const found = samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Number.isFinite(s.value),
  );
  return found === undefined ? null : found.value;
}

export function agentCounters(samples: readonly MetricSample[]): AgentCounters {
  const realtime = single(samples, `${P}realtime`);
  return {
    eventsByKind: byLabel(samples, `${P}events_total`, 'kind'),
    lostByCause: byLabel(samples, `${P}events_lost_total`, 'cause'),
    snapshotFailures: byLabel(samples, `${P}snapshot_failures_total`, 'reason'),
    outputDropped: byLabel(samples, `${P}output_dropped_total`, 'output'),
    alerts: single(samples, `${P}alerts_total`),
    realtime: realtime === null ? null : realtime === 1,
    rulesLoaded: single(samples, `${P}rules_loaded`),
    reloadsFailed: single(samples, `${P}reloads_total`, { result: 'failed' }),
  };
}

/** True when the text came from an execwarden agent at all (it always exports events_total). */
export function looksLikeAgent(samples: readonly MetricSample[]): boolean {
  return samples.some((s) => s.name === `${P}events_total` || s.name === `${P}rules_loaded`);
}
