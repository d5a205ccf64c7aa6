/**
 * Everything `status` judges, as plain data. gather.ts reads it from the host; the checks in
 * host-checks.ts, service-checks.ts, config-checks.ts and output-checks.ts are pure functions of
 * it, so every decision is tested with facts made up in the test, no systemd or kernel needed.
 */
import type { AgentConfig } from '../agent/config.js';
import type { HostFacts, ForegroundAgent } from './host-facts.js';
import type { AgentCounters } from './metrics-text.js';
import type { OutputFacts } from './output-facts.js';
import type { ServiceFacts } from './service-facts.js';

/** Whose config is judged: --config of status, the service's ExecStart, a running `execwarden run`'s, or the default path. */
export type ConfigSource = 'option' | 'service' | 'agent' | 'default';

export type ConfigFacts =
  | { ok: true; file: string | null; source: ConfigSource; config: AgentConfig }
  /** `code` is the error's (CONFIG_INVALID); `errno` the read failure's, when the file could not be read. */
  | { ok: false; file: string | null; source: ConfigSource; code: string; message: string; errno: string | null };

export interface RulesFacts {
  /** The configured rule paths; empty: the bundled rules. */
  paths: string[];
  /** Rules the agent would run. */
  rules: number;
  /** Loaded rules the rule selection ([rules] enable/disable…) leaves out. */
  disabled: number;
  files: number;
  errors: number;
  warnings: number;
  skipped: number;
  neverMatch: number;
  exceptions: number | null;
  /** The first diagnostics, errors before warnings, each in `file:line:column: …` form. */
  first: string[];
  /** Loading failed outright (not a diagnostic): why. */
  failure: string | null;
}

export type MetricsFacts =
  | { state: 'off' }
  | { state: 'not-read'; address: string; reason: string }
  | { state: 'unreachable'; address: string; error: string }
  | { state: 'read'; address: string; fromAgent: boolean; counters: AgentCounters; malformed: number; truncated: boolean };

/** What is known of the running service's process. */
export interface ServiceProcess {
  /** Effective uid of MainPID, null when it is not running or unreadable. */
  uid: number | null;
  /** Paths of the unit's ExecStart (node, the script) that do not exist. */
  missingPrograms: string[];
  /** CLOCK_MONOTONIC now, in microseconds: ActiveEnterTimestampMonotonic's clock. */
  nowMonotonicUs: number;
}

export interface StatusFacts {
  host: HostFacts;
  service: ServiceFacts;
  serviceProcess: ServiceProcess;
  /** `execwarden run` processes outside the service. */
  foregroundAgents: ForegroundAgent[];
  config: ConfigFacts;
  /** Null when the config could not be read. */
  rules: RulesFacts | null;
  metrics: MetricsFacts;
  /** Null when the config could not be read. */
  outputs: OutputFacts[] | null;
}
