/**
 * Who protects this host, which decides how a fact is judged. When systemd runs an installed
 * execwarden.service, the service is the agent: its unit's capabilities, its cgroup and its
 * sandbox matter, and what this shell lacks only matters to an `execwarden run` started from it.
 * Otherwise an agent would be started from here (or already runs outside systemd), and this
 * process's own privileges are the ones to judge.
 */
import { CAP_DAC_READ_SEARCH, CAP_KILL, CAP_NET_ADMIN, CAP_SYS_NICE, CAP_SYS_PTRACE } from '../capture/privileges.js';
import type { StatusFacts } from './facts.js';
import { capabilityNames, serviceState, type ShowProperty } from './service-facts.js';

export interface StatusContext {
  /** systemd runs here and the unit is loaded. */
  service: boolean;
  /** …and it is active (running or reloading). */
  serviceActive: boolean;
  properties: Partial<Record<ShowProperty, string>>;
  killProcess: boolean;
  realtimeConfigured: boolean;
}

export function statusContext(facts: StatusFacts): StatusContext {
  const properties = facts.service.systemd === 'running' ? facts.service.properties : {};
  const state = serviceState(facts.service);
  const config = facts.config.ok ? facts.config.config : null;
  return {
    service: state.loaded,
    serviceActive: state.active,
    properties,
    killProcess: config?.response.killProcess === true,
    realtimeConfigured: config?.capture.realtime !== false,
  };
}

/** The capabilities `status` looks at, by name, in the order it lists them. */
export const AGENT_CAPABILITIES: ReadonlyArray<readonly [string, number]> = [
  ['CAP_NET_ADMIN', CAP_NET_ADMIN],
  ['CAP_SYS_PTRACE', CAP_SYS_PTRACE],
  ['CAP_DAC_READ_SEARCH', CAP_DAC_READ_SEARCH],
  ['CAP_SYS_NICE', CAP_SYS_NICE],
];
export const KILL_CAPABILITY = ['CAP_KILL', CAP_KILL] as const;

/**
 * The capabilities the unit gives the agent, as a CapEff-style mask: the ambient set within the
 * bounding set, or the whole bounding set when it runs as root without a dynamic user.
 */
export function unitCapabilityMask(properties: Partial<Record<ShowProperty, string>>): bigint {
  const bounding = new Set(capabilityNames(properties.CapabilityBoundingSet));
  const runsAsRoot = properties.DynamicUser !== 'yes' && (properties.User === undefined || properties.User === '' || properties.User === 'root' || properties.User === '0');
  const granted = runsAsRoot ? [...bounding] : capabilityNames(properties.AmbientCapabilities).filter((c) => bounding.size === 0 || bounding.has(c));
  let mask = 0n;
  for (const [name, bit] of [...AGENT_CAPABILITIES, KILL_CAPABILITY]) {
    if (granted.includes(name)) mask |= 1n << BigInt(bit);
  }
  return mask;
}
