/**
 * The host's side of capture: the kernel, the namespaces, the proc connector subscription, and
 * the privileges and SCHED_FIFO of this invocation. The privilege wording comes from
 * capture/privileges.ts (assessCapturePrivileges), the same the agent logs at start.
 */
import { assessCapturePrivileges, CAP_SYS_NICE, hasCap } from '../capture/privileges.js';
import { check, shown, type Check } from './check.js';
import { AGENT_CAPABILITIES, KILL_CAPABILITY, type StatusContext } from './context.js';
import type { StatusFacts } from './facts.js';
import { READER_RT_PRIORITY, type HostFacts } from './host-facts.js';

function kernelCheck(host: HostFacts): Check {
  const release = shown(host.privileges.kernelRelease, 80);
  if (host.kernel.procEvents === false) {
    return check('host.kernel', 'host', 'problem', 'kernel', `Linux ${release} is built without the proc connector (CONFIG_PROC_EVENTS)`, {
      fix: 'boot a kernel built with CONFIG_PROC_EVENTS=y (every mainstream distribution kernel is)',
      reason: 'the kernel has no proc connector',
    });
  }
  const built = host.kernel.procEvents === true ? ', proc connector built in' : '';
  return check('host.kernel', 'host', 'ok', 'kernel', `Linux ${release}${built}`);
}

function namespaceCheck(host: HostFacts): Check {
  const { initialPidNamespace, initialUserNamespace } = host.privileges;
  if (initialPidNamespace && initialUserNamespace) return check('host.namespaces', 'host', 'ok', 'namespaces', 'initial pid and user namespace');
  const which = [!initialPidNamespace && 'pid', !initialUserNamespace && 'user'].filter(Boolean).join(' and ');
  return check('host.namespaces', 'host', 'problem', 'namespaces', `inside a container (not the initial ${which} namespace): the kernel ignores proc connector subscriptions from here`, {
    fix: 'run execwarden on the host itself, not in a container',
    reason: 'running inside a container',
  });
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
}

function probeCheck(host: HostFacts, context: StatusContext): Check | null {
  const probe = host.probe;
  if (!probe.ran) return null;
  const id = 'host.proc-connector';
  const title = 'proc connector';
  if (probe.ok) {
    const buffer = probe.forcedBuffer ? `receive buffer ${mib(probe.receiveBufferBytes)}` : `receive buffer ${mib(probe.receiveBufferBytes)} (capped by net.core.rmem_max)`;
    return check(id, 'host', 'ok', title, `subscribed, acknowledged by the kernel; ${buffer}`);
  }
  const code = shown(probe.code, 40);
  const message = shown(probe.message);
  switch (probe.code) {
    case 'ADDON_NOT_BUILT':
    case 'ADDON_LOAD_FAILED':
      return check(id, 'host', 'problem', title, `cannot load the native addon: ${message}`, {
        fix: 'run `npm run build:native` in the package directory (needs g++ and cmake)',
        reason: 'the native addon is missing',
      });
    case 'EPERM':
      // The service holds its own CAP_NET_ADMIN: this shell's refusal says nothing about it.
      return check(id, 'host', context.service ? 'warning' : 'problem', title, 'the kernel refused this process a subscription (EPERM: CAP_NET_ADMIN is needed before Linux 6.6)', {
        fix: 'run as root (sudo execwarden status) or with CAP_NET_ADMIN',
        reason: context.service ? 'this shell cannot subscribe to the proc connector' : 'proc connector refused',
      });
    case 'ESUBSCRIBE_TIMEOUT':
      return check(id, 'host', 'problem', title, 'the kernel never acknowledged the subscription: no proc connector, or a namespace it ignores', {
        fix: 'run on the host with a kernel built with CONFIG_PROC_EVENTS=y',
        reason: 'proc connector not answering',
      });
    case 'ENETNS':
      return check(id, 'host', 'problem', title, 'refused in a private network namespace', {
        fix: 'run in the host network namespace (no PrivateNetwork=, no network-isolated container)',
        reason: 'proc connector refused in a private network namespace',
      });
    default:
      return check(id, 'host', 'problem', title, `subscription failed: ${code}: ${message}`, {
        fix: 'see the message; `execwarden capture` shows the same failure',
        reason: 'proc connector subscription failed',
      });
  }
}

/** Why SCHED_FIFO would be refused to this process, or [] when it would be granted. */
export function realtimeObstacles(host: HostFacts): string[] {
  const obstacles: string[] = [];
  const nice = hasCap(host.privileges.effectiveCaps, CAP_SYS_NICE);
  if (!nice && (host.rtprioLimit === null || host.rtprioLimit < READER_RT_PRIORITY)) {
    obstacles.push(`no CAP_SYS_NICE and RLIMIT_RTPRIO ${host.rtprioLimit ?? 'unknown'} (below ${READER_RT_PRIORITY})`);
  }
  if (host.cgroupRtRuntimeUs === 0) obstacles.push('this cpu cgroup has no realtime budget (cpu.rt_runtime_us = 0)');
  return obstacles;
}

/** This process's SCHED_FIFO: what the probe was granted, or what the facts predict. */
/** Whether SCHED_FIFO is granted here: as the probe found, else as the obstacles predict. */
function realtimeGranted(host: HostFacts, obstacles: readonly string[] = realtimeObstacles(host)): boolean {
  return host.probe.ran && host.probe.ok ? host.probe.realtime : obstacles.length === 0;
}

function realtimeCheck(host: HostFacts, context: StatusContext): Check {
  const id = 'host.realtime';
  const title = 'SCHED_FIFO';
  const obstacles = realtimeObstacles(host);
  const granted = realtimeGranted(host, obstacles);
  const verb = host.probe.ran && host.probe.ok ? 'granted' : 'would be granted';
  if (!context.realtimeConfigured) {
    return check(id, 'host', 'warning', title, '[capture] realtime = false: the reader thread does not ask for it, and keeps fewer argv of short-lived processes', {
      fix: 'set [capture] realtime = true',
      reason: 'SCHED_FIFO turned off in the config',
    });
  }
  if (granted) {
    const how = hasCap(host.privileges.effectiveCaps, CAP_SYS_NICE) ? 'CAP_SYS_NICE' : `RLIMIT_RTPRIO ${host.rtprioLimit}`;
    return check(id, 'host', 'ok', title, `${verb} to the reader thread (${how})`);
  }
  const refusal = host.probe.ran && host.probe.ok && host.probe.realtimeError !== null ? ` (${shown(host.probe.realtimeError, 80)})` : '';
  const why = obstacles.length > 0 ? `: ${obstacles.join('; ')}` : '';
  const fix = obstacles.some((o) => o.startsWith('this cpu cgroup'))
    ? 'run from a cgroup with a realtime budget, or give the cpu cgroup one (cpu.rt_runtime_us)'
    : 'run as root, with CAP_SYS_NICE, or with `ulimit -r 10` or more';
  return check(id, 'host', 'warning', title, `refused${refusal}${why}: without it argv of short-lived processes (setsid, nohup) is lost more often`, {
    fix,
    reason: 'no SCHED_FIFO for the reader thread',
  });
}

/** One row per capability the agent uses, judged for an agent started from this process. */
function privilegeChecks(host: HostFacts, context: StatusContext): Check[] {
  const caps = host.privileges.effectiveCaps;
  const assessed = assessCapturePrivileges(host.privileges);
  const checks: Check[] = [];
  for (const [name, bit] of AGENT_CAPABILITIES) {
    const id = `host.privilege.${name}`;
    if (hasCap(caps, bit)) {
      checks.push(check(id, 'host', 'ok', name, 'held'));
      continue;
    }
    // Capture does not need CAP_DAC_READ_SEARCH, so privileges.ts does not assess it.
    const lack = assessed.capabilities.find((c) => c.name === name);
    const why = lack?.why ?? 'reading a root-only (0600) config and rule folders of any mode';
    checks.push(
      check(id, 'host', lack?.need === 'missing' ? 'problem' : 'warning', name, `not held (${why})`, {
        fix: 'run as root, or grant it (setpriv --ambient-caps, or the service unit)',
        reason: `no ${name}`,
      }),
    );
  }
  if (context.killProcess) {
    const [name, bit] = KILL_CAPABILITY;
    checks.push(
      hasCap(caps, bit)
        ? check(`host.privilege.${name}`, 'host', 'ok', name, 'held ([response] kill_process is on)')
        : check(`host.privilege.${name}`, 'host', 'warning', name, "not held while [response] kill_process is on: other users' processes cannot be killed", {
            fix: 'run as root or grant CAP_KILL',
            reason: 'kill_process on without CAP_KILL',
          }),
    );
  }
  return checks;
}

/**
 * With a service, this shell's privileges matter only to an `execwarden run` started from it: one
 * informational row says what it holds and whether SCHED_FIFO would be granted here.
 */
function shellPrivilegesCheck(host: HostFacts, context: StatusContext): Check {
  const caps = host.privileges.effectiveCaps;
  const wanted = context.killProcess ? [...AGENT_CAPABILITIES, KILL_CAPABILITY] : AGENT_CAPABILITIES;
  const held = wanted.filter(([, bit]) => hasCap(caps, bit)).map(([name]) => name);
  const lacking = wanted.filter(([, bit]) => !hasCap(caps, bit)).map(([name]) => name);
  const realtime = realtimeGranted(host);
  const parts = [
    held.length > 0 ? `holds ${held.join(', ')}` : "holds none of the agent's capabilities",
    lacking.length > 0 ? `lacks ${lacking.join(', ')}` : null,
    `SCHED_FIFO ${realtime ? 'granted' : 'refused'} here`,
  ].filter((p): p is string => p !== null);
  return check('host.privileges', 'host', 'ok', 'this shell', `${parts.join('; ')} (the service has its own, below)`);
}

export function hostChecks(facts: StatusFacts, context: StatusContext): Check[] {
  const host = facts.host;
  const checks = [kernelCheck(host), namespaceCheck(host)];
  const probe = probeCheck(host, context);
  if (probe) checks.push(probe);
  if (context.service) checks.push(shellPrivilegesCheck(host, context));
  else checks.push(...privilegeChecks(host, context), realtimeCheck(host, context));
  return checks;
}
