/**
 * A process ends when its last thread does, on the live kernel: a main thread that exits before
 * another thread (pthread_exit) is not the process's end, and an exec from a second thread (what
 * Go's syscall.Exec may do: the kernel makes the old main thread exit before the exec event) keeps
 * the process, its parent and its previous image. test/support/probe.c makes both shapes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { capture } from '../support/live-capture.js';
import { describeAsRoot } from '../support/require-root.js';

describeAsRoot('threads and the end of a process (live)', () => {
  let work: string;
  let probe: string;

  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), 'execwarden-threads-'));
    probe = path.join(work, 'probe');
    execFileSync('gcc', ['-O2', '-pthread', '-o', probe, new URL('../support/probe.c', import.meta.url).pathname]);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('ends a process whose main thread exits first only when its last thread does', async () => {
    const { docs } = await capture(`${probe} leader-exit 300; true`, 200);
    const exec = docs.find((doc) => doc.event.action === 'exec' && doc.process.executable === probe);
    expect(exec, 'the probe exec').toBeDefined();
    const ends = docs.filter((doc) => doc.event.action === 'end' && doc.process.pid === exec!.process.pid);
    expect(ends).toHaveLength(1);
    // The end is the last thread's, about 300 ms after the start, not the main thread's.
    const lived = Date.parse(ends[0]!['@timestamp']) - Date.parse(exec!['@timestamp']);
    expect(lived).toBeGreaterThanOrEqual(250);
  });

  it('keeps parent and previous image across an exec from a second thread', async () => {
    const echo = realpathSync('/bin/echo');
    const { docs } = await capture(`${probe} thread-exec ${echo} echo thread-exec-marker >/dev/null; true`, 200);
    const exec = docs.find((doc) => doc.event.action === 'exec' && doc.process.args?.includes('thread-exec-marker') && doc.process.executable === echo);
    expect(exec, 'the exec from the second thread').toBeDefined();
    expect(exec!.process.parent?.name).toBe('bash');
    expect(exec!.process.previous?.at(-1)?.executable).toBe(probe);
    // No false end between the probe's start and its exec.
    const pid = exec!.process.pid;
    const before = docs.slice(0, docs.indexOf(exec!)).filter((doc) => doc.process.pid === pid && doc.event.action === 'end');
    expect(before).toEqual([]);
  });
});
