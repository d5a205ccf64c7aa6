/**
 * Background load for `execwarden lab --storm`: shell loops that exec /bin/true as fast as they
 * can, so the lab shows whether short-lived reverse shells are still described and caught while
 * the proc connector is busy. The loops carry a marker in their environment and are killed, by
 * process group and by marker, when the storm stops.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { killMarkedProcesses, MARKER_ENV } from './process-sweep.js';
import { SYSTEM_PATH } from './system-tools.js';

export interface ExecStorm {
  /** In the environment of every storm process. */
  readonly marker: string;
  stop(): void;
}

export const DEFAULT_STORM_LOOPS = 2;

export function startExecStorm(loops: number = DEFAULT_STORM_LOOPS): ExecStorm {
  const marker = `lab-storm-${randomBytes(4).toString('hex')}`;
  const children = Array.from({ length: loops }, () =>
    spawn('/bin/sh', ['-c', 'while :; do /bin/true; done'], {
      detached: true,
      stdio: 'ignore',
      env: { PATH: SYSTEM_PATH, [MARKER_ENV]: marker },
    }),
  );
  let stopped = false;
  return {
    marker,
    stop() {
      if (stopped) return;
      stopped = true;
      for (const child of children) {
        if (child.pid === undefined) continue;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      killMarkedProcesses(marker);
    },
  };
}
