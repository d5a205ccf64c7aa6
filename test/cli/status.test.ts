/**
 * `execwarden status`: every decision is a pure function of facts, so each case below makes up
 * the facts of one host (a healthy service, then one thing wrong at a time) and checks the level,
 * the fix and the verdict. Then the action's text and JSON and exit codes with made-up facts, and
 * last the real command on this machine, which must end with a verdict whatever this host is.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/agent/config.js';
import type { Table } from '../../src/config-table.js';
import { CAP_DAC_READ_SEARCH, CAP_KILL, CAP_NET_ADMIN, CAP_SYS_NICE, CAP_SYS_PTRACE } from '../../src/capture/privileges.js';
import { runCli } from '../../src/cli/program.js';
import { statusAction } from '../../src/cli/status.js';
import { verdictOf, check, type Check } from '../../src/status/check.js';
import type { StatusFacts } from '../../src/status/facts.js';
import type { HostFacts } from '../../src/status/host-facts.js';
import { realtimeObstacles } from '../../src/status/host-checks.js';
import type { AgentCounters } from '../../src/status/metrics-text.js';
import { ipDenied } from '../../src/status/output-checks.js';
import type { OutputFacts, PathFacts } from '../../src/status/output-facts.js';
import { assessStatus, renderStatusText, statusJson } from '../../src/status/report.js';
import { formatDuration, judgeCounters, serviceUptimeSeconds } from '../../src/status/service-checks.js';
import { missingExecPaths, type ShowProperty } from '../../src/status/service-facts.js';
import { TextSink } from '../support/helpers.js';

const ALL_CAPS = [CAP_NET_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_SYS_NICE].reduce((mask, bit) => mask | (1n << BigInt(bit)), 0n);
const UNIT_CAPS = 'cap_net_admin cap_sys_ptrace cap_dac_read_search cap_sys_nice';

function host(overrides: Partial<HostFacts> = {}): HostFacts {
  return {
    privileges: { effectiveCaps: ALL_CAPS, kernelRelease: '6.18.4', initialPidNamespace: true, initialUserNamespace: true },
    kernel: { procEvents: true, rtGroupSched: false },
    rtprioLimit: 0,
    cgroupRtRuntimeUs: null,
    probe: { ran: true, ok: true, realtime: true, realtimeError: null, forcedBuffer: true, receiveBufferBytes: 16 * 1024 * 1024 },
    ...overrides,
  };
}

function counters(overrides: Partial<AgentCounters> = {}): AgentCounters {
  return {
    eventsByKind: { fork: 900, exec: 1000, exit: 880 },
    lostByCause: { overflow: 0, sequence_gap: 0, batch_dropped: 0, sequence_evicted: 0 },
    snapshotFailures: { partial: 0, gone: 0, stale: 0 },
    outputDropped: { stdout: 0, file: 0 },
    alerts: 2,
    realtime: true,
    rulesLoaded: 13,
    reloadsFailed: 0,
    ...overrides,
  };
}

const LOG_DIR: PathFacts = {
  dir: '/var/log/execwarden', existingAncestor: '/var/log/execwarden', ancestorUid: 61234, ancestorMode: 0o40750,
  writableHere: true, file: 'file', fileWritableHere: true,
};

const CONFIG_TABLE: Table = {
  metrics: { listen: '127.0.0.1:9464' },
  outputs: { stdout: { format: 'ndjson' }, file: { path: '/var/log/execwarden/alerts.ndjson' } },
};

/** A host the service protects, with nothing wrong. */
function healthy(): StatusFacts {
  const config = resolveConfig(CONFIG_TABLE, '/etc/execwarden/config.toml');
  const properties: Partial<Record<ShowProperty, string>> = {
    LoadState: 'loaded', UnitFileState: 'enabled', ActiveState: 'active', SubState: 'running', Result: 'success',
    MainPID: '4242', NRestarts: '0', ActiveEnterTimestampMonotonic: '1000000',
    FragmentPath: '/etc/systemd/system/execwarden.service',
    ExecStart: '{ path=/usr/bin/node ; argv[]=/usr/bin/node /opt/execwarden/bin/execwarden.js run --config /etc/execwarden/config.toml ; ignore_errors=no }',
    User: '', DynamicUser: 'yes', AmbientCapabilities: UNIT_CAPS, CapabilityBoundingSet: UNIT_CAPS,
    CPUQuotaPerSecUSec: '1s', LogsDirectory: 'execwarden', StateDirectory: 'execwarden', ReadWritePaths: '', IPAddressDeny: '', IPAddressAllow: '',
  };
  return {
    host: host(),
    service: { systemd: 'running', properties },
    serviceProcess: { uid: 61234, missingPrograms: [], nowMonotonicUs: 3_601_000_000 },
    foregroundAgents: [],
    config: { ok: true, file: '/etc/execwarden/config.toml', source: 'service', config },
    rules: { paths: [], rules: 13, disabled: 0, files: 13, errors: 0, warnings: 0, skipped: 0, neverMatch: 0, exceptions: null, first: [], failure: null },
    metrics: { state: 'read', address: '127.0.0.1:9464', fromAgent: true, counters: counters(), malformed: 0, truncated: false },
    outputs: [
      { kind: 'stdout', format: 'ndjson' },
      { kind: 'file', path: '/var/log/execwarden/alerts.ndjson', facts: LOG_DIR },
    ],
  };
}

function withProperties(facts: StatusFacts, properties: Partial<Record<ShowProperty, string>>): StatusFacts {
  if (facts.service.systemd !== 'running') throw new Error('not a systemd host');
  return { ...facts, service: { systemd: 'running', properties: { ...facts.service.properties, ...properties } } };
}

function withConfig(facts: StatusFacts, table: Table): StatusFacts {
  return { ...facts, config: { ok: true, file: '/etc/execwarden/config.toml', source: 'service', config: resolveConfig(table, '/etc/execwarden/config.toml') } };
}

function find(facts: StatusFacts, id: string): Check {
  const found = assessStatus(facts).checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id}: ${assessStatus(facts).checks.map((c) => c.id).join(', ')}`);
  return found;
}

describe('the verdict', () => {
  it('is "protected", exit 0, when every check is ok', () => {
    const report = assessStatus(healthy());
    expect(report.checks.filter((c) => c.level !== 'ok')).toEqual([]);
    expect(report.verdict).toEqual({ state: 'protected', reasons: [], text: 'protected', exitCode: 0 });
  });

  it('is "degraded" on warnings alone and "not protected" once there is a problem, exit 1 for both', () => {
    const ok = check('a', 'host', 'ok', 'a', 'fine');
    const warning = check('b', 'host', 'warning', 'b', 'meh', { reason: 'b is meh' });
    const problem = check('c', 'host', 'problem', 'c', 'broken', { reason: 'c is broken' });
    expect(verdictOf([ok, warning])).toEqual({ state: 'degraded', reasons: ['b is meh'], text: 'degraded: b is meh', exitCode: 1 });
    expect(verdictOf([ok, warning, problem])).toEqual({ state: 'not protected', reasons: ['c is broken'], text: 'not protected: c is broken', exitCode: 1 });
  });

  it('names every check in a fixed order of sections', () => {
    const ids = assessStatus(healthy()).checks.map((c) => c.id);
    expect(ids).toEqual([
      'host.kernel', 'host.namespaces', 'host.proc-connector', 'host.privileges',
      'service.unit', 'service.privileges', 'service.realtime', 'service.metrics',
      'config', 'rules', 'output.stdout', 'output.file',
    ]);
  });
});

describe('host checks', () => {
  it('a kernel without CONFIG_PROC_EVENTS or a container is not protected', () => {
    const noConnector = find({ ...healthy(), host: host({ kernel: { procEvents: false, rtGroupSched: false } }) }, 'host.kernel');
    expect(noConnector).toMatchObject({ level: 'problem', reason: 'the kernel has no proc connector' });
    const container = { ...healthy(), host: host({ privileges: { effectiveCaps: ALL_CAPS, kernelRelease: '6.1.0', initialPidNamespace: false, initialUserNamespace: true } }) };
    expect(find(container, 'host.namespaces')).toMatchObject({ level: 'problem', summary: expect.stringContaining('not the initial pid namespace') });
  });

  it('maps each subscription failure to a problem with its fix; EPERM is only a warning when a service runs', () => {
    const failed = (code: string): HostFacts => host({ probe: { ran: true, ok: false, code, message: `failed with ${code}` } });
    expect(find({ ...healthy(), host: failed('ADDON_NOT_BUILT') }, 'host.proc-connector')).toMatchObject({ level: 'problem', fix: expect.stringContaining('npm run build:native') });
    expect(find({ ...healthy(), host: failed('ESUBSCRIBE_TIMEOUT') }, 'host.proc-connector').level).toBe('problem');
    expect(find({ ...healthy(), host: failed('ENETNS') }, 'host.proc-connector').fix).toContain('PrivateNetwork');
    expect(find({ ...healthy(), host: failed('EPERM') }, 'host.proc-connector').level).toBe('warning');
    const noService: StatusFacts = { ...healthy(), host: failed('EPERM'), service: { systemd: 'absent', unitFile: null, detail: 'systemd is not the init system of this host' } };
    expect(find(noService, 'host.proc-connector').level).toBe('problem');
  });

  it('without a service, judges each capability of this process as the agent would', () => {
    const base: StatusFacts = { ...healthy(), service: { systemd: 'absent', unitFile: null, detail: 'no systemd' }, foregroundAgents: [] };
    const noCaps = (kernelRelease: string): StatusFacts => ({
      ...base,
      host: host({ privileges: { effectiveCaps: 0n, kernelRelease, initialPidNamespace: true, initialUserNamespace: true }, probe: { ran: false, reason: 'test' } }),
    });
    // Before 6.6 the subscription itself needs CAP_NET_ADMIN.
    expect(find(noCaps('5.10.0'), 'host.privilege.CAP_NET_ADMIN')).toMatchObject({ level: 'problem', summary: expect.stringContaining('before Linux 6.6') });
    expect(find(noCaps('6.18.4'), 'host.privilege.CAP_NET_ADMIN')).toMatchObject({ level: 'warning', summary: expect.stringContaining('SO_RCVBUFFORCE') });
    expect(find(noCaps('6.18.4'), 'host.privilege.CAP_SYS_PTRACE').level).toBe('warning');
    expect(find(noCaps('6.18.4'), 'host.privilege.CAP_DAC_READ_SEARCH').summary).toContain('0600');
    expect(find(noCaps('6.18.4'), 'host.realtime')).toMatchObject({ level: 'warning', summary: expect.stringContaining('RLIMIT_RTPRIO 0') });
    expect(() => find(noCaps('6.18.4'), 'host.privilege.CAP_KILL')).toThrow();
    const killing = withConfig(noCaps('6.18.4'), { response: { kill_process: true } });
    expect(find(killing, 'host.privilege.CAP_KILL')).toMatchObject({ level: 'warning', reason: 'kill_process on without CAP_KILL' });
    const root = withConfig({ ...base, host: host({ privileges: { ...host().privileges, effectiveCaps: ALL_CAPS | (1n << BigInt(CAP_KILL)) } }) }, { response: { kill_process: true } });
    expect(find(root, 'host.privilege.CAP_KILL').level).toBe('ok');
  });

  it('with a service, this shell’s privileges are one informational row', () => {
    const facts = { ...healthy(), host: host({ privileges: { ...host().privileges, effectiveCaps: 0n }, probe: { ran: false, reason: 'test' } }) };
    expect(find(facts, 'host.privileges')).toMatchObject({ level: 'ok', summary: expect.stringContaining('lacks CAP_NET_ADMIN, CAP_SYS_PTRACE') });
    expect(assessStatus(facts).verdict.state).toBe('protected');
  });

  it('predicts SCHED_FIFO from CAP_SYS_NICE, RLIMIT_RTPRIO and the cgroup realtime budget', () => {
    const noNice = ALL_CAPS & ~(1n << BigInt(CAP_SYS_NICE));
    expect(realtimeObstacles(host())).toEqual([]);
    expect(realtimeObstacles(host({ privileges: { ...host().privileges, effectiveCaps: noNice }, rtprioLimit: 10 }))).toEqual([]);
    expect(realtimeObstacles(host({ privileges: { ...host().privileges, effectiveCaps: noNice }, rtprioLimit: 9 }))).toEqual(['no CAP_SYS_NICE and RLIMIT_RTPRIO 9 (below 10)']);
    expect(realtimeObstacles(host({ cgroupRtRuntimeUs: 0 }))).toEqual(['this cpu cgroup has no realtime budget (cpu.rt_runtime_us = 0)']);
    const base: StatusFacts = { ...healthy(), service: { systemd: 'absent', unitFile: null, detail: 'no systemd' } };
    const refused = { ...base, host: host({ cgroupRtRuntimeUs: 0, probe: { ran: true, ok: true, realtime: false, realtimeError: 'Operation not permitted', forcedBuffer: true, receiveBufferBytes: 1 << 24 } }) };
    expect(find(refused, 'host.realtime')).toMatchObject({ level: 'warning', summary: expect.stringContaining('Operation not permitted'), fix: expect.stringContaining('cgroup') });
    expect(find(withConfig(base, { capture: { realtime: false } }), 'host.realtime')).toMatchObject({ level: 'warning', fix: 'set [capture] realtime = true' });
  });
});

describe('service checks', () => {
  it('reports pid, uptime and boot state of an active service', () => {
    expect(find(healthy(), 'service.unit')).toMatchObject({ level: 'ok', summary: 'active (running), pid 4242, up 1h 0m, enabled' });
  });

  it('gives each unhealthy state its level and fix', () => {
    const state = (properties: Partial<Record<ShowProperty, string>>): Check => find(withProperties(healthy(), properties), 'service.unit');
    expect(state({ LoadState: 'not-found' })).toMatchObject({ level: 'problem', fix: 'sudo execwarden install' });
    expect(state({ LoadState: 'masked' }).fix).toContain('unmask');
    expect(state({ ActiveState: 'inactive', SubState: 'dead' })).toMatchObject({ level: 'problem', fix: 'sudo systemctl enable --now execwarden', reason: 'the service is not running' });
    expect(state({ ActiveState: 'failed', SubState: 'failed', Result: 'exit-code' })).toMatchObject({ level: 'problem', summary: expect.stringContaining('exit-code'), fix: expect.stringContaining('journalctl') });
    expect(state({ ActiveState: 'activating' }).level).toBe('warning');
    const instead = { ...withProperties(healthy(), { ActiveState: 'inactive', SubState: 'dead' }), foregroundAgents: [{ pid: 77, command: 'execwarden run', config: null }] };
    expect(find(instead, 'service.unit')).toMatchObject({ level: 'warning', summary: 'inactive (dead), enabled; `execwarden run` runs instead as pid 77' });
    expect(state({ UnitFileState: 'disabled' })).toMatchObject({ level: 'warning', fix: 'sudo systemctl enable execwarden', reason: 'the service is not enabled at boot' });
    expect(state({ NRestarts: '3' })).toMatchObject({ level: 'warning', reason: 'the service was restarted 3 times' });
  });

  it('a unit whose node or script is gone is a problem', () => {
    const facts = { ...healthy(), serviceProcess: { ...healthy().serviceProcess, missingPrograms: ['/opt/old/node'] } };
    expect(find(facts, 'service.unit')).toMatchObject({ level: 'problem', summary: 'the unit runs /opt/old/node, which no longer exists' });
    const exec = '{ path=/opt/old/node ; argv[]=/opt/old/node /opt/old/bin/execwarden.js run --config /etc/x.toml ; }';
    expect(missingExecPaths(exec, (p) => p === '/opt/old/node')).toEqual(['/opt/old/bin/execwarden.js']);
  });

  it('without systemd: nothing running is a problem, an `execwarden run` found is a warning', () => {
    const absent: StatusFacts = { ...healthy(), service: { systemd: 'absent', unitFile: '/etc/systemd/system/execwarden.service', detail: 'systemd is not the init system of this host' } };
    expect(find(absent, 'service.unit')).toMatchObject({ level: 'problem', reason: 'no agent runs', summary: expect.stringContaining('the unit is installed') });
    const running = { ...absent, foregroundAgents: [{ pid: 77, command: 'node /opt/execwarden/bin/execwarden.js run', config: null }] };
    expect(find(running, 'service.unit')).toMatchObject({ level: 'warning', summary: expect.stringContaining('pid 77') });
    const unreachable: StatusFacts = { ...healthy(), service: { systemd: 'unreachable', unitFile: null, detail: 'Failed to connect to bus' } };
    expect(find(unreachable, 'service.unit')).toMatchObject({ level: 'problem', summary: expect.stringContaining('systemctl failed: Failed to connect to bus') });
  });

  it('checks the unit grants the four capabilities, and CAP_KILL when kill_process is on', () => {
    expect(find(healthy(), 'service.privileges')).toMatchObject({ level: 'ok', summary: 'grants CAP_NET_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_SYS_NICE' });
    const noPtrace = 'cap_net_admin cap_dac_read_search cap_sys_nice';
    expect(find(withProperties(healthy(), { AmbientCapabilities: noPtrace }), 'service.privileges')).toMatchObject({ level: 'warning', summary: expect.stringContaining('CAP_SYS_PTRACE') });
    const kill = withConfig(healthy(), { response: { kill_process: true } });
    expect(find(kill, 'service.privileges')).toMatchObject({ level: 'warning', fix: expect.stringContaining('CAP_KILL') });
    const withKill = withProperties(kill, { AmbientCapabilities: `${UNIT_CAPS} cap_kill`, CapabilityBoundingSet: `${UNIT_CAPS} cap_kill` });
    expect(find(withKill, 'service.privileges').level).toBe('ok');
    // As root without a dynamic user, the bounding set is what it holds.
    expect(find(withProperties(healthy(), { DynamicUser: 'no', User: '', AmbientCapabilities: '' }), 'service.privileges').level).toBe('ok');
  });

  it('warns that CPUQuota costs SCHED_FIFO on a kernel with realtime group scheduling, unless the agent says it has it', () => {
    const rtGroups = { ...healthy(), host: host({ kernel: { procEvents: true, rtGroupSched: true } }), metrics: { state: 'off' as const } };
    expect(find(rtGroups, 'service.realtime')).toMatchObject({ level: 'warning', summary: expect.stringContaining('CONFIG_RT_GROUP_SCHED'), fix: expect.stringContaining('CPUQuota=') });
    expect(find(withProperties(rtGroups, { CPUQuotaPerSecUSec: 'infinity' }), 'service.realtime').level).toBe('ok');
    expect(find({ ...rtGroups, metrics: healthy().metrics }, 'service.realtime')).toMatchObject({ level: 'ok', summary: expect.stringContaining('reports') });
    const refused = { ...healthy(), metrics: { ...healthy().metrics, counters: counters({ realtime: false }) } as StatusFacts['metrics'] };
    expect(find(refused, 'service.realtime')).toMatchObject({ level: 'warning', summary: expect.stringContaining('reports no SCHED_FIFO') });
    expect(find(withProperties({ ...healthy(), metrics: { state: 'off' } }, { AmbientCapabilities: 'cap_net_admin cap_sys_ptrace cap_dac_read_search' }), 'service.realtime').summary).toContain('no CAP_SYS_NICE');
  });

  it('turns each loss, failed snapshot and output drop into a warning that says what it means', () => {
    const judged = judgeCounters(counters({ lostByCause: { overflow: 2, sequence_gap: 0, batch_dropped: 5, sequence_evicted: 0 } }), null);
    expect(judged.issues).toEqual(['2 events lost (overflow)', '5 events lost (batch_dropped)']);
    expect(judged.details.join('\n')).toMatch(/overflow: 2: the kernel's receive buffer overflowed/);
    expect(judged.details.join('\n')).toMatch(/batch_dropped: 5: .*fell behind/);
    expect(judgeCounters(counters({ snapshotFailures: { partial: 0, gone: 5, stale: 0 } }), null).issues).toEqual([]);
    expect(judgeCounters(counters({ snapshotFailures: { partial: 0, gone: 50, stale: 0 } }), null).issues).toEqual(['50 snapshots gone']);
    expect(judgeCounters(counters({ snapshotFailures: { partial: 0, gone: 0, stale: 1 } }), null).issues).toEqual(['1 snapshot stale']);
    expect(judgeCounters(counters({ outputDropped: { webhook: 7 } }), null).issues).toEqual(['output webhook dropped 7']);
    expect(judgeCounters(counters({ reloadsFailed: 1 }), null).issues).toEqual(['1 reload failed']);
    const rules = healthy().rules;
    expect(judgeCounters(counters({ rulesLoaded: 12 }), rules).issues).toEqual(['runs 12 rules, the config gives 13']);
    const facts = { ...healthy(), metrics: { ...healthy().metrics, counters: counters({ lostByCause: { overflow: 1 } }) } as StatusFacts['metrics'] };
    const report = assessStatus(facts);
    expect(report.verdict).toMatchObject({ state: 'degraded', text: 'degraded: 1 events lost (overflow)' });
  });

  it('without a service, reads the running agent’s counters and its SCHED_FIFO, with fixes that need no systemd', () => {
    const agent: StatusFacts = {
      ...healthy(),
      service: { systemd: 'absent', unitFile: null, detail: 'no systemd' },
      foregroundAgents: [{ pid: 77, command: 'node /opt/execwarden/bin/execwarden.js run --config /etc/x.toml', config: '/etc/x.toml' }],
      metrics: { ...healthy().metrics, counters: counters({ realtime: false, rulesLoaded: 12 }) } as StatusFacts['metrics'],
    };
    expect(find(agent, 'service.realtime')).toMatchObject({ level: 'warning', summary: expect.stringContaining('reports no SCHED_FIFO') });
    expect(find(agent, 'service.metrics')).toMatchObject({ level: 'warning', fix: "SIGHUP to the agent's pid loads the current rules" });
    expect(judgeCounters(counters({ lostByCause: { overflow: 1 } }), null, false).fixes[0]).toBe('give the agent more CPU or a larger [capture] receive_buffer_bytes');
  });

  it('reports a metrics endpoint that is off, silent, or not the agent', () => {
    expect(find({ ...healthy(), metrics: { state: 'off' } }, 'service.metrics')).toMatchObject({ level: 'ok', fix: expect.stringContaining('[metrics] listen') });
    expect(find({ ...healthy(), metrics: { state: 'unreachable', address: '127.0.0.1:9464', error: 'ECONNREFUSED' } }, 'service.metrics')).toMatchObject({ level: 'warning', summary: expect.stringContaining('ECONNREFUSED') });
    expect(find({ ...healthy(), metrics: { state: 'read', address: '127.0.0.1:9464', fromAgent: false, counters: counters(), malformed: 3, truncated: false } }, 'service.metrics').level).toBe('warning');
  });

  it('formats uptimes and reads them from the monotonic clock', () => {
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(3 * 60 + 5)).toBe('3m 5s');
    expect(formatDuration(5 * 3600 + 120)).toBe('5h 2m');
    expect(formatDuration(2 * 86_400 + 3 * 3600)).toBe('2d 3h');
    expect(serviceUptimeSeconds('1000000', 3_000_000)).toBe(2);
    expect(serviceUptimeSeconds('0', 3_000_000)).toBeNull();
    expect(serviceUptimeSeconds('junk', 3_000_000)).toBeNull();
    expect(serviceUptimeSeconds('9000000', 3_000_000)).toBeNull();
  });
});

describe('config and rules checks', () => {
  it('an invalid config is a problem that quotes the file and key', () => {
    const facts: StatusFacts = {
      ...healthy(), rules: null, outputs: null,
      config: { ok: false, file: '/etc/execwarden/config.toml', source: 'service', code: 'CONFIG_INVALID', message: '/etc/execwarden/config.toml: outputs.webhok: unknown key', errno: null },
    };
    const config = find(facts, 'config');
    expect(config).toMatchObject({ level: 'problem', details: ['/etc/execwarden/config.toml: outputs.webhok: unknown key'], reason: 'the config is invalid' });
    expect(find(facts, 'rules').summary).toContain('not checked');
    expect(assessStatus(facts).verdict.text).toBe('not protected: the config is invalid');
  });

  it('a config this user cannot read is a warning while the service reads it; a missing one stops the service', () => {
    const unreadable = { ...healthy(), rules: null, outputs: null, config: { ok: false as const, file: '/etc/execwarden/config.toml', source: 'service' as const, code: 'CONFIG_INVALID', message: 'x', errno: 'EACCES' } };
    expect(find(unreadable, 'config')).toMatchObject({ level: 'warning', fix: 'sudo execwarden status' });
    const missing = { ...unreadable, config: { ...unreadable.config, errno: 'ENOENT' } };
    expect(find(missing, 'config')).toMatchObject({ level: 'problem', fix: 'sudo execwarden install writes the default config' });
  });

  it('rule errors are a problem with the first diagnostics, warnings a warning', () => {
    const first = ['/r/a.toml:3:9: error RULE0301 unexpected token', '/r/b.toml:1:1: warning RULE0302 field never filled'];
    const errors = { ...healthy(), rules: { ...healthy().rules!, paths: ['/r'], errors: 1, warnings: 1, first } };
    expect(find(errors, 'rules')).toMatchObject({ level: 'problem', details: first, fix: expect.stringContaining('execwarden rules validate /r') });
    const warnings = { ...healthy(), rules: { ...healthy().rules!, warnings: 7, first: first.slice(1) } };
    expect(find(warnings, 'rules')).toMatchObject({ level: 'warning', details: [first[1], '… 6 more'] });
    const never = { ...healthy(), rules: { ...healthy().rules!, neverMatch: 2, disabled: 1 } };
    expect(find(never, 'rules')).toMatchObject({ level: 'ok', summary: '13 rules from the bundled rules, 1 disabled by the rule selection, 2 never match on this agent; no errors or warnings' });
  });
});

describe('output checks', () => {
  const output = (facts: StatusFacts, out: OutputFacts, id: string): Check => find({ ...facts, outputs: [out] }, id);
  const fileAt = (path: string, dir: string, over: Partial<PathFacts> = {}): OutputFacts => ({
    kind: 'file', path, facts: { dir, existingAncestor: dir, ancestorUid: 0, ancestorMode: 0o40755, writableHere: true, file: 'absent', fileWritableHere: false, ...over },
  });

  it('a file the service cannot write (ProtectSystem=strict, dynamic user) is a problem; its own directories are fine', () => {
    expect(output(healthy(), fileAt('/srv/alerts/a.ndjson', '/srv/alerts'), 'output.file')).toMatchObject({ level: 'problem', summary: expect.stringContaining('read-only to the service'), fix: expect.stringContaining('ReadWritePaths=') });
    expect(output(healthy(), fileAt('/var/lib/execwarden/a.ndjson', '/var/lib/execwarden', { existingAncestor: '/var/lib' }), 'output.file')).toMatchObject({ level: 'ok', summary: expect.stringContaining('created by systemd') });
    expect(output(healthy(), fileAt('/tmp/a.ndjson', '/tmp'), 'output.file')).toMatchObject({ level: 'warning', summary: expect.stringContaining('private /tmp') });
    const granted = withProperties(healthy(), { ReadWritePaths: '-/srv/alerts' });
    expect(output(granted, fileAt('/srv/alerts/a.ndjson', '/srv/alerts'), 'output.file')).toMatchObject({ level: 'problem', summary: expect.stringContaining('owned by uid 0 with mode 0755') });
    expect(output(granted, fileAt('/srv/alerts/a.ndjson', '/srv/alerts', { ancestorMode: 0o41777 }), 'output.file').level).toBe('ok');
    expect(output(granted, fileAt('/srv/alerts/a.ndjson', '/srv/alerts', { ancestorUid: 61234 }), 'output.file').level).toBe('ok');
    expect(output(healthy(), fileAt('/var/log/execwarden/a', '/var/log/execwarden', { file: 'other' }), 'output.file').level).toBe('problem');
  });

  it('without a service, a file is judged by this process’s own access', () => {
    const here: StatusFacts = { ...healthy(), service: { systemd: 'absent', unitFile: null, detail: 'no systemd' }, foregroundAgents: [{ pid: 9, command: 'execwarden run', config: null }] };
    expect(output(here, fileAt('/srv/a.ndjson', '/srv'), 'output.file')).toMatchObject({ level: 'ok', summary: '/srv/a.ndjson: can be created' });
    expect(output(here, fileAt('/srv/a.ndjson', '/srv', { writableHere: false }), 'output.file').level).toBe('problem');
  });

  it('syslog: a missing socket or logger, an unresolvable or refusing peer is a problem (the agent cannot start)', () => {
    const unix = (socket: 'socket' | 'missing', loggerOnPath = true): OutputFacts => ({ kind: 'syslog-unix', transport: 'unix', path: '/dev/log', socket, loggerOnPath });
    expect(output(healthy(), unix('socket'), 'output.syslog').level).toBe('ok');
    expect(output(healthy(), unix('missing'), 'output.syslog')).toMatchObject({ level: 'problem', summary: expect.stringContaining('no syslog daemon') });
    expect(output(healthy(), unix('socket', false), 'output.syslog').fix).toContain('bsdutils');
    expect(output(healthy(), { kind: 'syslog-udp', host: 'log.example', port: 514, reach: { ok: false, error: 'ENOTFOUND' } }, 'output.syslog').level).toBe('problem');
    expect(output(healthy(), { kind: 'syslog-udp', host: '10.0.0.5', port: 514, reach: { ok: true, ms: 0 } }, 'output.syslog').summary).toContain('UDP has no handshake');
    expect(output(healthy(), { kind: 'syslog-tcp', host: '10.0.0.5', port: 6514, reach: { ok: false, error: 'ECONNREFUSED' } }, 'output.syslog')).toMatchObject({ level: 'problem', summary: expect.stringContaining('ECONNREFUSED') });
  });

  it('a silent webhook is a warning while another output works and a problem when none does', () => {
    const webhook: OutputFacts = { kind: 'webhook', origin: 'https://siem.example', host: 'siem.example', port: 443, reach: { ok: false, error: 'ETIMEDOUT' }, caFile: null, caReadable: null };
    const withOthers = { ...healthy(), outputs: [...healthy().outputs!, webhook] };
    expect(find(withOthers, 'output.webhook')).toMatchObject({ level: 'warning', reason: 'webhook unreachable' });
    expect(assessStatus(withOthers).verdict.text).toBe('degraded: webhook unreachable');
    expect(output(healthy(), webhook, 'output.webhook')).toMatchObject({ level: 'problem', reason: 'no output reachable' });
    expect(output(healthy(), { ...webhook, reach: { ok: true, ms: 3 } }, 'output.webhook')).toMatchObject({ level: 'ok', summary: 'https://siem.example accepts TCP connections (3 ms; nothing sent)' });
    expect(output(healthy(), { ...webhook, caFile: '/etc/ca.pem', caReadable: false }, 'output.webhook').level).toBe('problem');
  });

  it("a network output the unit's IPAddressDeny= blocks is a problem even when reachable from here", () => {
    const webhook: OutputFacts = { kind: 'webhook', origin: 'https://siem.example', host: 'siem.example', port: 443, reach: { ok: true, ms: 1 }, caFile: null, caReadable: null };
    const denied = withProperties(healthy(), { IPAddressDeny: '0.0.0.0/0 ::/0' });
    expect(find({ ...denied, outputs: [{ kind: 'stdout', format: 'ndjson' }, webhook] }, 'output.webhook')).toMatchObject({ level: 'problem', summary: expect.stringContaining('IPAddressDeny') });
    expect(ipDenied({ IPAddressDeny: '' }, 'siem.example')).toBe(false);
    expect(ipDenied({ IPAddressDeny: 'any' }, '127.0.0.1')).toBe(true);
    expect(ipDenied({ IPAddressDeny: 'any', IPAddressAllow: '127.0.0.0/8 ::1/128' }, '127.0.0.1')).toBe(false);
    expect(ipDenied({ IPAddressDeny: 'any', IPAddressAllow: '127.0.0.0/8 ::1/128' }, '10.0.0.5')).toBe(true);
    expect(ipDenied({ IPAddressDeny: 'any', IPAddressAllow: '10.0.0.0/8' }, '10.0.0.5')).toBe(false);
  });
});

describe('untrusted text', () => {
  it('escapes control and bidi characters from unit text, metrics labels and paths, and cuts long values', () => {
    const hostile = withProperties(healthy(), { ActiveState: 'failed', Result: 'exit\u001b[2J\u202ecode', SubState: 'x'.repeat(5000) });
    const facts: StatusFacts = {
      ...hostile,
      metrics: { ...healthy().metrics, counters: counters({ outputDropped: { 'evil\u001b]0;pwned\u0007': 3 } }) } as StatusFacts['metrics'],
      outputs: [{ kind: 'file', path: '/var/log/execwarden/\u001b[31mred', facts: LOG_DIR }],
    };
    const report = assessStatus(facts);
    const text = renderStatusText(report);
    const json = JSON.stringify(statusJson(report, facts));
    for (const out of [text, json]) {
      expect(out).not.toMatch(/[\u001b\u0007\u202e]/);
    }
    expect(text).toContain('exit\\x1b[2J\\u{202e}code');
    expect(text).toContain('evil\\x1b]0;pwned\\x07');
    expect(text).toContain('/var/log/execwarden/\\x1b[31mred');
    expect(Math.max(...text.split('\n').map((line) => line.length))).toBeLessThan(1000);
  });
});

describe('statusAction', () => {
  const run = async (facts: StatusFacts, json: boolean): Promise<{ exitCode: number; out: string }> => {
    const stdout = new TextSink();
    const result = await statusAction({ json }, { stdout, stderr: new TextSink() }, { gather: async () => facts });
    return { exitCode: result.exitCode, out: stdout.text };
  };

  it('prints one section per part and ends with the verdict; exit 0 when protected', async () => {
    const { exitCode, out } = await run(healthy(), false);
    expect(exitCode).toBe(0);
    expect(out.split('\n').filter((l) => /^[A-Z]/.test(l))).toEqual(['Host and this shell', 'Service', 'Config', 'Rules', 'Outputs']);
    expect(out).toMatch(/\n {2}ok +service +active \(running\), pid 4242, up 1h 0m, enabled\n/);
    expect(out.trimEnd().split('\n').at(-1)).toBe('verdict: protected');
  });

  it('prints the fix under each check that is not ok; exit 1 when degraded or not protected', async () => {
    const stopped = withProperties(healthy(), { ActiveState: 'inactive', SubState: 'dead' });
    const { exitCode, out } = await run(stopped, false);
    expect(exitCode).toBe(1);
    expect(out).toMatch(/problem +service +inactive \(dead\), enabled\n +fix: sudo systemctl enable --now execwarden\n/);
    expect(out.trimEnd().split('\n').at(-1)).toBe('verdict: not protected: the service is not running');
    const degraded = await run({ ...healthy(), metrics: { ...healthy().metrics, counters: counters({ outputDropped: { file: 1 } }) } as StatusFacts['metrics'] }, false);
    expect(degraded.exitCode).toBe(1);
  });

  it('--json prints the same report as one object', async () => {
    const { exitCode, out } = await run(healthy(), true);
    const json = JSON.parse(out) as Record<string, unknown> & { checks: Record<string, unknown>[] };
    expect(exitCode).toBe(0);
    expect(Object.keys(json)).toEqual(['verdict', 'reasons', 'summary', 'exit_code', 'checks', 'service', 'metrics']);
    expect(json).toMatchObject({ verdict: 'protected', reasons: [], summary: 'protected', exit_code: 0 });
    expect(json.checks[0]).toEqual({ id: 'host.kernel', section: 'host', level: 'ok', title: 'kernel', summary: 'Linux 6.18.4, proc connector built in', fix: null, details: [] });
    expect(json.service).toEqual({
      systemd: 'running', load_state: 'loaded', unit_file_state: 'enabled', active_state: 'active', sub_state: 'running',
      main_pid: 4242, uptime_seconds: 3600, restarts: 0,
    });
    expect(json.metrics).toMatchObject({ state: 'read', from_agent: true, events_by_kind: { exec: 1000 }, events_lost_by_cause: { overflow: 0 }, alerts: 2, realtime: true, rules_loaded: 13 });
    const broken = await run({ ...healthy(), service: { systemd: 'absent', unitFile: null, detail: 'systemd is not the init system of this host' } }, true);
    expect(JSON.parse(broken.out)).toMatchObject({ verdict: 'not protected', reasons: ['no agent runs'], exit_code: 1, service: { systemd: 'absent' } });
    expect(broken.exitCode).toBe(1);
  });
});

describe('on this machine', () => {
  const ROOT = resolve(import.meta.dirname, '../..');
  const CLI = join(ROOT, 'bin/execwarden.js');
  const VERDICT = /^verdict: (protected|degraded: .+|not protected: .+)$/;

  it('`execwarden status` runs end to end and ends with a verdict that matches its exit code', () => {
    if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) throw new Error('the CLI is not built: run `npm run build:ts` first');
    const run = spawnSync(process.execPath, [CLI, 'status'], { encoding: 'utf8', timeout: 20_000 });
    expect(run.stderr).toBe('');
    const last = run.stdout.trimEnd().split('\n').at(-1) ?? '';
    expect(last).toMatch(VERDICT);
    expect(run.status).toBe(last === 'verdict: protected' ? 0 : 1);
    expect(run.stdout).toMatch(/^ {2}(ok|warning|problem) +kernel +Linux /m);
  });

  it('`execwarden doctor --json` (the alias) prints the same report as JSON', async () => {
    const stdout = new TextSink();
    const status = await runCli(['node', 'execwarden', 'doctor', '--json', '--no-probe'], { stdout, stderr: new TextSink() });
    const json = JSON.parse(stdout.text) as { verdict: string; exit_code: number; checks: { id: string; level: string }[] };
    expect(['protected', 'degraded', 'not protected']).toContain(json.verdict);
    expect(status).toBe(json.exit_code);
    expect(json.checks.map((c) => c.id)).toContain('service.unit');
    expect(json.checks.map((c) => c.id)).not.toContain('host.proc-connector');
  });
});
