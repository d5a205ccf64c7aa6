/**
 * Helpers for real-kernel capture tests: run a command under a LiveSource and keep only the
 * events of the command's own process tree (other processes on the host report too).
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { LiveSource } from '../../src/capture/live-source.js';
import type { CaptureOptions, RawEvent } from '../../src/capture/raw-event.js';

export function argv(event: RawEvent): string[] | null {
  const cmdline = event.snapshot?.cmdline;
  if (!cmdline) return null;
  const text = cmdline.toString('latin1');
  return (text.endsWith('\0') ? text.slice(0, -1) : text).split('\0');
}

/** Runs `<shell> -c script` to completion; resolves with its pid and exit status. */
export function runShell(script: string, shell = '/bin/sh'): Promise<{ pid: number; status: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(shell, ['-c', script], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (status) => resolve({ pid: child.pid ?? -1, status }));
  });
}

/** The pids of `root` and everything it forked, following fork events in order. */
export function treeOf(events: RawEvent[], root: number): Set<number> {
  const pids = new Set([root]);
  for (const event of events) {
    if (event.kind === 'fork' && pids.has(event.parentTgid ?? -1)) pids.add(event.tgid);
  }
  return pids;
}

export interface Capture {
  source: LiveSource;
  events: RawEvent[];
  losses: string[];
  /** Waits until no batch is pending (the reader flushes by age) and returns the events so far. */
  settle(): Promise<RawEvent[]>;
}

export async function startCapture(options: CaptureOptions = {}): Promise<Capture> {
  const source = new LiveSource({ batchMaxAgeMs: 5, ...options });
  const events: RawEvent[] = [];
  const losses: string[] = [];
  source.onLoss = (reason) => losses.push(reason);
  await source.start((batch) => {
    for (const event of batch) events.push(event);
  });
  return {
    source,
    events,
    losses,
    async settle() {
      await sleep(100);
      return events;
    },
  };
}

/** Captures while `script` runs; returns the events of its process tree. */
export async function captureShell(script: string, options: CaptureOptions = {}) {
  const capture = await startCapture(options);
  try {
    const { pid, status } = await runShell(script);
    const all = await capture.settle();
    const tree = treeOf(all, pid);
    return { pid, status, events: all.filter((e) => tree.has(e.tgid)), capture };
  } finally {
    await capture.source.stop();
  }
}
