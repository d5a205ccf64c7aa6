/**
 * The lab's detector: the real agent pipeline (live capture, the configured rules, the engine)
 * with no outputs of its own and no flood control; alerts go to the lab's listeners as they leave
 * the engine. Events also keep the simulation marker variable from the environment, so an alert
 * ties to its simulation even when the process's lineage was not seen whole.
 */
import { MARKER_ENV } from '../lab/process-sweep.js';
import type { LabDetector } from '../lab/run-lab.js';
import { Agent, type AlertListener } from './agent.js';
import { resolveConfig, type AgentConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import type { ResponseConfig } from '../response/kill-response.js';

export interface LiveDetectorOptions {
  rules?: string[];
  exceptions?: string;
  logger?: Logger;
  /** Replaces the agent config (defaults: bundled rules, no outputs). */
  config?: AgentConfig;
  /** The kill response (off unless given). */
  response?: ResponseConfig;
}

export function createLiveDetector(options: LiveDetectorOptions = {}): LabDetector {
  const base = options.config ?? resolveConfig({}, null, { rules: options.rules, exceptions: options.exceptions });
  const config: AgentConfig = {
    ...base,
    // Kept beside the variables the rules read: a payload detached with `nohup … &` may outlive
    // its launcher, the one process whose command line held the marker, before it is described.
    capture: { ...base.capture, envVars: [...new Set([...base.capture.envVars, MARKER_ENV])] },
    // Flood control off: the lab raises dozens of alerts of one rule within a minute on purpose
    // (every spelling and launch form of a class, twice with --storm), and each must reach it when
    // raised, not in a summary after the rule's budget is spent.
    alerts: { ...base.alerts, floodWindowMs: 0 },
    outputs: { queue: base.outputs.queue },
    // A response check kills only the lab's own simulations (they carry its marker variable).
    response: options.response ? { ...options.response, onlyWithEnv: MARKER_ENV } : base.response,
  };
  const logger = options.logger ?? createLogger({ level: 'warn' });
  const listeners: AlertListener[] = [];
  let agent: Agent | undefined;
  return {
    async start() {
      // Every phase of the lab must hear about its own losses: one loss alert a second at most.
      agent = await Agent.start(config, { logger, lossAlertWindowMs: 1000 });
      for (const listener of listeners) agent.onAlert(listener);
    },
    async stop() {
      await agent?.stop();
      agent = undefined;
    },
    onAlert(listener) {
      listeners.push(listener);
      agent?.onAlert(listener);
    },
  };
}
