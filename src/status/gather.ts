/**
 * Reads every fact `status` judges from this host: the service (systemctl), the config the
 * service uses (its ExecStart's --config, unless one is given), the rules and outputs that config
 * names, the host's capture facts, and the running agent's metrics page. Nothing here decides
 * anything; a fact that cannot be read is recorded as such.
 */
import { existsSync, readFileSync } from 'node:fs';
import { DEFAULT_CONFIG_PATH, loadAgentConfig, loadConfiguredRules, resolveConfig, type AgentConfig } from '../agent/config.js';
import { ExecwardenError } from '../errors.js';
import { parseStatus } from '../process/procfs.js';
import { formatDiagnostic } from '../rules/index.js';
import type { ConfigFacts, ConfigSource, MetricsFacts, RulesFacts, ServiceProcess, StatusFacts } from './facts.js';
import { findForegroundAgents, readHostFacts, type ForegroundAgent } from './host-facts.js';
import { agentCounters, looksLikeAgent, parseMetricsText } from './metrics-text.js';
import { readOutputFacts } from './output-facts.js';
import { dialAddress, fetchMetricsText } from './reach.js';
import { configArgument, missingExecPaths, parseExecStart, readServiceFacts, serviceState, type ServiceFacts, type SystemctlRunner } from './service-facts.js';
import { MAX_DIAGNOSTICS_SHOWN } from './config-checks.js';

export interface GatherOptions {
  /** A config file to judge instead of the service's. */
  config?: string;
  /** Subscribe to the proc connector for a moment (default true). */
  probe?: boolean;
  systemctl?: SystemctlRunner;
}

function serviceConfigPath(service: ServiceFacts): string | null {
  if (service.systemd !== 'running' || service.properties.LoadState !== 'loaded') return null;
  const exec = parseExecStart(service.properties.ExecStart);
  return exec === null ? null : configArgument(exec.argv);
}

export function readConfigFacts(file: string | null, source: ConfigSource): ConfigFacts {
  const path = file ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : null);
  try {
    const config = loadAgentConfig(path === null ? {} : { config: path });
    return { ok: true, file: config.file, source, config };
  } catch (error) {
    if (!(error instanceof ExecwardenError)) throw error;
    // A file that could not be read says why in its cause (EACCES for a 0600 root-owned config).
    const errno = (error.cause as NodeJS.ErrnoException | undefined)?.code ?? null;
    return { ok: false, file: path, source, code: error.code, message: error.message, errno };
  }
}

export async function readRulesFacts(config: AgentConfig): Promise<RulesFacts> {
  const base = { paths: config.rules.paths, rules: 0, disabled: 0, files: 0, errors: 0, warnings: 0, skipped: 0, neverMatch: 0, exceptions: null, first: [] };
  try {
    // The rule set the agent would run with this config.
    const loaded = await loadConfiguredRules(config);
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    const warnings = loaded.diagnostics.filter((d) => d.severity === 'warning');
    // The set the agent would run: the loaded rules the selection keeps (all of them, with errors).
    const running = loaded.ruleSet?.rules ?? loaded.rules.rules;
    return {
      ...base,
      rules: running.length,
      disabled: loaded.rules.rules.length - running.length,
      files: loaded.rules.files.length,
      errors: errors.length,
      warnings: warnings.length,
      skipped: loaded.rules.skipped,
      neverMatch: running.filter((r) => r.neverMatches !== null).length,
      exceptions: loaded.exceptions === null ? null : loaded.exceptions.exceptions.size,
      first: [...errors, ...warnings].slice(0, MAX_DIAGNOSTICS_SHOWN).map(formatDiagnostic),
      failure: null,
    };
  } catch (error) {
    return { ...base, failure: error instanceof Error ? error.message : String(error) };
  }
}

async function readMetricsFacts(config: AgentConfig, agentRuns: boolean): Promise<MetricsFacts> {
  const listen = config.metrics.listen;
  if (listen === null) return { state: 'off' };
  const { host, port } = dialAddress(listen);
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (!agentRuns) return { state: 'not-read', address, reason: 'no agent runs' };
  const fetched = await fetchMetricsText(listen);
  if (!fetched.ok) return { state: 'unreachable', address, error: fetched.error };
  const parsed = parseMetricsText(fetched.text);
  return {
    state: 'read',
    address,
    fromAgent: looksLikeAgent(parsed.samples),
    counters: agentCounters(parsed.samples),
    malformed: parsed.malformed,
    truncated: parsed.truncated || fetched.truncated,
  };
}

function effectiveUid(pid: number): number | null {
  try {
    return parseStatus(readFileSync(`/proc/${pid}/status`, 'utf8'))?.euid ?? null;
  } catch {
    return null;
  }
}

export async function gatherStatusFacts(options: GatherOptions = {}): Promise<StatusFacts> {
  const service = readServiceFacts(options.systemctl ? { systemctl: options.systemctl } : {});
  const state = serviceState(service);
  const pid = state.mainPid;
  const serviceProcess: ServiceProcess = {
    uid: pid === null ? null : effectiveUid(pid),
    missingPrograms: service.systemd === 'running' && state.loaded ? missingExecPaths(service.properties.ExecStart, existsSync) : [],
    nowMonotonicUs: Number(process.hrtime.bigint() / 1000n),
  };
  const foregroundAgents: ForegroundAgent[] = findForegroundAgents(pid);

  // The config of whatever protects the host: the service's, else a running agent's.
  const fromService = serviceConfigPath(service);
  const fromAgent = foregroundAgents.find((agent) => agent.config !== null)?.config ?? null;
  const config =
    options.config !== undefined
      ? readConfigFacts(options.config, 'option')
      : fromService !== null
        ? readConfigFacts(fromService, 'service')
        : fromAgent !== null
          ? readConfigFacts(fromAgent, 'agent')
          : readConfigFacts(null, 'default');
  const agentConfig = config.ok ? config.config : null;
  const serviceActive = state.active;

  const receiveBufferBytes = (agentConfig ?? resolveConfig({}, null)).capture.receiveBufferBytes;
  const host = await readHostFacts({ receiveBufferBytes, probe: options.probe !== false });
  const [rules, metrics, outputs] = await Promise.all([
    agentConfig === null ? Promise.resolve(null) : readRulesFacts(agentConfig),
    agentConfig === null ? Promise.resolve<MetricsFacts>({ state: 'not-read', address: '', reason: 'the config could not be read' }) : readMetricsFacts(agentConfig, serviceActive || foregroundAgents.length > 0),
    agentConfig === null ? Promise.resolve(null) : readOutputFacts(agentConfig.outputs),
  ]);
  return { host, service, serviceProcess, foregroundAgents, config, rules, metrics, outputs };
}
