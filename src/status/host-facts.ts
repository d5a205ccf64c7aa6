/**
 * What this host and this invocation offer the capture: the privilege facts of
 * capture/privileges.ts, the kernel's build options that matter (CONFIG_PROC_EVENTS,
 * CONFIG_RT_GROUP_SCHED), the realtime budget of this process's cpu cgroup and its RLIMIT_RTPRIO,
 * and the one fact nothing else proves: a real subscription to the proc connector, opened and
 * closed at once (the kernel's ack is the proof, field-notes "The proc connector"), which also
 * says whether the reader thread was granted SCHED_FIFO. Every read is small and bounded; a file
 * that cannot be read leaves its fact unknown (null) rather than failing the command.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readPrivilegeFacts, type PrivilegeFacts } from '../capture/privileges.js';
import { LiveSource } from '../capture/live-source.js';
import { configArgument } from './service-facts.js';

export interface KernelBuild {
  /** CONFIG_PROC_EVENTS from the kernel's config; null when the config is not readable. */
  procEvents: boolean | null;
  /**
   * Realtime group scheduling in effect: a cpu-controlled cgroup then has its own realtime budget,
   * 0 by default, and SCHED_FIFO is refused inside it (the unit's CPUQuota makes one). Null: unknown.
   */
  rtGroupSched: boolean | null;
}

export type ProbeFacts =
  | { ran: false; reason: string }
  | { ran: true; ok: true; realtime: boolean; realtimeError: string | null; forcedBuffer: boolean; receiveBufferBytes: number }
  | { ran: true; ok: false; code: string; message: string };

export interface HostFacts {
  privileges: PrivilegeFacts;
  kernel: KernelBuild;
  /** Soft RLIMIT_RTPRIO of this process; null when unknown. */
  rtprioLimit: number | null;
  /** cpu.rt_runtime_us of this process's cpu cgroup (cgroup v1); null when there is none to read. */
  cgroupRtRuntimeUs: number | null;
  probe: ProbeFacts;
}

/** The SCHED_FIFO priority the reader thread asks for (native/reader.h, realtime_priority). */
export const READER_RT_PRIORITY = 10;

const MAX_KERNEL_CONFIG_BYTES = 4 * 1024 * 1024;

function readSmall(path: string, maxChars = 64 * 1024): string | null {
  try {
    return readFileSync(path, 'utf8').slice(0, maxChars);
  } catch {
    return null;
  }
}

function kernelConfigText(release: string): string | null {
  try {
    return gunzipSync(readFileSync('/proc/config.gz'), { maxOutputLength: MAX_KERNEL_CONFIG_BYTES }).toString('utf8');
  } catch {
    return readSmall(`/boot/config-${release}`, MAX_KERNEL_CONFIG_BYTES);
  }
}

function configOption(config: string, name: string): boolean {
  return new RegExp(`^${name}=[ym]$`, 'm').test(config);
}

/** Pure: the kernel build facts from its config text, the boot command line and the cgroup files seen. */
export function kernelBuildFrom(config: string | null, cmdline: string, rtRuntimeFileSeen: boolean): KernelBuild {
  const procEvents = config === null ? null : configOption(config, 'CONFIG_PROC_EVENTS');
  let rtGroupSched: boolean | null = null;
  if (rtRuntimeFileSeen) rtGroupSched = true;
  else if (config !== null) {
    const built = configOption(config, 'CONFIG_RT_GROUP_SCHED');
    const offByDefault = configOption(config, 'CONFIG_RT_GROUP_SCHED_DEFAULT_DISABLED');
    const boot = /(?:^|\s)rt_group_sched=([01])(?:\s|$)/.exec(cmdline)?.[1];
    rtGroupSched = built && (boot === undefined ? !offByDefault : boot === '1');
  }
  return { procEvents, rtGroupSched };
}

const CPU_HIERARCHIES = ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpuacct,cpu'];

function readKernelBuild(release: string): KernelBuild {
  const seen = CPU_HIERARCHIES.some((dir) => existsSync(`${dir}/cpu.rt_runtime_us`)) || existsSync('/sys/fs/cgroup/cpu.rt_runtime_us');
  return kernelBuildFrom(kernelConfigText(release), readSmall('/proc/cmdline') ?? '', seen);
}

/** Pure: the soft "Max realtime priority" of a /proc/<pid>/limits text. */
export function rtprioFromLimits(limits: string): number | null {
  const match = /^Max realtime priority\s+(\S+)/m.exec(limits);
  if (!match) return null;
  if (match[1] === 'unlimited') return Infinity;
  const n = Number(match[1]);
  return Number.isInteger(n) ? n : null;
}

/** Pure: the cgroup v1 path of the cpu controller in a /proc/<pid>/cgroup text, or null. */
export function cpuCgroupPath(cgroup: string): string | null {
  for (const line of cgroup.split('\n')) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (controllers !== undefined && controllers.split(',').includes('cpu')) return path ?? null;
  }
  return null;
}

function readCgroupRtRuntime(): number | null {
  const path = cpuCgroupPath(readSmall('/proc/self/cgroup') ?? '');
  if (path === null || path.includes('..')) return null;
  for (const dir of CPU_HIERARCHIES) {
    const text = readSmall(`${dir}${path === '/' ? '' : path}/cpu.rt_runtime_us`, 64);
    if (text === null) continue;
    const n = Number(text.trim());
    if (Number.isInteger(n)) return n;
  }
  return null;
}

/**
 * Subscribes to the proc connector as the agent would (SCHED_FIFO asked for, the configured
 * receive buffer) and unsubscribes at once. Events that arrive meanwhile are ignored.
 */
async function probeCapture(receiveBufferBytes: number): Promise<ProbeFacts> {
  const source = new LiveSource({ receiveBufferBytes, realtime: true });
  try {
    await source.start(() => undefined);
  } catch (error) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    return { ran: true, ok: false, code: typeof code === 'string' ? code : 'ECONNECTOR', message: String(message ?? error) };
  }
  const info = source.startInfo();
  await source.stop();
  return {
    ran: true,
    ok: true,
    realtime: info?.realtime === true,
    realtimeError: info?.realtimeError ?? null,
    forcedBuffer: info?.forcedBuffer === true,
    receiveBufferBytes: info?.receiveBufferBytes ?? 0,
  };
}

export async function readHostFacts(options: { receiveBufferBytes: number; probe: boolean }): Promise<HostFacts> {
  const privileges = readPrivilegeFacts();
  const insideContainer = !privileges.initialPidNamespace || !privileges.initialUserNamespace;
  let probe: ProbeFacts;
  if (!options.probe) probe = { ran: false, reason: 'not asked for (--no-probe)' };
  else if (insideContainer) probe = { ran: false, reason: 'not in the initial pid and user namespace' };
  else probe = await probeCapture(options.receiveBufferBytes);
  return {
    privileges,
    kernel: readKernelBuild(privileges.kernelRelease),
    rtprioLimit: rtprioFromLimits(readSmall('/proc/self/limits') ?? ''),
    cgroupRtRuntimeUs: readCgroupRtRuntime(),
    probe,
  };
}

/** An `execwarden run` found outside the service. */
export interface ForegroundAgent {
  pid: number;
  /** Its command line, spaces for NULs, cut to 512 characters (untrusted: print through `shown`). */
  command: string;
  /** The file its --config names, or null. */
  config: string | null;
}

const MAX_FOREGROUND_AGENTS = 8;

/**
 * Pure: whether an argv is `execwarden run …` or `node …/execwarden.js run …`: the program or the
 * script node runs (so an npm wrapper whose arguments merely name it is not counted twice).
 */
export function isAgentArgv(argv: readonly string[]): boolean {
  const at = argv.slice(0, 2).findIndex((arg) => /(?:^|\/)execwarden(?:\.js)?$/.test(arg));
  return at !== -1 && argv.slice(at + 1).find((arg) => !arg.startsWith('-')) === 'run';
}

/** A path an agent was given, made absolute against its working directory; null when unknown. */
function absoluteFor(pid: number, path: string | null): string | null {
  if (path === null || isAbsolute(path)) return path;
  try {
    return resolve(readlinkSync(`/proc/${pid}/cwd`), path);
  } catch {
    return null;
  }
}

/** Processes running `execwarden run`, except this one and `excludePid` (the service's). */
export function findForegroundAgents(excludePid: number | null): ForegroundAgent[] {
  const found: ForegroundAgent[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid || pid === excludePid) continue;
    const cmdline = readSmall(`/proc/${pid}/cmdline`, 4096);
    if (cmdline === null || cmdline === '') continue;
    const argv = cmdline.split('\0').filter((a) => a !== '');
    if (!isAgentArgv(argv)) continue;
    found.push({ pid, command: argv.join(' ').slice(0, 512), config: absoluteFor(pid, configArgument(argv)) });
    if (found.length >= MAX_FOREGROUND_AGENTS) break;
  }
  return found;
}
