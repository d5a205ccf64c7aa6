/**
 * /proc reads the reader saves in a fork storm, on the real kernel: a fork's start time taken
 * from its exec's snapshot (reader_harness.cc holds the reader so that both events are read
 * together), and a parent's stdio read once for children that exec close together. Root: both
 * subscribe to the proc connector.
 */
import { beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../support/require-root.js';
import { captureShell, treeOf } from './kernel-capture.js';
import { buildReaderHarness, runReaderHarness } from './reader-harness.js';

describeAsRoot('reads saved by the reader', () => {
  let harness = '';
  beforeAll(async () => {
    harness = await buildReaderHarness();
  });

  it("takes a fork's start time from the exec snapshot of the same process read with it", () => {
    const run = runReaderHarness(harness, 'fork-start-from-exec');
    expect({ signal: run.signal, status: run.status, stderr: run.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
    // Each exec'ing child's fork and exec carry its real start time; the fork without an exec
    // still had its own read.
    expect(run.result).toMatchObject({ error: '', execing: 3, matched: 3, plain_read: true });
    // Other processes on the host may add to the count, never take from it.
    expect(run.result!.from_exec).toBeGreaterThanOrEqual(3);
  });

  it("reports both counters, and a parent's stdio read once for children that exec together", async () => {
    const { pid, events, capture } = await captureShell('for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do /bin/true & done; wait');
    const stats = capture.source.stats();
    expect(stats.parentStdioReused).toBeGreaterThan(0);
    expect(typeof stats.forkStartsFromExec).toBe('number');
    const tree = treeOf(events, pid);
    const children = events.filter((e) => e.kind === 'exec' && e.tgid !== pid && tree.has(e.tgid));
    expect(children.length).toBe(20);
    // A /bin/true reaped before its urgent read has no stat, so no parent pid and no parent
    // streams; every other child has the shell's.
    const read = children.filter((e) => !e.snapshot!.failed.includes('stat'));
    expect(read.length).toBeGreaterThan(0);
    const parentStdio = read[0]!.snapshot!.parentStdio;
    expect(parentStdio).toBeTruthy();
    for (const exec of read) expect(exec.snapshot!.parentStdio).toEqual(parentStdio);
    for (const exec of children) {
      // Whichever way it was read, the fork's start time is the process's.
      const fork = events.find((e) => e.kind === 'fork' && e.tgid === exec.tgid);
      expect(fork!.startTicks).toBe(exec.snapshot!.startTicks);
    }
  });
});
