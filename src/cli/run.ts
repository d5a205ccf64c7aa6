/**
 * `execwarden run`: the agent in the foreground until SIGINT/SIGTERM (the signal aborts
 * io.signal), reloading on SIGHUP. Exit 0 after a clean drain.
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
  const config = loadAgentConfig(opts);
  const logger = deps.logger ?? createLogger();
  const agent = await Agent.start(config, { logger, stdout: io.stdout });
  let reloading = Promise.resolve();
  const unsubscribe = deps.onReload?.(() => {
    logger.info('SIGHUP: reloading rules and reopening outputs');
    reloading = reloading.then(() => agent.reload().then(() => undefined));
  });
  await new Promise<void>((resolve) => {
    if (!io.signal || io.signal.aborted) return resolve();
    io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  unsubscribe?.();
  await reloading;
  await agent.stop();
  return 0;
}
