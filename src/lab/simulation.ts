/**
 * Runs lab variants one at a time, each against its own loopback listener, and cleans up after
 * each: the listener is closed and every process carrying the variant's marker is killed, whether
 * the variant finished, failed or hung.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LabError } from './lab-error.js';
import { openLoopbackListener } from './loopback-listener.js';
import { killMarkedProcesses, markedExitTime, MARKER_ENV, waitForMarkedExit } from './process-sweep.js';
import { findExecutable, SYSTEM_PATH } from './system-tools.js';
import { LAB_VARIANTS, type LabVariant, missingTools } from './variants.js';

export interface SimulationResult {
  variant: string;
  status: 'ran' | 'skipped';
  /** Why it was skipped, e.g. "zsh not installed". */
  skipReason?: string;
  /** Unique text in the payload's command line and environment. */
  marker: string;
  port: number;
  /** Wall-clock time the launcher was started. */
  launchedAtMs: number;
  /** Connections the listener accepted. */
  connections: number;
  /** The launcher's exit status (null when it was killed at the time limit). */
  exitCode: number | null;
  /** Processes still alive at the end that the sweep killed. */
  leftovers: number;
  /** A failure of the simulation itself (not of detection): e.g. the payload never connected. */
  problem?: string;
  /** With `response`: when no process of the simulation was left (ms since the epoch), or null if some outlived the time limit. */
  allGoneAtMs?: number | null;
}

/** How long processes of a finished simulation may take to exit before they count as leftovers, at least. */
const EXIT_GRACE_MS = 1000;

export interface SimulationOptions {
  /** Limit per variant, from launch to the payload's end. Default 10 000 ms. */
  timeoutMs?: number;
  /**
   * The response check: the listener never answers, so the payload ends only if the agent kills
   * it; the result says when every process of the simulation was gone (allGoneAtMs).
   */
  response?: boolean;
}

/** The variants named, in catalogue order; all when `names` is empty. Unknown names are an error. */
export function selectVariants(names: readonly string[] = []): LabVariant[] {
  if (names.length === 0) return [...LAB_VARIANTS];
  const known = new Set(LAB_VARIANTS.map((v) => v.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new LabError('USAGE', `unknown simulation ${unknown.map((n) => `"${n}"`).join(', ')} (see: execwarden simulate --list)`);
  }
  return LAB_VARIANTS.filter((v) => names.includes(v.name));
}

export function newMarker(variant: LabVariant): string {
  return `lab-${variant.name}-${randomBytes(4).toString('hex')}`;
}

function waitForExit(child: ReturnType<typeof spawn>, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.once('error', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}

export async function runSimulation(variant: LabVariant, options: SimulationOptions = {}): Promise<SimulationResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const marker = newMarker(variant);
  const base: SimulationResult = { variant: variant.name, status: 'skipped', marker, port: 0, launchedAtMs: 0, connections: 0, exitCode: null, leftovers: 0 };
  const missing = missingTools(variant);
  if (missing.length > 0) return { ...base, skipReason: `${missing.join(', ')} not installed` };

  const listener = await openLoopbackListener({ answer: !options.response });
  const scratchDir = mkdtempSync(join(tmpdir(), 'execwarden-lab-'));
  const result: SimulationResult = { ...base, status: 'ran', port: listener.port };
  try {
    const tool = (name: string): string => {
      const path = findExecutable(name);
      if (path === null) throw new LabError('LAB_TOOL_MISSING', `${name} is not installed`);
      return path;
    };
    const launch = variant.launch({ port: listener.port, marker, tool, scratchDir });
    for (const [source, name] of launch.copies ?? []) copyFileSync(tool(source), join(scratchDir, name));

    result.launchedAtMs = Date.now();
    // detached: the launcher gets its own session and process group, away from our terminal.
    const child = spawn(launch.file, launch.args, {
      detached: true,
      stdio: 'ignore',
      cwd: scratchDir,
      env: { PATH: SYSTEM_PATH, HOME: scratchDir, LANG: 'C', [MARKER_ENV]: marker },
    });
    const started = Date.now();
    result.exitCode = await waitForExit(child, timeoutMs);
    if (options.response) {
      // No answer comes: whatever still runs was not killed. The sweep needs a few empty scans in
      // a row; the time is that of the first of them.
      const left = Math.max(0, timeoutMs - (Date.now() - started));
      result.allGoneAtMs = await markedExitTime(marker, left);
      result.connections = listener.connections();
      return result;
    }
    if (variant.connects) {
      const left = Math.max(0, timeoutMs - (Date.now() - started));
      const reached = await listener.waitForClosedConnections(1, left);
      if (!reached) result.problem = 'the payload did not reach the listener and hang up in time';
    } else if (result.exitCode !== 0) {
      result.problem = result.exitCode === null ? 'the launcher did not finish in time' : `the launcher exited with ${result.exitCode}`;
    }
    if (result.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    result.connections = listener.connections();
    if (!variant.connects && result.connections > 0) result.problem = 'a benign variant connected to the listener';
    // Payloads detached with `setsid -f` or `nohup … &` outlive their launcher. They have what is
    // left of the time limit to finish (an interpreter starting on a loaded machine can take
    // seconds), and at least a moment when the listener used it all up.
    const left = Math.max(EXIT_GRACE_MS, timeoutMs - (Date.now() - started));
    await waitForMarkedExit(marker, result.exitCode === null ? 0 : left);
  } finally {
    result.leftovers = killMarkedProcesses(marker);
    // SIGKILL lands asynchronously: return only once the killed processes are really gone.
    if (result.leftovers > 0) await waitForMarkedExit(marker, 2000);
    await listener.close();
    rmSync(scratchDir, { recursive: true, force: true });
  }
  return result;
}

/** Runs each variant in turn; `onResult` sees each result as it comes (for live output). */
export async function runSimulations(
  variants: readonly LabVariant[],
  options: SimulationOptions & { onResult?: (r: SimulationResult) => void } = {},
): Promise<SimulationResult[]> {
  const results: SimulationResult[] = [];
  for (const variant of variants) {
    const result = await runSimulation(variant, options);
    options.onResult?.(result);
    results.push(result);
  }
  return results;
}
