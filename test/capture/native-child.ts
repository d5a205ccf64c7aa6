/**
 * Runs a CommonJS script in a fresh Node process with the built addon loaded as `addon`, for
 * failures that would take the test worker down with them (std::terminate) or that need process
 * limits of their own (open files, address space). The script prints one JSON line.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { addonCandidates } from '../../src/capture/native.js';
import { existsSync } from 'node:fs';

const ADDON = addonCandidates().find((candidate) => existsSync(candidate));

/** Helpers the scripts share: `addon`, `limitAddressSpace(extraBytes)`, `restoreAddressSpace()`. */
const PRELUDE = `
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const addon = require(${JSON.stringify(ADDON)});
const vmSize = () => Number(/VmSize:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const prlimit = (value) => {
  const r = spawnSync('prlimit', ['--pid', String(process.pid), '--as=' + value + ':']);
  if (r.status !== 0) throw new Error('prlimit: ' + r.stderr);
};
// A soft RLIMIT_AS just above what the process maps now: the next large mapping fails.
const limitAddressSpace = (extra) => prlimit(String(vmSize() + extra));
const restoreAddressSpace = () => prlimit('unlimited');
`;

export interface ChildRun {
  /** The last line the child printed, parsed; null when it printed none (e.g. it was killed). */
  result: Record<string, unknown> | null;
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** What a finished child printed and how it ended. */
export function childRun(child: SpawnSyncReturns<string>): ChildRun {
  const line = (child.stdout ?? '').trim().split('\n').pop() ?? '';
  let result: Record<string, unknown> | null = null;
  try {
    result = line ? (JSON.parse(line) as Record<string, unknown>) : null;
  } catch {
    result = null;
  }
  return { result, status: child.status, signal: child.signal, stderr: child.stderr ?? '' };
}

export function runWithAddon(script: string, options: { openFiles?: number; timeoutMs?: number } = {}): ChildRun {
  if (!ADDON) throw new Error('the native addon is not built: run npm run build:native');
  const source = `${PRELUDE}\n${script}`;
  const [command, args] =
    options.openFiles === undefined
      ? [process.execPath, ['-e', source]]
      : ['/bin/sh', ['-c', `ulimit -n ${options.openFiles} && exec "$0" -e "$1"`, process.execPath, source]];
  return childRun(spawnSync(command, args, { encoding: 'utf8', timeout: options.timeoutMs ?? 15_000 }));
}
