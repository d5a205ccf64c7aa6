/**
 * The readers behind `execwarden status`: the metrics page parsed back (from the agent's own
 * renderer, and hostile text), `systemctl show` output, the kernel and cgroup files, the process
 * scan's argv test, and the network look-ups against local servers (which must receive nothing).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderMetrics, type Metric } from '../../src/agent/metrics.js';
import { cpuCgroupPath, isAgentArgv, kernelBuildFrom, rtprioFromLimits } from '../../src/status/host-facts.js';
import { agentCounters, looksLikeAgent, parseMetricsText } from '../../src/status/metrics-text.js';
import { onPath, pathFacts, webhookOrigin } from '../../src/status/output-facts.js';
import { dialAddress, fetchMetricsText, MAX_METRICS_BYTES, tcpConnect } from '../../src/status/reach.js';
import { capabilityNames, configArgument, parseExecStart, parseShowOutput, readServiceFacts, readWritePaths } from '../../src/status/service-facts.js';
import { readConfigFacts } from '../../src/status/gather.js';

const AGENT_METRICS: Metric[] = [
  { name: 'execwarden_events_total', help: 'Events.', type: 'counter', samples: [{ labels: { kind: 'exec' }, value: 1000 }, { labels: { kind: 'fork' }, value: 990 }] },
  {
    name: 'execwarden_events_lost_total', help: 'Lost.', type: 'counter',
    samples: [{ labels: { cause: 'overflow' }, value: 3 }, { labels: { cause: 'sequence_gap' }, value: 0 }, { labels: { cause: 'batch_dropped' }, value: 0 }, { labels: { cause: 'sequence_evicted' }, value: 0 }],
  },
  { name: 'execwarden_snapshot_failures_total', help: 'Snapshots.', type: 'counter', samples: [{ labels: { reason: 'stale' }, value: 1 }] },
  { name: 'execwarden_output_dropped_total', help: 'Drops.', type: 'counter', samples: [{ labels: { output: 'webhook' }, value: 4 }, { labels: { output: 'we"ird\\out\nput' }, value: 1 }] },
  { name: 'execwarden_alerts_total', help: 'Alerts.', type: 'counter', samples: [{ value: 12 }] },
  { name: 'execwarden_realtime', help: '1 when SCHED_FIFO.', type: 'gauge', samples: [{ value: 1 }] },
  { name: 'execwarden_rules_loaded', help: 'Rules.', type: 'gauge', samples: [{ value: 13 }] },
  { name: 'execwarden_reloads_total', help: 'Reloads.', type: 'counter', samples: [{ labels: { result: 'ok' }, value: 2 }, { labels: { result: 'failed' }, value: 1 }] },
];

describe('metrics text', () => {
  it('reads back what the agent renders, escaped label values included', () => {
    const parsed = parseMetricsText(renderMetrics(AGENT_METRICS));
    expect(parsed).toMatchObject({ malformed: 0, truncated: false });
    expect(looksLikeAgent(parsed.samples)).toBe(true);
    expect(agentCounters(parsed.samples)).toEqual({
      eventsByKind: { exec: 1000, fork: 990 },
      lostByCause: { overflow: 3, sequence_gap: 0, batch_dropped: 0, sequence_evicted: 0 },
      snapshotFailures: { stale: 1 },
      outputDropped: { webhook: 4, 'we"ird\\out\nput': 1 },
      alerts: 12,
      realtime: true,
      rulesLoaded: 13,
      reloadsFailed: 1,
    });
  });

  it('skips and counts malformed lines, accepts timestamps and special values', () => {
    const text = [
      '# HELP x y', 'ok_metric 1 1700000000000', 'spaced{a="1"}   2', 'inf +Inf', 'nan NaN',
      'no_value', 'bad{a=1} 1', 'bad{a="open} 1', 'bad{a="x"} 1 2 3', 'bad{a="\\q"} 1', '9starts_with_digit 1', 'word notanumber',
    ].join('\r\n');
    const parsed = parseMetricsText(text);
    expect(parsed.samples.map((s) => [s.name, s.value])).toEqual([['ok_metric', 1], ['spaced', 2], ['inf', Infinity], ['nan', NaN]]);
    expect(parsed.malformed).toBe(7);
    expect(looksLikeAgent(parsed.samples)).toBe(false);
  });

  it('stays within its limits: characters, samples, labels per sample, entries per counter', () => {
    const many = Array.from({ length: 100 }, (_, i) => `execwarden_output_dropped_total{output="o${i}"} ${i}`).join('\n');
    const counters = agentCounters(parseMetricsText(many).samples);
    expect(Object.keys(counters.outputDropped)).toHaveLength(32);
    expect(parseMetricsText(many, { maxChars: 1 << 20, maxSamples: 10, maxLabels: 16 })).toMatchObject({ truncated: true });
    expect(parseMetricsText(many, { maxChars: 100, maxSamples: 10_000, maxLabels: 16 }).samples).toHaveLength(2);
    const labels = Array.from({ length: 20 }, (_, i) => `l${i}="v"`).join(',');
    expect(parseMetricsText(`m{${labels}} 1`).malformed).toBe(1);
  });

  it('keeps hostile label values as plain keys', () => {
    const counters = agentCounters(parseMetricsText('execwarden_output_dropped_total{output="__proto__"} 5\nexecwarden_output_dropped_total{output="constructor"} 6').samples);
    expect(Object.getPrototypeOf(counters.outputDropped)).toBe(Object.prototype);
    expect(Object.entries(counters.outputDropped)).toEqual([['__proto__', 5], ['constructor', 6]]);
  });
});

describe('systemctl show', () => {
  const SHOW = [
    'LoadState=loaded', 'ActiveState=active', 'MainPID=4242', 'Unknown=ignored', 'no equals sign',
    'ExecStart={ path=/usr/bin/node ; argv[]=/usr/bin/node /opt/execwarden/bin/execwarden.js run --config /etc/execwarden/config.toml ; ignore_errors=no ; start_time=[n/a] }',
    'AmbientCapabilities=cap_net_admin cap_sys_ptrace bogus',
    'ReadWritePaths=-/srv/a +/srv/b relative',
    `FragmentPath=${'x'.repeat(10_000)}`,
  ].join('\n');

  it('keeps only the known properties, cut to a bound', () => {
    const p = parseShowOutput(SHOW);
    expect(p).toMatchObject({ LoadState: 'loaded', ActiveState: 'active', MainPID: '4242' });
    expect('Unknown' in p).toBe(false);
    expect(p.FragmentPath).toHaveLength(4096);
    expect(capabilityNames(p.AmbientCapabilities)).toEqual(['CAP_NET_ADMIN', 'CAP_SYS_PTRACE']);
    expect(readWritePaths(p.ReadWritePaths)).toEqual(['/srv/a', '/srv/b']);
  });

  it("reads ExecStart's program, argv and --config", () => {
    const exec = parseExecStart(parseShowOutput(SHOW).ExecStart);
    expect(exec).toEqual({ path: '/usr/bin/node', argv: ['/usr/bin/node', '/opt/execwarden/bin/execwarden.js', 'run', '--config', '/etc/execwarden/config.toml'] });
    expect(configArgument(exec!.argv)).toBe('/etc/execwarden/config.toml');
    expect(configArgument(['x', 'run', '--config=/a.toml'])).toBe('/a.toml');
    expect(configArgument(['x', 'run', '-c', '/b.toml'])).toBe('/b.toml');
    expect(configArgument(['x', 'run'])).toBeNull();
    expect(parseExecStart(undefined)).toBeNull();
    expect(parseExecStart('garbage')).toBeNull();
  });

  it('handles a host without systemd, a failing systemctl, and a running one', () => {
    const root = mkdtempSync(join(tmpdir(), 'execwarden-status-'));
    try {
      const never = (): never => {
        throw new Error('systemctl must not run without systemd');
      };
      expect(readServiceFacts({ root, systemctl: never })).toEqual({ systemd: 'absent', unitFile: null, detail: 'systemd is not the init system of this host' });
      mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
      writeFileSync(join(root, 'etc/systemd/system/execwarden.service'), '[Service]\n');
      expect(readServiceFacts({ root, systemctl: never })).toMatchObject({ systemd: 'absent', unitFile: '/etc/systemd/system/execwarden.service' });
      mkdirSync(join(root, 'run/systemd/system'), { recursive: true });
      const calls: string[][] = [];
      const ok = readServiceFacts({ root, systemctl: (args) => (calls.push(args), { status: 0, stdout: 'LoadState=not-found\nActiveState=inactive\n', stderr: '' }) });
      expect(ok).toEqual({ systemd: 'running', properties: { LoadState: 'not-found', ActiveState: 'inactive' } });
      expect(calls[0]?.slice(0, 2)).toEqual(['show', 'execwarden.service']);
      expect(readServiceFacts({ root, systemctl: () => ({ status: 1, stdout: '', stderr: 'Failed to connect to bus: No such file or directory\n' }) })).toMatchObject({ systemd: 'unreachable', detail: 'Failed to connect to bus: No such file or directory' });
      expect(readServiceFacts({ root, systemctl: () => ({ status: null, stdout: '', stderr: '', error: 'spawnSync systemctl ENOENT' }) })).toMatchObject({ systemd: 'absent', detail: 'systemctl is not installed' });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('host files', () => {
  it('reads CONFIG_PROC_EVENTS and realtime group scheduling from the kernel config, boot line and cgroup files', () => {
    const config = 'CONFIG_PROC_EVENTS=y\nCONFIG_RT_GROUP_SCHED=y\n# CONFIG_RT_GROUP_SCHED_DEFAULT_DISABLED is not set\n';
    expect(kernelBuildFrom(config, '', false)).toEqual({ procEvents: true, rtGroupSched: true });
    expect(kernelBuildFrom(config, 'quiet rt_group_sched=0', false)).toEqual({ procEvents: true, rtGroupSched: false });
    expect(kernelBuildFrom(`${config}CONFIG_RT_GROUP_SCHED_DEFAULT_DISABLED=y\n`, '', false).rtGroupSched).toBe(false);
    expect(kernelBuildFrom(`${config}CONFIG_RT_GROUP_SCHED_DEFAULT_DISABLED=y\n`, 'rt_group_sched=1', false).rtGroupSched).toBe(true);
    expect(kernelBuildFrom('# CONFIG_PROC_EVENTS is not set\n', '', false)).toEqual({ procEvents: false, rtGroupSched: false });
    expect(kernelBuildFrom(null, '', false)).toEqual({ procEvents: null, rtGroupSched: null });
    expect(kernelBuildFrom(null, '', true)).toEqual({ procEvents: null, rtGroupSched: true });
  });

  it('reads RLIMIT_RTPRIO and the cpu cgroup', () => {
    expect(rtprioFromLimits('Limit                     Soft Limit           Hard Limit           Units\nMax realtime priority     0                    0                    \n')).toBe(0);
    expect(rtprioFromLimits('Max realtime priority     unlimited            unlimited\n')).toBe(Infinity);
    expect(rtprioFromLimits('')).toBeNull();
    expect(cpuCgroupPath('9:name=systemd:/\n2:cpuacct:/\n1:cpu:/system.slice/x.service\n0::/\n')).toBe('/system.slice/x.service');
    expect(cpuCgroupPath('3:cpu,cpuacct:/user.slice\n')).toBe('/user.slice');
    expect(cpuCgroupPath('0::/user.slice\n')).toBeNull();
  });

  it('recognises an `execwarden run` command line, not other commands or wrappers naming it', () => {
    expect(isAgentArgv(['/usr/bin/node', '/opt/execwarden/bin/execwarden.js', 'run', '--config', '/etc/x.toml'])).toBe(true);
    expect(isAgentArgv(['execwarden', '--no-color', 'run'])).toBe(true);
    expect(isAgentArgv(['/usr/bin/node', '/opt/execwarden/bin/execwarden.js', 'status'])).toBe(false);
    expect(isAgentArgv(['/usr/bin/node', '/opt/execwarden/bin/execwarden.js', 'lab'])).toBe(false);
    expect(isAgentArgv(['bash', '-c', 'execwarden run'])).toBe(false);
    expect(isAgentArgv(['vim', 'notes', '/tmp/execwarden', 'run'])).toBe(false);
  });
});

describe('reading the config a status judges', () => {
  const dir = mkdtempSync(join(tmpdir(), 'execwarden-status-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('returns the ConfigError message with file and key, or the errno of a file it cannot read', () => {
    const bad = join(dir, 'bad.toml');
    writeFileSync(bad, '[outputs.webhok]\nurl = "http://x"\n');
    const facts = readConfigFacts(bad, 'option');
    expect(facts).toMatchObject({ ok: false, file: bad, code: 'CONFIG_INVALID', errno: null });
    expect(!facts.ok && facts.message).toContain(`${bad}`);
    expect(!facts.ok && facts.message).toContain('webhok');
    expect(readConfigFacts(join(dir, 'missing.toml'), 'service')).toMatchObject({ ok: false, errno: 'ENOENT', source: 'service' });
    const good = join(dir, 'good.toml');
    writeFileSync(good, '[metrics]\nlisten = "127.0.0.1:9464"\n');
    expect(readConfigFacts(good, 'option')).toMatchObject({ ok: true, file: good, config: { metrics: { listen: { host: '127.0.0.1', port: 9464 } } } });
  });
});

describe('outputs, looked at without sending', () => {
  const servers: (Server | HttpServer)[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  const listen = async <S extends Server | HttpServer>(server: S): Promise<number> => {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return (server.address() as AddressInfo).port;
  };

  it('a TCP connect succeeds against a listener that then receives no byte, and fails against a closed port', async () => {
    let received = 0;
    const closed = new Promise<void>((resolve) => {
      const server = createServer((socket) => {
        socket.on('data', (chunk) => (received += chunk.length));
        socket.on('close', () => resolve());
      });
      void listen(server).then(async (port) => {
        expect(await tcpConnect('127.0.0.1', port)).toMatchObject({ ok: true });
      });
    });
    await closed;
    expect(received).toBe(0);
    const unused = createServer();
    const port = await listen(unused);
    await new Promise<void>((resolve) => unused.close(() => resolve()));
    servers.splice(servers.indexOf(unused), 1);
    expect(await tcpConnect('127.0.0.1', port)).toEqual({ ok: false, error: 'ECONNREFUSED' });
  });

  it('fetches the metrics page, with a timeout, a size bound and an HTTP status check', async () => {
    const page = renderMetrics(AGENT_METRICS);
    const port = await listen(createHttpServer((req, res) => {
      if (req.url === '/metrics') res.end(page);
      else res.writeHead(404).end();
    }));
    expect(await fetchMetricsText({ host: '127.0.0.1', port })).toEqual({ ok: true, text: page, truncated: false });
    const big = await listen(createHttpServer((_req, res) => res.end('#'.repeat(MAX_METRICS_BYTES + 10))));
    const cut = await fetchMetricsText({ host: '127.0.0.1', port: big });
    expect(cut).toMatchObject({ ok: true, truncated: true });
    expect(cut.ok && cut.text.length).toBe(MAX_METRICS_BYTES);
    const missing = await listen(createHttpServer((_req, res) => res.writeHead(404).end()));
    expect(await fetchMetricsText({ host: '127.0.0.1', port: missing })).toEqual({ ok: false, error: 'HTTP 404' });
    const silent = await listen(createHttpServer(() => undefined));
    expect(await fetchMetricsText({ host: '127.0.0.1', port: silent }, 100)).toEqual({ ok: false, error: 'no answer within 100 ms' });
    expect(dialAddress({ host: '0.0.0.0', port: 1 })).toEqual({ host: '127.0.0.1', port: 1 });
    expect(dialAddress({ host: '::', port: 1 })).toEqual({ host: '::1', port: 1 });
  });

  it("reduces a webhook URL to its origin: no credentials, path or query", () => {
    expect(webhookOrigin('https://user:secret@siem.example:8443/ingest?token=abc')).toEqual({ origin: 'https://siem.example:8443', host: 'siem.example', port: 8443 });
    expect(webhookOrigin('http://[::1]/x')).toEqual({ origin: 'http://[::1]', host: '::1', port: 80 });
    expect(webhookOrigin('https://siem.example')).toMatchObject({ port: 443 });
    expect(webhookOrigin('not a url')).toBeNull();
  });

  it("describes a file output's path: nearest existing directory, its owner and mode, this process's access", () => {
    const dir = mkdtempSync(join(tmpdir(), 'execwarden-status-file-'));
    try {
      const deep = pathFacts(join(dir, 'a/b/alerts.ndjson'));
      expect(deep).toMatchObject({ dir: join(dir, 'a/b'), existingAncestor: dir, writableHere: true, file: 'absent' });
      writeFileSync(join(dir, 'alerts.ndjson'), '');
      expect(pathFacts(join(dir, 'alerts.ndjson'))).toMatchObject({ existingAncestor: dir, file: 'file', fileWritableHere: true });
      mkdirSync(join(dir, 'sub'));
      expect(pathFacts(join(dir, 'sub'))).toMatchObject({ file: 'other' });
      expect(onPath('sh')).toBe(true);
      expect(onPath('no-such-program-here', dir)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
