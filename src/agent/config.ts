/**
 * The agent's settings: defaults, overlaid by the TOML config file (if any), overlaid by the
 * command line. Every key is checked: an unknown key or a value of the wrong type or range stops
 * start-up with a ConfigError naming the file and the key path, because a security agent that
 * silently ignores a misspelt `[outputs.webhok]` would run without the output its owner relies on.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseToml, TomlError } from 'smol-toml';
import { ExecwardenError } from '../errors.js';
import { parseOutputsConfig, type OutputsConfig } from '../outputs/config.js';

export const DEFAULT_CONFIG_PATH = '/etc/execwarden/config.toml';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface AgentConfig {
  /** The config file that was read, or null when running on defaults. */
  file: string | null;
  rules: { paths: string[]; exceptions: string | null };
  capture: { receiveBufferBytes: number; realtime: boolean; events: boolean };
  processTable: { maxEntries: number; exitedTtlMs: number };
  alerts: { dedupWindowMs: number };
  metrics: { listen: ListenAddress | null };
  outputs: OutputsConfig;
}

/** Command-line settings; each one, when given, wins over the file. */
export interface ConfigOverrides {
  config?: string;
  rules?: string[];
  exceptions?: string;
  pretty?: boolean;
  events?: boolean;
  metrics?: string;
  receiveBuffer?: number;
  realtime?: boolean;
  maxProcesses?: number;
}

export class ConfigError extends ExecwardenError {
  constructor(message: string) {
    super('CONFIG_INVALID', message);
  }
}

const DEFAULTS = {
  receiveBufferBytes: 8 * 1024 * 1024,
  maxEntries: 32_768,
  exitedTtlSeconds: 30,
  dedupWindowSeconds: 60,
} as const;

type Table = Record<string, unknown>;

/** Reads one table's keys in a checked way; `done()` rejects whatever was not read. */
class TableReader {
  private readonly seen = new Set<string>();

  constructor(
    private readonly values: Table,
    private readonly path: string,
    private readonly where: string,
  ) {}

  private keyPath(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  private fail(key: string, problem: string): never {
    throw new ConfigError(`${this.where}: ${this.keyPath(key)}: ${problem}`);
  }

  private take(key: string): unknown {
    this.seen.add(key);
    return this.values[key];
  }

  bool(key: string, fallback: boolean): boolean {
    const value = this.take(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') this.fail(key, 'expected true or false');
    return value;
  }

  int(key: string, fallback: number, min: number, max: number): number {
    const value = this.take(key);
    if (value === undefined) return fallback;
    const n = typeof value === 'bigint' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      this.fail(key, `expected an integer from ${min} to ${max}`);
    }
    return n;
  }

  string(key: string, fallback: string): string {
    const value = this.take(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'string') this.fail(key, 'expected a string');
    return value;
  }

  strings(key: string, fallback: string[]): string[] {
    const value = this.take(key);
    if (value === undefined) return fallback;
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
      this.fail(key, 'expected an array of strings');
    }
    return value as string[];
  }

  child(key: string): TableReader {
    const value = this.take(key);
    if (value === undefined) return new TableReader({}, this.keyPath(key), this.where);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.fail(key, 'expected a table');
    }
    return new TableReader(value as Table, this.keyPath(key), this.where);
  }

  raw(key: string): unknown {
    return this.take(key);
  }

  done(): void {
    for (const key of Object.keys(this.values)) {
      if (!this.seen.has(key)) this.fail(key, 'unknown setting');
    }
  }
}

/** Parses "host:port" (IPv6 as "[::1]:9464"). */
export function parseListenAddress(text: string, where: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65_535) {
    throw new ConfigError(`${where}: expected host:port (e.g. 127.0.0.1:9464), got '${text}'`);
  }
  return { host: (match[1] ?? match[2]) as string, port };
}

function readConfigFile(path: string): Table {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError(`${path}: cannot read the config file (${reason})`);
  }
  try {
    return parseToml(text) as Table;
  } catch (error) {
    if (error instanceof TomlError) {
      const first = error.message.split('\n')[0];
      throw new ConfigError(`${path}:${error.line}:${error.column}: ${first}`);
    }
    throw error;
  }
}

/**
 * Builds the effective configuration. The default file is read only when it exists; a file named
 * with --config must exist.
 */
export function loadAgentConfig(overrides: ConfigOverrides = {}, defaultPath = DEFAULT_CONFIG_PATH): AgentConfig {
  let file: string | null = null;
  let table: Table = {};
  if (overrides.config !== undefined) {
    file = overrides.config;
    table = readConfigFile(file);
  } else if (existsSync(defaultPath)) {
    file = defaultPath;
    table = readConfigFile(file);
  }
  return resolveConfig(table, file, overrides);
}

/** Applies defaults, the parsed file table and the overrides; exported for tests. */
export function resolveConfig(table: Table, file: string | null, overrides: ConfigOverrides = {}): AgentConfig {
  const where = file ?? 'config';
  const root = new TableReader(table, '', where);
  const sub = (key: string): TableReader => root.child(key);

  const rules = sub('rules');
  const rulePaths = rules.strings('paths', []);
  const exceptions = rules.string('exceptions', '');
  rules.done();

  const capture = sub('capture');
  const receiveBufferBytes = capture.int('receive_buffer_bytes', DEFAULTS.receiveBufferBytes, 4096, 1 << 30);
  const realtime = capture.bool('realtime', true);
  const events = capture.bool('events', false);
  capture.done();

  const processTable = sub('process_table');
  const maxEntries = processTable.int('max_entries', DEFAULTS.maxEntries, 256, 4_194_304);
  const exitedTtlSeconds = processTable.int('exited_ttl_seconds', DEFAULTS.exitedTtlSeconds, 1, 86_400);
  processTable.done();

  const alerts = sub('alerts');
  const dedupWindowSeconds = alerts.int('dedup_window_seconds', DEFAULTS.dedupWindowSeconds, 0, 86_400);
  alerts.done();

  const metrics = sub('metrics');
  const listen = metrics.string('listen', '');
  metrics.done();

  const outputsTable = root.raw('outputs');
  root.done();

  let outputs: OutputsConfig;
  try {
    outputs = parseOutputsConfig(outputsTable ?? {}, 'outputs');
  } catch (error) {
    if (error instanceof ExecwardenError) throw new ConfigError(`${where}: ${error.message}`);
    throw error;
  }
  if (overrides.pretty) outputs = { ...outputs, stdout: { ...(outputs.stdout ?? {}), format: 'pretty' } };

  const metricsText = overrides.metrics ?? listen;
  return {
    file,
    rules: {
      paths: overrides.rules && overrides.rules.length > 0 ? overrides.rules : rulePaths,
      exceptions: overrides.exceptions ?? (exceptions === '' ? null : exceptions),
    },
    capture: {
      receiveBufferBytes: overrides.receiveBuffer ?? receiveBufferBytes,
      realtime: overrides.realtime ?? realtime,
      events: overrides.events ?? events,
    },
    processTable: {
      maxEntries: overrides.maxProcesses ?? maxEntries,
      exitedTtlMs: exitedTtlSeconds * 1000,
    },
    alerts: { dedupWindowMs: dedupWindowSeconds * 1000 },
    metrics: {
      listen: metricsText === '' ? null : parseListenAddress(metricsText, overrides.metrics ? '--metrics' : `${where}: metrics.listen`),
    },
    outputs,
  };
}
