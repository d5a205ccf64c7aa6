/**
 * `agent.*` and `ecs.*`: who wrote the event. agent.id is derived from the host id so it stays
 * the same across restarts and reinstalls of the agent on one host, in the UUID shape Elastic
 * agents use.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostInfo } from './host.js';

/** The ECS release the documents follow (the @elastic/ecs package pinned in package.json). */
export const ECS_VERSION = '9.4.0';

export interface AgentInfo {
  type: 'execwarden';
  version: string;
  name: string;
  id: string;
}

/** Version from the package.json above this module (src/ or dist/src/ alike). */
export function readAgentVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'execwarden' && pkg.version) return pkg.version;
    } catch {
      // not here; go up
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}

export function agentInfoFor(host: HostInfo, version: string = readAgentVersion()): AgentInfo {
  const hex = createHash('sha256').update(`execwarden-agent:${host.id}`).digest('hex');
  const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  return { type: 'execwarden', version, name: host.hostname, id };
}
