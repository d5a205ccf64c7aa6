/**
 * Capture benchmark: an exec storm (test/bench/storm.c fork-execs a static no-op binary, one at a
 * time, each with a unique marker argument) run without capture, with a LiveSource capturing, and
 * under forkstat when it is installed. The no-op exits at once, so its argv is only readable in
 * the moment after exec: the share of markers seen with their argument is the measure of how
 * immediate the /proc snapshot is. A second storm launches the no-op through setsid and nohup,
 * which exec in place, and checks that each launch's first exec is described as the wrapper.
 * refreader.c runs the same storm with the agent's /proc reads in plain C, and with cmdline
 * alone, so the figures say what the reads cost apart from the agent around them. `run` is
 * measured twice: started afresh, and with its process table already full (as on any host once
 * that many processes have come and gone), where every new process evicts the oldest exited one.
 *
 * Runnable alone: npx tsc -p tsconfig.build.json && node dist/test/bench/capture.js
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LiveSource } from '../../src/capture/live-source.js';
import type { CaptureStats, RawEvent } from '../../src/capture/raw-event.js';
import { DEFAULT_ENV_VARS, namesToRead } from '../../src/process/environment.js';
import { DEFAULT_MAX_ENTRIES } from '../../src/process/process-table.js';

export interface CaptureBenchOptions {
  /** Execs per storm run. Default 5000. */
  storm?: number;
  /** Storm runs per configuration (alternated); medians are reported. Default 3. */
  runs?: number;
  /** Launches through setsid/nohup for the wrapper check. Default 200. */
  wrapperLaunches?: number;
  /** Unmeasured execs before the full-table `run` column: the default table's size and more. */
  fullTableWarmup?: number;
}

export interface StormResult {
  execs: number;
  seconds: number;
  rate: number;
  pid: number;
}

export interface Tools {
  storm: string;
  noop: string;
  staticNoop: boolean;
  /** refreader.c: the proc connector with execwarden's /proc reads in plain C (the floor). */
  refreader: string;
  dir: string;
}

const TARGETS = { argvPct: 99.5, wrapperPct: 100, lost: 0, slowdownPct: 10 };

/** storm.c lives beside this file in the source tree; from dist/test/bench, three levels up. */
function sourceDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [here, path.resolve(here, '..', '..', '..', 'test', 'bench')];
  const found = candidates.find((dir) => existsSync(path.join(dir, 'storm.c')));
  if (!found) throw new Error(`storm.c not found in ${candidates.join(', ')}`);
  return found;
}

/** Builds storm.c, noop.c (static when libc.a is there) and refreader.c in a temporary folder. */
export function buildTools(): Tools {
  const src = sourceDir();
  const dir = mkdtempSync(path.join(tmpdir(), 'execwarden-bench-'));
  const storm = path.join(dir, 'storm');
  const noop = path.join(dir, 'noop');
  execFileSync('gcc', ['-O2', '-o', storm, path.join(src, 'storm.c')]);
  // gcc prints the bare name back when it cannot find the file.
  const libc = execFileSync('gcc', ['-print-file-name=libc.a'], { encoding: 'utf8' }).trim();
  const staticNoop = path.isAbsolute(libc) && existsSync(libc);
  execFileSync('gcc', ['-O2', ...(staticNoop ? ['-static'] : []), '-o', noop, path.join(src, 'noop.c')]);
  const refreader = path.join(dir, 'refreader');
  execFileSync('gcc', ['-O2', '-o', refreader, path.join(src, 'refreader.c')]);
  return { storm, noop, staticNoop, refreader, dir };
}

export function runStorm(tools: Tools, count: number, prefix: string, wrappers: string[] = [], onPid?: (pid: number) => void) {
  return new Promise<StormResult>((resolve, reject) => {
    const child = spawn(tools.storm, [String(count), tools.noop, prefix, ...wrappers], {
      stdio: ['ignore', 'pipe', 'inherit'],
      cwd: tools.dir,
    });
    if (child.pid !== undefined) onPid?.(child.pid);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`storm exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as StormResult);
    });
  });
}

function argvOf(event: RawEvent): string[] | null {
  const cmdline = event.snapshot?.cmdline;
  if (!cmdline) return null;
  const text = cmdline.toString('latin1');
  return (text.endsWith('\0') ? text.slice(0, -1) : text).split('\0');
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const pct = (part: number, whole: number) => (whole === 0 ? 0 : (100 * part) / whole);
const lostOf = (s: CaptureStats) => s.sequenceGaps + s.eventsDropped;

interface CapturedRun {
  storm: StormResult;
  argvSeen: number;
  cpuMs: number;
  stats: CaptureStats;
  timing: { taken: number; urgentNs: number; restNs: number };
}

/** The reads the agent makes by default (environ with the default allow-list). */
const AGENT_ENV_VARS = namesToRead(DEFAULT_ENV_VARS);

async function captureStorm(tools: Tools, count: number, prefix: string, envVars: string[] = AGENT_ENV_VARS): Promise<CapturedRun> {
  const marker = Buffer.from(`${prefix}-`);
  const seen = new Set<string>();
  const source = new LiveSource({ envVars });
  await source.start((events) => {
    for (const event of events) {
      const cmdline = event.snapshot?.cmdline;
      if (event.kind !== 'exec' || !cmdline || cmdline.indexOf(marker) < 0) continue;
      const argv = argvOf(event)!;
      if (argv.length === 2 && argv[0] === tools.noop && argv[1]!.startsWith(`${prefix}-`)) seen.add(argv[1]!);
    }
  });
  const cpuBefore = cpuNs(process.pid);
  const storm = await runStorm(tools, count, prefix);
  await sleep(200);
  const cpuMs = (cpuNs(process.pid) - cpuBefore) / 1e6;
  await source.stop();
  return { storm, argvSeen: seen.size, cpuMs, stats: source.stats(), timing: source.snapshotTiming() };
}

/** Each launch through setsid or nohup: is the first exec of that pid described as the wrapper? */
async function wrapperAttribution(tools: Tools, launches: number) {
  const stormPids = new Set<number>();
  const children = new Set<number>();
  const firstExec = new Map<number, string[] | null>();
  const source = new LiveSource({ envVars: AGENT_ENV_VARS });
  await source.start((events) => {
    for (const event of events) {
      if (event.kind === 'fork' && stormPids.has(event.parentTgid ?? -1)) children.add(event.tgid);
      else if (event.kind === 'exec' && children.has(event.tgid) && !firstExec.has(event.tgid)) {
        firstExec.set(event.tgid, argvOf(event));
      }
    }
  });
  await runStorm(tools, launches, 'wrapped', ['setsid', 'nohup'], (pid) => stormPids.add(pid));
  await sleep(200);
  await source.stop();
  let attributed = 0;
  for (const argv of firstExec.values()) {
    const wrapper = argv ? path.basename(argv[0]!) : '';
    if ((wrapper === 'setsid' || wrapper === 'nohup') && argv![1] === tools.noop) attributed += 1;
  }
  return { launches, children: children.size, attributed, stats: source.stats() };
}

/**
 * CPU time of a process in nanoseconds: the sum of its threads' run time as the scheduler keeps
 * it (/proc/<pid>/task/<tid>/schedstat, first field), exact where utime and stime are sampled at
 * the tick and vary by a tenth between runs of the same build. A thread that ends in between is
 * not counted; the tools measured here keep theirs.
 */
function cpuNs(pid: number): number {
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    }
    return total;
  } catch {
    return NaN;
  }
}

/**
 * Runs the storm while `child` (the tool measured) is up, then stops it with SIGINT and waits for
 * its exit: the storm's figures and the CPU the tool's process used meanwhile (every thread).
 */
async function stormUnder(child: ChildProcess, tools: Tools, count: number, prefix: string) {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const before = cpuNs(child.pid!);
  const storm = await runStorm(tools, count, prefix);
  await sleep(300);
  const used = cpuNs(child.pid!) - before;
  child.kill('SIGINT');
  await exited;
  return { storm, cpuMs: used / 1e6 };
}

function hasForkstat(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v forkstat'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', ...(import.meta.url.includes('/dist/') ? ['..'] : []));

interface CliRun {
  storm: StormResult;
  /** Markers seen with their argument (capture only; null for run, which writes no events). */
  argvSeen: number | null;
  cpuMs: number;
}

/**
 * The same storm under the agent as users run it, in its own process: `execwarden capture
 * --actions exec` (events to a pipe read here) or `execwarden run` with the bundled rules and a
 * file output, no --events. CPU is the process's, every thread's run time (cpuNs). With `warmup`,
 * that many execs go first, unmeasured.
 */
async function cliStorm(tools: Tools, count: number, prefix: string, mode: 'capture' | 'run', warmup = 0): Promise<CliRun> {
  const config = path.join(tools.dir, 'bench.toml');
  const args = mode === 'capture'
    ? ['capture', '--actions', 'exec']
    : ['run', '--config', config];
  if (mode === 'run') writeFileSync(config, `[outputs.file]\npath = "${path.join(tools.dir, 'alerts.ndjson')}"\n`);
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'execwarden.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: tools.dir });
  const marker = `${prefix}-`;
  const seen = new Set<string>();
  let pending = '';
  let lines = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const line of parts) {
      lines++;
      if (!line.includes(marker)) continue;
      const args = (JSON.parse(line) as { process?: { args?: string[] } }).process?.args;
      if (args && args.length === 2 && args[0] === tools.noop && args[1]!.startsWith(marker)) seen.add(args[1]!);
    }
  });
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  // Ready: run says so in its log; capture once it has written an event.
  for (let waited = 0; waited < 15_000; waited += 100) {
    if (mode === 'run' ? log.includes('execwarden started') : lines > 0) break;
    if (mode === 'capture') execFileSync('true');
    await sleep(100);
  }
  await sleep(300);
  if (warmup > 0) {
    await runStorm(tools, warmup, `${prefix}-warm`);
    await sleep(500);
  }
  const { storm, cpuMs } = await stormUnder(child, tools, count, prefix);
  return { storm, argvSeen: mode === 'capture' ? seen.size : null, cpuMs };
}

/** The same storm under `forkstat -e exec`, counting markers it printed with their argument. */
async function forkstatStorm(tools: Tools, count: number, prefix: string) {
  const forkstat = spawn('forkstat', ['-e', 'exec', '-l'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  let ready!: () => void;
  const started = new Promise<void>((resolve) => (ready = resolve));
  forkstat.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes('\n')) ready();
  });
  await Promise.race([started, sleep(5000)]);
  const { storm, cpuMs } = await stormUnder(forkstat, tools, count, prefix);
  const seen = new Set<string>();
  const pattern = new RegExp(`\\sexec\\s+\\d+\\s+.*${tools.noop.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} (${prefix}-\\d+)\\s*$`);
  for (const line of out.split('\n')) {
    const match = pattern.exec(line);
    if (match) seen.add(match[1]!);
  }
  return { storm, argvSeen: seen.size, cpuMs };
}

/**
 * The same storm under refreader.c: every /proc read execwarden's reader makes per exec (or,
 * with `argvOnly`, cmdline alone: forkstat's work without its printing), in C, no agent around
 * them. What the reads themselves cost on this machine, beside what the agent costs.
 */
async function refreaderStorm(tools: Tools, count: number, prefix: string, argvOnly: boolean) {
  const reader = spawn(tools.refreader, argvOnly ? ['--argv-only'] : [], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let log = '';
  reader.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  reader.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  for (let waited = 0; waited < 5000 && !log.includes('ready'); waited += 50) await sleep(50);
  if (!log.includes('ready')) throw new Error(`refreader did not start: ${log.trim()}`);
  const { storm, cpuMs } = await stormUnder(reader, tools, count, prefix);
  const seen = JSON.parse(out.trim() || '{}') as { execs?: number; argvRead?: number };
  return { storm, execs: seen.execs ?? 0, cpuMs };
}

export async function runCaptureBench(opts: CaptureBenchOptions = {}): Promise<Record<string, unknown>> {
  const count = opts.storm ?? 5000;
  const runs = opts.runs ?? 3;
  const launches = opts.wrapperLaunches ?? 200;
  const fullTableWarmup = opts.fullTableWarmup ?? DEFAULT_MAX_ENTRIES + 1000;
  const tools = buildTools();
  try {
    const baseline: StormResult[] = [];
    const captured: CapturedRun[] = [];
    const withoutEnviron: CapturedRun[] = [];
    const forkstatRuns: Awaited<ReturnType<typeof forkstatStorm>>[] = [];
    const captureCli: CliRun[] = [];
    const runCli: CliRun[] = [];
    const runFullCli: CliRun[] = [];
    const refAll: Awaited<ReturnType<typeof refreaderStorm>>[] = [];
    const refArgv: Awaited<ReturnType<typeof refreaderStorm>>[] = [];
    const withForkstat = hasForkstat();
    // Alternated within each round, so a change in the machine's load touches every column alike.
    for (let run = 0; run < runs; run++) {
      baseline.push(await runStorm(tools, count, `base${run}`));
      captured.push(await captureStorm(tools, count, `ours${run}`));
      withoutEnviron.push(await captureStorm(tools, count, `noenv${run}`, []));
      if (withForkstat) forkstatRuns.push(await forkstatStorm(tools, count, `fstat${run}`));
      captureCli.push(await cliStorm(tools, count, `cli${run}`, 'capture'));
      runCli.push(await cliStorm(tools, count, `run${run}`, 'run'));
      // A host's agent is soon in this state: its process table full, each new process evicting
      // the oldest exited one. Filling it takes the default table's worth of execs first.
      runFullCli.push(await cliStorm(tools, count, `runfull${run}`, 'run', fullTableWarmup));
      refAll.push(await refreaderStorm(tools, count, `refall${run}`, false));
      refArgv.push(await refreaderStorm(tools, count, `refargv${run}`, true));
    }
    const wrapper = await wrapperAttribution(tools, launches);

    const totalExecs = count * runs;
    const baseRate = median(baseline.map((r) => r.rate));
    const ourRate = median(captured.map((r) => r.storm.rate));
    const argvSeen = captured.reduce((sum, r) => sum + r.argvSeen, 0);
    const overflows = captured.reduce((sum, r) => sum + r.stats.overflows, 0) + wrapper.stats.overflows;
    const lost = captured.reduce((sum, r) => sum + lostOf(r.stats), 0) + lostOf(wrapper.stats);
    const cpuMs = captured.reduce((sum, r) => sum + r.cpuMs, 0);
    const result: Record<string, unknown> = {
      stormExecsPerRun: count,
      runs,
      staticNoop: tools.staticNoop,
      realtime: captured.every((r) => r.stats.realtime),
      receiveBufferBytes: captured[0]?.stats.receiveBufferBytes,
      argvCapturedPct: pct(argvSeen, totalExecs),
      argvCapturedPerRun: captured.map((r) => pct(r.argvSeen, count)),
      wrapperLaunches: launches,
      wrapperAttributedPct: pct(wrapper.attributed, launches),
      overflows,
      lostEvents: lost,
      snapshotsGone: captured.reduce((sum, r) => sum + r.stats.snapshotsGone, 0),
      stormRateWithout: baseRate,
      stormRateWith: ourRate,
      stormRatesWithout: baseline.map((r) => r.rate),
      stormRatesWith: captured.map((r) => r.storm.rate),
      rateRatio: ourRate / baseRate,
      slowdownPct: 100 * (1 - ourRate / baseRate),
      agentCpuMsPer1000Execs: cpuMs / (totalExecs / 1000),
      snapshotUrgentUsPerExec: median(captured.map((r) => r.timing.urgentNs / Math.max(1, r.timing.taken) / 1000)),
      snapshotTotalUsPerExec: median(captured.map((r) => (r.timing.urgentNs + r.timing.restNs) / Math.max(1, r.timing.taken) / 1000)),
      withoutEnviron: {
        argvCapturedPct: pct(withoutEnviron.reduce((sum, r) => sum + r.argvSeen, 0), totalExecs),
        stormRate: median(withoutEnviron.map((r) => r.storm.rate)),
        snapshotUrgentUsPerExec: median(withoutEnviron.map((r) => r.timing.urgentNs / Math.max(1, r.timing.taken) / 1000)),
        snapshotTotalUsPerExec: median(withoutEnviron.map((r) => (r.timing.urgentNs + r.timing.restNs) / Math.max(1, r.timing.taken) / 1000)),
        cpuMsPer1000Execs: withoutEnviron.reduce((sum, r) => sum + r.cpuMs, 0) / (totalExecs / 1000),
      },
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
    };
    const cliFigures = (list: CliRun[]) => ({
      argvCapturedPct: list[0]?.argvSeen === null ? null : pct(list.reduce((sum, r) => sum + (r.argvSeen ?? 0), 0), totalExecs),
      stormRate: median(list.map((r) => r.storm.rate)),
      rateRatio: median(list.map((r) => r.storm.rate)) / baseRate,
      cpuMsPer1000Execs: median(list.map((r) => r.cpuMs / (count / 1000))),
    });
    result.captureCli = cliFigures(captureCli);
    result.runCli = cliFigures(runCli);
    result.runFullTableCli = cliFigures(runFullCli);
    result.fullTableWarmup = fullTableWarmup;
    const refFigures = (list: Awaited<ReturnType<typeof refreaderStorm>>[]) => ({
      stormRate: median(list.map((r) => r.storm.rate)),
      rateRatio: median(list.map((r) => r.storm.rate)) / baseRate,
      cpuMsPer1000Execs: median(list.map((r) => r.cpuMs / (count / 1000))),
    });
    result.refreader = refFigures(refAll);
    result.refreaderArgvOnly = refFigures(refArgv);
    if (withForkstat) {
      const fsRate = median(forkstatRuns.map((r) => r.storm.rate));
      result.forkstat = {
        argvCapturedPct: pct(
          forkstatRuns.reduce((sum, r) => sum + r.argvSeen, 0),
          totalExecs,
        ),
        stormRate: fsRate,
        stormRates: forkstatRuns.map((r) => r.storm.rate),
        rateRatio: fsRate / baseRate,
        cpuMsPer1000Execs: median(forkstatRuns.map((r) => r.cpuMs / (count / 1000))),
      };
    }
    printFigures(result);
    return result;
  } finally {
    rmSync(tools.dir, { recursive: true, force: true });
  }
}

function printFigures(r: Record<string, unknown>): void {
  const fs = r.forkstat as Record<string, number> | undefined;
  const f = (value: unknown, digits = 1) => (typeof value === 'number' ? value.toFixed(digits) : String(value ?? '-'));
  const ok = (pass: boolean) => (pass ? 'met' : 'MISSED');
  const rows: Array<[string, string, string, string]> = [
    ['argv captured %', f(r.argvCapturedPct, 2), f(fs?.argvCapturedPct, 2), `>= ${TARGETS.argvPct} ${ok((r.argvCapturedPct as number) >= TARGETS.argvPct)}`],
    ['wrapper attributed %', f(r.wrapperAttributedPct), '-', `${TARGETS.wrapperPct} ${ok(r.wrapperAttributedPct === TARGETS.wrapperPct)}`],
    ['overflows', String(r.overflows), '-', ''],
    ['lost events', String(r.lostEvents), '-', `${TARGETS.lost} ${ok(r.lostEvents === TARGETS.lost)}`],
    ['storm execs/s (median)', f(r.stormRateWith), f(fs?.stormRate), `without capture: ${f(r.stormRateWithout)}`],
    ['rate with / without', f(r.rateRatio, 3), f(fs?.rateRatio, 3), `slowdown <= ${TARGETS.slowdownPct}% ${ok((r.slowdownPct as number) <= TARGETS.slowdownPct)}`],
    ['CPU ms per 1000 execs', f(r.agentCpuMsPer1000Execs), f(fs?.cpuMsPer1000Execs), ''],
    ['peak RSS MiB', f(r.peakRssMiB), '-', ''],
  ];
  const ne = r.withoutEnviron as Record<string, number>;
  const reads: Array<[string, string, string]> = [
    ['/proc reads', 'all (environ allow-list)', 'without environ'],
    ['urgent half µs/exec (median)', f(r.snapshotUrgentUsPerExec, 2), f(ne.snapshotUrgentUsPerExec, 2)],
    ['whole snapshot µs/exec (median)', f(r.snapshotTotalUsPerExec, 2), f(ne.snapshotTotalUsPerExec, 2)],
    ['argv captured %', f(r.argvCapturedPct, 2), f(ne.argvCapturedPct, 2)],
    ['storm execs/s (median)', f(r.stormRateWith), f(ne.stormRate)],
    ['CPU ms per 1000 execs', f(r.agentCpuMsPer1000Execs), f(ne.cpuMsPer1000Execs)],
  ];
  const header: [string, string, string, string] = ['capture', 'execwarden', fs ? 'forkstat' : '(no forkstat)', 'target'];
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
  console.log(`\ncapture: static exec storm, ${r.stormExecsPerRun} execs x ${r.runs} runs${r.staticNoop ? '' : ' (no libc.a: no-op built dynamic)'}, SCHED_FIFO ${r.realtime ? 'granted' : 'refused'}`);
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  console.log(`storm rates without: ${(r.stormRatesWithout as number[]).map((v) => f(v)).join(', ')}; with: ${(r.stormRatesWith as number[]).map((v) => f(v)).join(', ')}`);
  const cap = r.captureCli as Record<string, number | null>;
  const run = r.runCli as Record<string, number | null>;
  const runFull = r.runFullTableCli as Record<string, number | null>;
  const side: string[][] = [
    ['side by side (medians)', 'capture --actions exec', 'run (bundled rules)', `run, table full (${r.fullTableWarmup} execs before)`, fs ? 'forkstat -e exec' : '(no forkstat)'],
    ['argv captured %', f(cap.argvCapturedPct, 2), '- (writes alerts only)', '-', f(fs?.argvCapturedPct, 2)],
    ['CPU ms per 1000 execs', f(cap.cpuMsPer1000Execs), f(run.cpuMsPer1000Execs), f(runFull.cpuMsPer1000Execs), f(fs?.cpuMsPer1000Execs)],
    ['storm rate with / without', f(cap.rateRatio, 3), f(run.rateRatio, 3), f(runFull.rateRatio, 3), f(fs?.rateRatio, 3)],
  ];
  const sideWidths = side[0]!.map((_, i) => Math.max(...side.map((row) => row[i]!.length)));
  console.log('\nthe agent as users run it (its own process, every thread), beside forkstat, same storm:');
  for (const row of side) console.log(row.map((cell, i) => cell.padEnd(sideWidths[i]!)).join('  '));
  if (fs) {
    for (const [label, figures] of [['run', run], ['run, table full', runFull]] as const) {
      const ok = (figures.cpuMsPer1000Execs ?? Infinity) <= fs.cpuMsPer1000Execs! && (figures.rateRatio ?? 0) >= fs.rateRatio!;
      console.log(`target: ${label} at or below forkstat's CPU per exec, at or above its storm ratio: ${ok ? 'met' : 'MISSED'} (${f(figures.cpuMsPer1000Execs)} ms vs ${f(fs.cpuMsPer1000Execs)} ms; ${f(figures.rateRatio, 3)} vs ${f(fs.rateRatio, 3)})`);
    }
  }
  const ref = r.refreader as Record<string, number>;
  const refArgv = r.refreaderArgvOnly as Record<string, number>;
  const floor: string[][] = [
    ['the reads alone, in C (refreader.c)', "execwarden's /proc reads", 'cmdline only (forkstat\'s)'],
    ['CPU ms per 1000 execs', f(ref.cpuMsPer1000Execs), f(refArgv.cpuMsPer1000Execs)],
    ['storm rate with / without', f(ref.rateRatio, 3), f(refArgv.rateRatio, 3)],
  ];
  const floorWidths = floor[0]!.map((_, i) => Math.max(...floor.map((row) => row[i]!.length)));
  console.log('\nwhat the reads cost without any agent around them, same storm:');
  for (const row of floor) console.log(row.map((cell, i) => cell.padEnd(floorWidths[i]!)).join('  '));
  console.log(`run over its reads' floor: ${f((run.cpuMsPer1000Execs ?? NaN) / ref.cpuMsPer1000Execs, 2)}x; the reads' floor over forkstat's: ${f(ref.cpuMsPer1000Execs / refArgv.cpuMsPer1000Execs, 2)}x`);
  const readWidths = reads[0]!.map((_, i) => Math.max(...reads.map((row) => row[i]!.length)));
  console.log('\ncost of the exec snapshot on the reader thread, same storm:');
  for (const row of reads) console.log(row.map((cell, i) => cell.padEnd(readWidths[i]!)).join('  '));
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const storm = Number(process.env.STORM ?? '') || undefined;
  runCaptureBench({ storm }).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
