/**
 * Leaves nothing running. Every process a simulation starts inherits an environment variable
 * holding the simulation's marker; setsid moves payloads into their own session and their
 * launcher may exit first, so neither the process group nor the parent chain finds them all,
 * but their environment still does.
 */
import { readdirSync, readFileSync } from 'node:fs';

export const MARKER_ENV = 'EXECWARDEN_LAB_MARKER';

/** Pids of live processes whose environment carries `marker` (own processes, or all as root). */
export function findMarkedProcesses(marker: string): number[] {
  const needle = Buffer.from(`\0${MARKER_ENV}=${marker}\0`);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${entry}/environ`)]);
      if (environ.includes(needle)) pids.push(Number(entry));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return pids;
}

/** Scans in a row that must find nothing before the processes of a marker count as gone. */
const EMPTY_SCANS = 3;

/**
 * Waits up to `timeoutMs` for the processes carrying `marker` to end by themselves (a payload
 * that has closed its connection may still be exiting). Resolves true when none is left. A
 * process in the middle of an exec shows an empty environment for a moment (a payload started
 * with `nohup … &` right after its launcher exited), so one empty scan is not enough: it takes
 * EMPTY_SCANS in a row, 10 ms apart.
 */
export async function waitForMarkedExit(marker: string, timeoutMs: number): Promise<boolean> {
  return (await markedExitTime(marker, timeoutMs)) !== null;
}

/**
 * waitForMarkedExit, giving the time (ms since the epoch) of the first of the empty scans that
 * ended the wait, or null when processes were still there at the deadline.
 */
export async function markedExitTime(marker: string, timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  let empty = 0;
  let firstEmptyAt = 0;
  for (;;) {
    const now = Date.now();
    if (findMarkedProcesses(marker).length === 0) {
      if (empty === 0) firstEmptyAt = now;
      empty += 1;
    } else {
      empty = 0;
    }
    if (empty >= EMPTY_SCANS) return firstEmptyAt;
    if (Date.now() >= deadline) return empty > 0 ? firstEmptyAt : null;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** SIGKILLs every process carrying `marker`; returns how many were still there. */
export function killMarkedProcesses(marker: string): number {
  let killed = 0;
  // Two passes: a process may fork between the scan and the kill.
  for (let pass = 0; pass < 2; pass += 1) {
    for (const pid of findMarkedProcesses(marker)) {
      try {
        process.kill(pid, 'SIGKILL');
        if (pass === 0) killed += 1;
      } catch {
        // already gone
      }
    }
  }
  return killed;
}
