/**
 * The agent's settings: defaults, overlaid by the TOML config file (if any), overlaid by the
 * command line. Every key is checked: an unknown key or a value of the wrong type or range stops
 * start-up with a ConfigError naming the file and the key path, because a security agent that
 * silently ignores a misspelt `[outputs.webhok]` would run without the output its owner relies on.
 */
import { DEFAULT_ENV_VARS, ENV_NAMES_MAX, envNameProblem } from '../process/environment.js';
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { ExecwardenError } from '../errors.js';
import { TableReader, type Table } from '../config-table.js';
import { parseOutputsConfig, type OutputsConfig } from '../outputs/config.js';
import { DEFAULT_MIN_SEVERITY } from '../outputs/severity.js';
import { SEVERITY_SCORE } from '../alerts/severity.js';
import { DEFEND_RULE_DEFAULTS, type DefendRuleDefaults } from '../rules/behavior-rule-schema.js';
import { RULE_SEVERITIES, type RuleSeverity } from '../rules/rule-types.js';
import { loadRuleSet } from '../rules/rule-set-loader.js';
import {
  commandLineSelection, isEmptySelection, mergeSelections, SELECTION_LIMITS, selectionNameProblem,
  type RuleSelection, type SelectionName,
} from '../rules/rule-selection.js';
import { TomlKeyLocator, type SourcePosition } from '../rules/toml-positions.js';
import { tomlSyntaxProblem } from '../rules/toml-syntax.js';
import { OutputsConfigError } from '../outputs/errors.js';
import type { ResponseConfig } from '../response/kill-response.js';

export const DEFAULT_CONFIG_PATH = '/etc/execwarden/config.toml';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface AgentConfig {
  /** The config file that was read, or null when running on defaults. */
  file: string | null;
  /**
   * `defend` is the severity and risk score of Elastic Defend behavior rules, which have none
   * ([rules] defend_severity, defend_risk_score); undefined when neither is set, for the built-in
   * DEFEND_RULE_DEFAULTS. A severity given alone brings the risk score Elastic pairs with it.
   */
  rules: {
    paths: string[];
    exceptions: string | null;
    allowEmpty: boolean;
    defend?: DefendRuleDefaults;
    /**
     * Which loaded rules run ([rules] enable, enable_tags, disable, disable_tags, plus the command
     * line's --enable-rule, --enable-tag, --disable-rule, --disable-tag; src/rules/rule-selection.ts).
     * Undefined when nothing is named: every rule runs.
     */
    selection?: RuleSelection;
  };
  capture: { receiveBufferBytes: number; realtime: boolean; events: boolean; envVars: string[] };
  /** How long outputs may take to deliver what is queued when the agent stops. */
  shutdown: { drainMs: number };
  processTable: { maxEntries: number; exitedTtlMs: number };
  /** Flood control: alerts of one rule beyond `floodBudget` within `floodWindowMs` are summarised. */
  alerts: { floodWindowMs: number; floodBudget: number };
  metrics: { listen: ListenAddress | null };
  outputs: OutputsConfig;
  /** The opt-in kill response ([response]; src/response/kill-response.ts). Off by default. */
  response: ResponseConfig;
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
  /** Rule selection options; they add to the file's lists. */
  enableRules?: string[];
  enableTags?: string[];
  disableRules?: string[];
  disableTags?: string[];
}

export class ConfigError extends ExecwardenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', message, options);
  }
}

const DEFAULTS = {
  receiveBufferBytes: 8 * 1024 * 1024,
  maxEntries: 32_768,
  exitedTtlSeconds: 30,
  floodWindowSeconds: 60,
  floodBudget: 20,
  drainSeconds: 5,
} as const;

/** Parses "host:port" (IPv6 as "[::1]:9464"). */
export function parseListenAddress(text: string, where: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65_535) {
    throw new ConfigError(`${where}: expected host:port (e.g. 127.0.0.1:9464), got '${text}'`);
  }
  return { host: (match[1] ?? match[2]) as string, port };
}

/** Where a key path sits in the config file (1-based), for messages that point into it. */
export type ConfigKeyLocator = (path: readonly string[]) => SourcePosition;

function readConfigFile(path: string): { table: Table; locate: ConfigKeyLocator } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError(`${path}: cannot read the config file (${reason})`, { cause: error });
  }
  let table: Table;
  try {
    table = parseToml(text) as Table;
  } catch (error) {
    const problem = tomlSyntaxProblem(error, text);
    throw new ConfigError(`${path}:${problem.line}:${problem.column}: invalid TOML: ${problem.message}`);
  }
  let locator: TomlKeyLocator | undefined;
  return { table, locate: (keyPath) => (locator ??= new TomlKeyLocator(text)).position(keyPath) };
}

/**
 * Builds the effective configuration. The default file is read only when it exists; a file named
 * with --config must exist.
 */
export function loadAgentConfig(overrides: ConfigOverrides = {}, defaultPath = DEFAULT_CONFIG_PATH): AgentConfig {
  let file: string | null = null;
  if (overrides.config !== undefined) file = overrides.config;
  else if (existsSync(defaultPath)) file = defaultPath;
  if (file === null) return resolveConfig({}, null, overrides);
  const { table, locate } = readConfigFile(file);
  return resolveConfig(table, file, overrides, locate);
}

const SELECTION_KEYS = [
  ['enableRules', 'enable', 'rule ids'],
  ['enableTags', 'enable_tags', 'tags'],
  ['disableRules', 'disable', 'rule ids'],
  ['disableTags', 'disable_tags', 'tags'],
] as const;

/** Checks one list of rule ids or tags (from the file or the command line) into `issues`. */
function checkSelectionNames(values: readonly string[], setting: string, what: string, issues: string[]): void {
  if (values.length > SELECTION_LIMITS.names) issues.push(`${setting}: at most ${SELECTION_LIMITS.names} ${what}`);
  for (const value of values.slice(0, SELECTION_LIMITS.names)) {
    const problem = selectionNameProblem(value);
    if (problem !== null) issues.push(`${setting}: ${JSON.stringify(value.slice(0, 80))} ${problem}`);
  }
}

/** The [rules] selection lists and the command line's, checked; undefined when both name nothing. */
function readSelection(
  rules: TableReader,
  file: string | null,
  overrides: ConfigOverrides,
  locate: ConfigKeyLocator | undefined,
  issues: string[],
): RuleSelection | undefined {
  const fromFile = {} as Record<keyof RuleSelection, SelectionName[]>;
  for (const [list, key, what] of SELECTION_KEYS) {
    const values = rules.strings(key, []);
    const setting = `rules.${key}`;
    checkSelectionNames(values, setting, what, issues);
    const at = file !== null && locate !== undefined && values.length > 0 ? locate(['rules', key]) : { line: 0, column: 0 };
    fromFile[list] = values.map((value) => ({ value, from: { file: file ?? 'config', line: at.line, column: at.column, setting } }));
  }
  const fromCommandLine = commandLineSelection(overrides);
  for (const [list, , what] of SELECTION_KEYS) {
    const names = fromCommandLine[list];
    if (names.length > 0) checkSelectionNames(names.map((n) => n.value), names[0]!.from.setting, what, issues);
  }
  const selection = mergeSelections(fromFile, fromCommandLine);
  return isEmptySelection(selection) ? undefined : selection;
}

/**
 * Applies defaults, the parsed file table and the overrides; exported for tests. Every problem in
 * the file is reported in one ConfigError.
 */
export function resolveConfig(table: Table, file: string | null, overrides: ConfigOverrides = {}, locate?: ConfigKeyLocator): AgentConfig {
  const where = file ?? 'config';
  const issues: string[] = [];
  const root = new TableReader(table, '', issues);
  const section = (key: string): TableReader => root.sub(key) ?? new TableReader({}, key, issues);

  const rules = section('rules');
  const rulePaths = rules.strings('paths', []);
  const exceptions = rules.text('exceptions', '');
  const allowEmpty = rules.bool('allow_empty', false);
  let defend: DefendRuleDefaults | undefined;
  if (rules.has('defend_severity') || rules.has('defend_risk_score')) {
    const severity: RuleSeverity = rules.choice('defend_severity', RULE_SEVERITIES, DEFEND_RULE_DEFAULTS.severity);
    const riskScore = rules.integer('defend_risk_score', SEVERITY_SCORE[severity], 0, 100);
    defend = { severity, riskScore };
  }
  const selection = readSelection(rules, file, overrides, locate, issues);
  rules.done();

  const capture = section('capture');
  const receiveBufferBytes = capture.integer('receive_buffer_bytes', DEFAULTS.receiveBufferBytes, 4096, 1 << 30);
  const realtime = capture.bool('realtime', true);
  const events = capture.bool('events', false);
  const envVars = capture.strings('env_vars', [...DEFAULT_ENV_VARS]);
  for (const name of envVars) {
    const problem = envNameProblem(name);
    if (problem !== null) issues.push(`capture.env_vars: ${JSON.stringify(name)} ${problem}`);
  }
  if (envVars.length > ENV_NAMES_MAX) issues.push(`capture.env_vars: at most ${ENV_NAMES_MAX} names`);
  capture.done();

  const processTable = section('process_table');
  const maxEntries = processTable.integer('max_entries', DEFAULTS.maxEntries, 256, 4_194_304);
  const exitedTtlSeconds = processTable.integer('exited_ttl_seconds', DEFAULTS.exitedTtlSeconds, 1, 86_400);
  processTable.done();

  const shutdown = section('shutdown');
  const drainSeconds = shutdown.integer('drain_seconds', DEFAULTS.drainSeconds, 0, 300);
  shutdown.done();

  const alerts = section('alerts');
  // dedup_window_seconds: the name of the window before flood control counted per rule.
  const legacyWindow = alerts.integer('dedup_window_seconds', DEFAULTS.floodWindowSeconds, 0, 86_400);
  const floodWindowSeconds = alerts.integer('flood_window_seconds', legacyWindow, 0, 86_400);
  const floodBudget = alerts.integer('flood_budget', DEFAULTS.floodBudget, 1, 1_000_000);
  alerts.done();

  const response = section('response');
  const killProcess = response.bool('kill_process', false);
  const killRules = response.strings('kill_rules', []);
  const neverKill = response.strings('never_kill', []);
  response.done();
  if (killRules.length > 1024) issues.push('response.kill_rules: at most 1024 rule ids');
  if (neverKill.length > 1024) issues.push('response.never_kill: at most 1024 paths');
  for (const path of neverKill) {
    if (!path.startsWith('/') || path.length > 4096) {
      issues.push(`response.never_kill: ${JSON.stringify(path.slice(0, 200))} is not an absolute executable path (process names are not accepted: any process can take one)`);
    }
  }

  const metrics = section('metrics');
  const listenText = metrics.text('listen', '');
  metrics.done();
  let listen: ListenAddress | null = null;
  if (overrides.metrics !== undefined) {
    listen = parseListenAddress(overrides.metrics, '--metrics');
  } else if (listenText !== '') {
    try {
      listen = parseListenAddress(listenText, 'metrics.listen');
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      issues.push(error.message);
    }
  }

  let outputs: OutputsConfig | undefined;
  try {
    outputs = parseOutputsConfig(root.raw('outputs') ?? {}, 'outputs');
  } catch (error) {
    if (!(error instanceof OutputsConfigError)) throw error;
    issues.push(...error.issues);
  }
  root.done();
  if (issues.length > 0 || outputs === undefined) throw new ConfigError(`${where}: ${issues.join('; ')}`);
  if (overrides.pretty) outputs = { ...outputs, stdout: { minSeverity: DEFAULT_MIN_SEVERITY, ...outputs.stdout, format: 'pretty' } };

  return {
    file,
    rules: {
      paths: overrides.rules && overrides.rules.length > 0 ? overrides.rules : rulePaths,
      exceptions: overrides.exceptions ?? (exceptions === '' ? null : exceptions),
      allowEmpty,
      ...(defend === undefined ? {} : { defend }),
      ...(selection === undefined ? {} : { selection }),
    },
    capture: {
      receiveBufferBytes: overrides.receiveBuffer ?? receiveBufferBytes,
      realtime: overrides.realtime ?? realtime,
      events: overrides.events ?? events,
      envVars: [...new Set(envVars)],
    },
    processTable: {
      maxEntries: overrides.maxProcesses ?? maxEntries,
      exitedTtlMs: exitedTtlSeconds * 1000,
    },
    alerts: { floodWindowMs: floodWindowSeconds * 1000, floodBudget },
    shutdown: { drainMs: drainSeconds * 1000 },
    metrics: { listen },
    outputs,
    response: { killProcess, killRules: [...new Set(killRules)], neverKill: [...new Set(neverKill)] },
  };
}

/** The rule set the agent runs for a config: paths, exceptions, Defend defaults and selection. */
export function loadConfiguredRules(config: AgentConfig): ReturnType<typeof loadRuleSet> {
  return loadRuleSet({
    paths: config.rules.paths,
    allowEmpty: config.rules.allowEmpty,
    ...(config.rules.exceptions === null ? {} : { exceptionsFile: config.rules.exceptions }),
    ...(config.rules.defend === undefined ? {} : { defendDefaults: config.rules.defend }),
    ...(config.rules.selection === undefined ? {} : { selection: config.rules.selection }),
  });
}
