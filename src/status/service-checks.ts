/**
 * The service: whether an agent runs at all (installed, enabled, active, since when, how often
 * systemd restarted it), what its unit grants it (capabilities; SCHED_FIFO under the unit's
 * CPUQuota, see systemd/execwarden.service "Ceilings"), and what the running agent reports on
 * its metrics page: losses, failed snapshots, output drops, and whether it still runs the rules
 * the config now gives. Without systemd, an `execwarden run` found among the processes is the
 * agent, and nothing restarts it.
 */
import { assessCapturePrivileges, CAP_SYS_NICE, hasCap } from '../capture/privileges.js';
import { check, shown, type Check } from './check.js';
import { AGENT_CAPABILITIES, KILL_CAPABILITY, unitCapabilityMask, type StatusContext } from './context.js';
import { mainPidOf } from './service-facts.js';
import type { MetricsFacts, RulesFacts, StatusFacts } from './facts.js';
import type { ForegroundAgent } from './host-facts.js';
import type { AgentCounters } from './metrics-text.js';

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  if (days > 0) return `${days}d ${hours}h`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  if (minutes > 0) return `${minutes}m ${s % 60}s`;
  return `${s}s`;
}

/** Seconds since the unit became active, or null when unknown. */
export function serviceUptimeSeconds(activeEnterMonotonicUs: string | undefined, nowMonotonicUs: number): number | null {
  if (activeEnterMonotonicUs === undefined || !/^\d{1,20}$/.test(activeEnterMonotonicUs)) return null;
  const entered = Number(activeEnterMonotonicUs);
  if (entered === 0 || entered > nowMonotonicUs) return null;
  return (nowMonotonicUs - entered) / 1e6;
}

function agentList(agents: readonly ForegroundAgent[]): string {
  return agents.map((a) => `pid ${a.pid}`).join(', ');
}

function agentDetails(agents: readonly ForegroundAgent[]): string[] {
  return agents.map((a) => `pid ${a.pid}: ${shown(a.command)}`);
}

const INSTALL_FIX = 'sudo execwarden install';

function unitCheck(facts: StatusFacts, context: StatusContext): Check {
  const id = 'service.unit';
  const title = 'service';
  const agents = facts.foregroundAgents;
  const service = facts.service;
  if (service.systemd !== 'running') {
    const where = service.systemd === 'absent' ? shown(service.detail) : `systemctl failed: ${shown(service.detail)}`;
    if (agents.length > 0) {
      return check(id, 'service', 'warning', title, `no service (${where}); \`execwarden run\` runs as ${agentList(agents)}, and nothing restarts it if it stops`, {
        fix: "keep it under this host's process supervisor, which restarts it when it exits",
        details: agentDetails(agents),
        reason: 'the agent runs without a service manager',
      });
    }
    const installed = service.unitFile !== null ? `, though the unit is installed (${shown(service.unitFile)})` : '';
    return check(id, 'service', 'problem', title, `no agent runs: ${where}${installed}, and no \`execwarden run\` was found`, {
      fix: service.systemd === 'absent'
        ? "start `execwarden run --config /etc/execwarden/config.toml` under this host's process supervisor"
        : 'look at `sudo systemctl status execwarden`',
      reason: 'no agent runs',
    });
  }
  const p = context.properties;
  const load = p.LoadState ?? 'unknown';
  if (load === 'not-found' || load === 'unknown') {
    if (agents.length > 0) {
      return check(id, 'service', 'warning', title, `not installed; \`execwarden run\` runs as ${agentList(agents)}, and nothing restarts it if it stops`, {
        fix: INSTALL_FIX, details: agentDetails(agents), reason: 'the agent runs outside the service',
      });
    }
    return check(id, 'service', 'problem', title, 'not installed, and no `execwarden run` was found', { fix: INSTALL_FIX, reason: 'the service is not installed' });
  }
  if (load === 'masked') {
    return check(id, 'service', 'problem', title, 'masked: systemd will not start it', {
      fix: 'sudo systemctl unmask execwarden && sudo systemctl enable --now execwarden', reason: 'the service is masked',
    });
  }
  if (load !== 'loaded') {
    return check(id, 'service', 'problem', title, `the unit does not load (LoadState=${shown(load, 40)})`, {
      fix: `systemd-analyze verify ${shown(p.FragmentPath ?? '/etc/systemd/system/execwarden.service')}, then ${INSTALL_FIX}`,
      reason: 'the unit does not load',
    });
  }
  const missing = facts.serviceProcess.missingPrograms;
  if (missing.length > 0) {
    return check(id, 'service', 'problem', title, `the unit runs ${missing.map((m) => shown(m)).join(' and ')}, which no longer exist${missing.length === 1 ? 's' : ''}`, {
      fix: `${INSTALL_FIX} (from the package now in place) rewrites the unit`, reason: "the service's program is gone",
    });
  }
  const active = p.ActiveState ?? 'unknown';
  const sub = p.SubState ? ` (${shown(p.SubState, 40)})` : '';
  const enabledState = p.UnitFileState ?? 'unknown';
  const enabled = enabledState === 'enabled' || enabledState === 'enabled-runtime' || enabledState === 'static';
  const bootNote = enabled ? 'enabled' : `not enabled (${shown(enabledState, 40)}): it will not start at boot`;
  if (active === 'active' || active === 'reloading') {
    const mainPid = mainPidOf(p);
    const pid = mainPid === null ? 'no main pid' : `pid ${mainPid}`;
    const uptime = serviceUptimeSeconds(p.ActiveEnterTimestampMonotonic, facts.serviceProcess.nowMonotonicUs);
    const since = uptime === null ? '' : `, up ${formatDuration(uptime)}`;
    const restarts = Number(p.NRestarts ?? '0');
    const summary = `${active}${sub}, ${pid}${since}, ${bootNote}`;
    if (Number.isInteger(restarts) && restarts > 0) {
      return check(id, 'service', 'warning', title, `${summary}; systemd restarted it ${restarts} time${restarts === 1 ? '' : 's'} (a crash or a stalled event loop)`, {
        fix: 'journalctl -u execwarden -b shows why', reason: `the service was restarted ${restarts} time${restarts === 1 ? '' : 's'}`,
      });
    }
    if (!enabled) return check(id, 'service', 'warning', title, summary, { fix: 'sudo systemctl enable execwarden', reason: 'the service is not enabled at boot' });
    return check(id, 'service', 'ok', title, summary);
  }
  if (active === 'activating' || active === 'deactivating') {
    return check(id, 'service', 'warning', title, `${active}${sub}, ${bootNote}`, {
      fix: 'look again in a moment; journalctl -u execwarden -b shows what it is doing', reason: `the service is ${active}`,
    });
  }
  // Stopped or failed: an `execwarden run` found instead still watches, without a restart.
  const instead = agents.length > 0 ? `; \`execwarden run\` runs instead as ${agentList(agents)}` : '';
  const level = agents.length > 0 ? 'warning' : 'problem';
  const details = agentDetails(agents);
  if (active === 'failed') {
    return check(id, 'service', level, title, `failed (${shown(p.Result ?? 'unknown', 40)}), ${bootNote}${instead}`, {
      fix: 'journalctl -u execwarden -b -e shows why; then sudo systemctl restart execwarden', details, reason: 'the service has failed',
    });
  }
  return check(id, 'service', level, title, `${shown(active, 40)}${sub}, ${bootNote}${instead}`, {
    fix: 'sudo systemctl enable --now execwarden', details, reason: 'the service is not running',
  });
}

/** The unit's capabilities, judged as capture/privileges.ts judges a process's. */
function unitPrivilegesCheck(facts: StatusFacts, context: StatusContext): Check {
  const id = 'service.privileges';
  const title = 'unit privileges';
  const mask = unitCapabilityMask(context.properties);
  const assessed = assessCapturePrivileges({
    effectiveCaps: mask,
    kernelRelease: facts.host.privileges.kernelRelease,
    initialPidNamespace: true,
    initialUserNamespace: true,
  });
  const lines = [...assessed.missing.map((m) => `missing ${m}`), ...assessed.degraded.map((d) => `without ${d}`)];
  const kill = context.killProcess && !hasCap(mask, KILL_CAPABILITY[1]);
  if (kill) lines.push("without CAP_KILL while [response] kill_process is on: kills of other users' processes fail (errno 1)");
  if (lines.length === 0) {
    const granted = [...AGENT_CAPABILITIES.map(([name]) => name), ...(context.killProcess ? [KILL_CAPABILITY[0]] : [])];
    return check(id, 'service', 'ok', title, `grants ${granted.join(', ')}`);
  }
  const level = assessed.missing.length > 0 ? 'problem' : 'warning';
  return check(id, 'service', level, title, lines.length === 1 ? lines[0] : `${lines.length} capabilities short`, {
    details: lines.length === 1 ? [] : lines,
    fix: kill && lines.length === 1
      ? 'add CAP_KILL to CapabilityBoundingSet= and AmbientCapabilities= in a drop-in (systemd/README.md, "Tuning with a drop-in")'
      : 'remove the drop-in that narrowed the capabilities (systemctl cat execwarden), or re-run sudo execwarden install',
    reason: level === 'problem' ? 'the unit lacks a capability capture needs' : 'the unit lacks a capability',
  });
}

function quotaSet(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== 'infinity';
}

/** SCHED_FIFO for the service's reader: what the agent reports, else what the unit and kernel predict. */
function serviceRealtimeCheck(facts: StatusFacts, context: StatusContext): Check {
  const id = 'service.realtime';
  const title = 'SCHED_FIFO';
  const p = context.properties;
  if (!context.realtimeConfigured) {
    return check(id, 'service', 'warning', title, '[capture] realtime = false: the reader thread does not ask for it, and keeps fewer argv of short-lived processes', {
      fix: 'set [capture] realtime = true, then sudo systemctl restart execwarden', reason: 'SCHED_FIFO turned off in the config',
    });
  }
  const nice = hasCap(unitCapabilityMask(p), CAP_SYS_NICE);
  const cgroupCaveat = facts.host.kernel.rtGroupSched === true && quotaSet(p.CPUQuotaPerSecUSec);
  const cgroupFix = 'a drop-in with `[Service]` `CPUQuota=` (empty) gives the service back the realtime budget; see systemd/execwarden.service, "Ceilings"';
  const reported = facts.metrics.state === 'read' && facts.metrics.fromAgent ? facts.metrics.counters.realtime : null;
  if (reported === true) return check(id, 'service', 'ok', title, 'the running agent reports its reader thread runs SCHED_FIFO');
  if (reported === false || !nice || cgroupCaveat) {
    const causes: string[] = [];
    if (!nice) causes.push('the unit grants no CAP_SYS_NICE');
    if (cgroupCaveat) causes.push(`this kernel gives cgroups their own realtime budget (CONFIG_RT_GROUP_SCHED) and the unit's CPUQuota (${shown(p.CPUQuotaPerSecUSec ?? '', 20)} per second) puts the service in a cpu cgroup without one`);
    const lead = reported === false ? 'the running agent reports no SCHED_FIFO' : 'will be refused';
    return check(id, 'service', 'warning', title, `${lead}${causes.length > 0 ? `: ${causes.join('; ')}` : ''}; argv of short-lived processes (setsid, nohup) is lost more often`, {
      fix: cgroupCaveat ? cgroupFix : !nice ? 'restore CAP_SYS_NICE in the unit (sudo execwarden install)' : 'journalctl -u execwarden | grep SCHED_FIFO shows why it was refused',
      reason: 'no SCHED_FIFO for the service',
    });
  }
  const unknown = facts.host.kernel.rtGroupSched === null && quotaSet(p.CPUQuotaPerSecUSec) ? ' (could not tell whether the kernel limits realtime per cgroup)' : '';
  return check(id, 'service', 'ok', title, `would be granted (the unit grants CAP_SYS_NICE)${unknown}`);
}

/** What each loss cause means, for the person reading the report. */
const LOSS_MEANING: Record<string, string> = {
  overflow: "the kernel's receive buffer overflowed: an unknown number of launches were never seen (bursts, or an agent short of CPU)",
  sequence_gap: "events missing from the kernel's per-CPU sequence numbers",
  batch_dropped: 'events dropped between the reader thread and the rules: the agent fell behind (short of CPU)',
  sequence_evicted: 'partly matched sequences evicted by the open-sequence cap: a sequence rule may have missed its match',
};

const SNAPSHOT_MEANING: Record<string, string> = {
  stale: 'launches described after they had replaced themselves: a setsid or nohup wrapper may have been missed',
  gone: 'processes gone before /proc could be read: described from the event alone',
  partial: 'snapshots with some /proc reads failed',
};

/** Snapshot failures other than stale become a warning past this share of exec events. */
export const SNAPSHOT_FAILURE_WARN_RATIO = 0.01;

function entries(record: Record<string, number>): [string, number][] {
  return Object.entries(record);
}

function countList(record: Record<string, number>): string {
  const list = entries(record).map(([k, v]) => `${shown(k, 40)} ${v}`);
  return list.length > 0 ? list.join(', ') : 'none';
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * The running agent's counters: each loss is a warning with what it means. `service` says whether
 * systemd runs it, which decides how the fixes are spelt.
 */
export function judgeCounters(counters: AgentCounters, rules: RulesFacts | null, service = true): { issues: string[]; details: string[]; fixes: string[] } {
  const issues: string[] = [];
  const details: string[] = [`events: ${countList(counters.eventsByKind)}; alerts ${counters.alerts ?? 'unknown'}`];
  const fixes: string[] = [];
  for (const [cause, n] of entries(counters.lostByCause)) {
    if (n <= 0) continue;
    issues.push(`${n} events lost (${shown(cause, 40)})`);
    details.push(`lost, ${shown(cause, 40)}: ${n}: ${LOSS_MEANING[cause] ?? 'counted by the agent as lost'}`);
  }
  if (issues.length > 0) fixes.push(`give the agent more CPU${service ? ' (CPUQuota in a drop-in)' : ''} or a larger [capture] receive_buffer_bytes`);
  const execs = counters.eventsByKind.exec ?? 0;
  const failures = counters.snapshotFailures;
  for (const [reason, n] of entries(failures)) {
    if (n <= 0) continue;
    const meaning = SNAPSHOT_MEANING[reason] ?? 'snapshots that failed';
    details.push(`snapshot failures, ${shown(reason, 40)}: ${n}: ${meaning}`);
    const tooMany = reason === 'stale' || (execs > 0 ? n / execs > SNAPSHOT_FAILURE_WARN_RATIO : true);
    if (tooMany) issues.push(`${plural(n, 'snapshot')} ${shown(reason, 40)}`);
  }
  for (const [output, n] of entries(counters.outputDropped)) {
    if (n <= 0) continue;
    issues.push(`output ${shown(output, 40)} dropped ${n}`);
    details.push(`output ${shown(output, 40)} dropped ${n} documents (queue full or gave up after retries): they never arrived there`);
    fixes.push(`check output ${shown(output, 40)}'s destination (see the outputs below)`);
  }
  if (counters.reloadsFailed !== null && counters.reloadsFailed > 0) {
    issues.push(`${plural(counters.reloadsFailed, 'reload')} failed`);
    details.push('a reload (SIGHUP) was refused: the agent kept its previous rules');
    fixes.push(`execwarden rules validate, then ${RELOAD[service ? 'service' : 'agent']}`);
  }
  if (rules !== null && rules.errors === 0 && counters.rulesLoaded !== null && counters.rulesLoaded !== rules.rules) {
    issues.push(`runs ${counters.rulesLoaded} rules, the config gives ${rules.rules}`);
    fixes.push(`${RELOAD[service ? 'service' : 'agent']} loads the current rules`);
  }
  return { issues, details, fixes };
}

const RELOAD = { service: 'sudo systemctl reload execwarden', agent: "SIGHUP to the agent's pid" } as const;

function metricsCheck(metrics: MetricsFacts, rules: RulesFacts | null, agentRuns: boolean, service: boolean): Check | null {
  const id = 'service.metrics';
  const title = 'counters';
  switch (metrics.state) {
    case 'off':
      if (!agentRuns) return null;
      return check(id, 'service', 'ok', title, 'not read: [metrics] listen is off, so losses cannot be checked from here', {
        fix: 'set [metrics] listen = "127.0.0.1:9464" in the config to let status read them',
      });
    case 'not-read':
      return null;
    case 'unreachable':
      return check(id, 'service', 'warning', title, `no answer from the metrics endpoint ${shown(metrics.address)} (${shown(metrics.error, 80)})`, {
        fix: 'restart the agent after a change of [metrics] listen; an IPAddressDeny= drop-in also blocks it',
        reason: 'metrics endpoint not answering',
      });
    case 'read': {
      if (!metrics.fromAgent) {
        return check(id, 'service', 'warning', title, `${shown(metrics.address)} answers, but not with execwarden's metrics`, {
          fix: 'make [metrics] listen an address only the agent uses', reason: "the metrics endpoint is not the agent's",
        });
      }
      const judged = judgeCounters(metrics.counters, rules, service);
      const cut = metrics.truncated || metrics.malformed > 0 ? [`(${metrics.malformed} malformed lines${metrics.truncated ? ', page cut at its size limit' : ''})`] : [];
      if (judged.issues.length === 0) {
        return check(id, 'service', 'ok', title, `no losses, no drops (from ${shown(metrics.address)})`, { details: [...judged.details, ...cut] });
      }
      return check(id, 'service', 'warning', title, judged.issues.join('; '), {
        details: [...judged.details, ...cut],
        fix: [...new Set(judged.fixes)].join('; ') || 'journalctl -u execwarden shows when it happened',
        reason: judged.issues.join('; '),
      });
    }
  }
}

export function serviceChecks(facts: StatusFacts, context: StatusContext): Check[] {
  const checks = [unitCheck(facts, context)];
  if (context.service) checks.push(unitPrivilegesCheck(facts, context), serviceRealtimeCheck(facts, context));
  const agentRuns = context.serviceActive || facts.foregroundAgents.length > 0;
  const metrics = metricsCheck(facts.metrics, facts.rules, agentRuns, context.service);
  if (metrics) checks.push(metrics);
  // Without a service, host-checks.ts judges this shell's SCHED_FIFO; the running agent's own is here.
  if (!context.service && facts.metrics.state === 'read' && facts.metrics.fromAgent && facts.metrics.counters.realtime === false) {
    checks.push(check('service.realtime', 'service', 'warning', 'SCHED_FIFO', 'the running agent reports no SCHED_FIFO: argv of short-lived processes (setsid, nohup) is lost more often', {
      fix: 'its start-up log says why SCHED_FIFO was refused; run it with CAP_SYS_NICE', reason: 'no SCHED_FIFO for the running agent',
    }));
  }
  if (context.serviceActive && facts.foregroundAgents.length > 0) {
    checks.push(check('service.other-agents', 'service', 'ok', 'other agents', `\`execwarden run\` also runs outside the service: ${agentList(facts.foregroundAgents)}`, {
      details: agentDetails(facts.foregroundAgents),
    }));
  }
  return checks;
}
