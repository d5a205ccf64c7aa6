/**
 * `execwarden run`: the agent in the foreground until SIGINT/SIGTERM (the signal aborts
 * io.signal), or until every output has stopped for good (stdout alone, its reader gone), reloading
 * on SIGHUP. Exit 0 after a clean drain; exit 1 when capture dies on its own, so that a service
 * manager restarts the agent instead of leaving it running blind.
 *
 * Reload requests are listened for during the whole run, start-up and drain included: with no
 * listener a SIGHUP takes its default action and ends the process. One that arrives during
 * start-up is carried out once the agent runs; one during the drain is ignored.
 */
import { Agent } from '../agent/agent.js';
import { loadAgentConfig, type ConfigOverrides } from '../agent/config.js';
import { createLogger, type Logger } from '../agent/logger.js';
import type { CommandIo } from './io.js';

export interface RunActionDeps {
  logger?: Logger;
  /** Subscribes to reload requests (SIGHUP in the CLI); returns an unsubscribe function. */
  onReload?: (reload: () => void) => () => void;
}

export async function runAction(opts: ConfigOverrides, io: CommandIo, deps: RunActionDeps = {}): Promise<number> {
  let agent: Agent | undefined;
  let reloadRequested = false;
  let stopping = false;
  let reloading = Promise.resolve();
  let logger: Logger | undefined;
  const reload = (): void => {
    if (stopping) return;
    if (!agent || !logger) {
      reloadRequested = true;
      return;
    }
    const running = agent;
    logger.info('SIGHUP: reloading rules and reopening outputs');
    reloading = reloading.then(() => running.reload().then(() => undefined));
  };
  const unsubscribe = deps.onReload?.(reload);
  try {
    const config = loadAgentConfig(opts);
    logger = deps.logger ?? createLogger();
    agent = await Agent.start(config, { logger, stdout: io.stdout, dropStartupCapabilities: true, systemd: true });
    if (reloadRequested) reload();
    let failed = false;
    await new Promise<void>((resolve) => {
      agent!.onFailure(() => {
        failed = true;
        resolve();
      });
      // `run | head -1`: nothing is left to write to once head has left.
      agent!.onOutputsGone(() => resolve());
      if (!io.signal || io.signal.aborted) return resolve();
      io.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    stopping = true;
    await reloading;
    await agent.stop();
    return failed ? 1 : 0;
  } finally {
    unsubscribe?.();
  }
}
