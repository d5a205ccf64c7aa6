import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { checkCapturePrivileges, LiveSource } from '../../src/capture/live-source.js';
import type { RawEvent } from '../../src/capture/raw-event.js';
import { describeAsRoot } from '../support/require-root.js';
import { argv, captureShell, runShell, startCapture, treeOf } from './kernel-capture.js';

const execs = (events: RawEvent[], pid?: number) =>
  events.filter((e) => e.kind === 'exec' && (pid === undefined || e.tgid === pid));

describeAsRoot('live capture from the proc connector', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'execwarden-capture-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('finds every privilege it needs as root in the initial namespaces', () => {
    expect(checkCapturePrivileges()).toMatchObject({ ok: true, missing: [] });
  });

  it("describes setsid's exec by setsid's argv, before it replaces itself with bash", async () => {
    // sh forks once for setsid; setsid execs bash in place, and bash execs its only command too.
    const { pid, events } = await captureShell("setsid bash -c 'sleep 0.1'; true");
    const child = events.find((e) => e.kind === 'fork' && e.parentTgid === pid);
    expect(child).toBeDefined();
    const childExecs = execs(events, child!.tgid);
    expect(childExecs.map(argv)).toEqual([
      ['setsid', 'bash', '-c', 'sleep 0.1'],
      ['bash', '-c', 'sleep 0.1'],
      ['sleep', '0.1'],
    ]);
    expect(childExecs[0]!.snapshot).toMatchObject({ comm: 'setsid', exe: '/usr/bin/setsid', ppid: pid, failed: [] });
    expect(childExecs[1]!.snapshot).toMatchObject({ comm: 'bash', exe: '/usr/bin/bash' });
  });

  it('keeps the argv of short-lived /bin/true runs', async () => {
    const { events } = await captureShell('/bin/true first-marker; /bin/true second-marker a b');
    const seen = execs(events).map(argv);
    expect(seen).toContainEqual(['/bin/true', 'first-marker']);
    expect(seen).toContainEqual(['/bin/true', 'second-marker', 'a', 'b']);
  });

  it('reports the parent on fork and in the exec snapshot', async () => {
    const { pid, events } = await captureShell('/bin/true fork-marker; true');
    const fork = events.find((e) => e.kind === 'fork' && e.parentTgid === pid);
    expect(fork).toMatchObject({ parentPid: pid, parentTgid: pid });
    const exec = execs(events, fork!.tgid)[0]!;
    expect(argv(exec)).toEqual(['/bin/true', 'fork-marker']);
    expect(exec.snapshot).toMatchObject({ ppid: pid });
    expect(exec.snapshot!.startTicks).toBeGreaterThan(0);
    expect(exec.timestampNs).toBeGreaterThan(fork!.timestampNs);
  });

  it('sends a batch on once its snapshots hold batchMaxBytes of argv, however few events it has', async () => {
    const source = new LiveSource({ batchMaxBytes: 64 * 1024, batchMaxAgeMs: 1000, batchSize: 512 });
    const batches: RawEvent[][] = [];
    await source.start((batch) => batches.push(batch));
    try {
      const { pid } = await runShell('big=$(head -c 50000 /dev/zero | tr "\\0" x); for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true "$big" big-argv-marker; done');
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const mine = (e: RawEvent) => e.kind === 'exec' && argv(e)?.[2] === 'big-argv-marker' && e.snapshot?.ppid === pid;
      const holding = batches.filter((b) => b.some(mine));
      expect(holding.flatMap((b) => b.filter(mine))).toHaveLength(10);
      // Each batch went on at the first exec that took it past 64 KiB: no batch holds two of them.
      for (const batch of holding) expect(batch.filter(mine).length).toBeLessThanOrEqual(2);
      expect(holding.length).toBeGreaterThanOrEqual(5);
    } finally {
      await source.stop();
    }
  });

  it('bounds the bytes waiting for JS: past a threshold cmdlines keep their head and end, past the bound batches are dropped, both counted', async () => {
    const tail = 4 * 1024;
    const source = new LiveSource({
      batchSize: 1,
      batchMaxAgeMs: 0,
      cmdlineTailBytes: tail,
      maxQueuedBytes: 160 * 1024,
      shortCmdlinesAboveBytes: 100 * 1024,
    });
    const batches: RawEvent[][] = [];
    await source.start((batch) => batches.push(batch));
    try {
      // 40 execs of 60 KB of argv while JS is held up (as by rules scanning long command lines):
      // the first few wait whole, then they are kept short, then the bound refuses them.
      const done = runShell('big=$(head -c 60000 /dev/zero | tr "\\0" x); for i in $(seq 40); do /bin/true "$big" queued-bytes-marker $i; done');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
      const { pid } = await done;
      await new Promise((resolve) => setTimeout(resolve, 500));
      const mine = batches.flat().filter((e) => e.kind === 'exec' && e.snapshot?.ppid === pid && e.snapshot.comm === 'true');
      const whole = mine.filter((e) => e.snapshot!.cmdlineTruncated !== true);
      const short = mine.filter((e) => e.snapshot!.cmdlineTruncated === true);
      const stats = source.stats();
      expect(whole.length).toBeGreaterThan(0);
      expect(short.length).toBeGreaterThan(0);
      for (const exec of whole) expect(argv(exec)![1]).toHaveLength(60_000);
      for (const exec of short) {
        // Twice the tail: the head (program and the start of the padding) and the end (the marker).
        expect(exec.snapshot!.cmdline!.length).toBe(2 * tail);
        expect(argv(exec)![0]).toBe('/bin/true');
        expect(argv(exec)!.at(-2)).toBe('queued-bytes-marker');
      }
      expect(stats.cmdlinesKeptShort).toBeGreaterThanOrEqual(short.length);
      expect(stats.batchesOverBytes).toBeGreaterThan(0);
      expect(stats.eventsDropped).toBeGreaterThanOrEqual(stats.batchesOverBytes!);
      expect(mine.length + stats.eventsDropped).toBeGreaterThanOrEqual(40);
      // Everything handed over was taken: nothing is left counted as waiting.
      expect(stats.queuedBytes).toBe(0);
    } finally {
      await source.stop();
    }
  });

  it('reports the exit status of a process as the kernel gives it (wait status)', async () => {
    const { pid, status, events } = await captureShell('exit 3');
    expect(status).toBe(3);
    const exit = events.find((e) => e.kind === 'exit' && e.tgid === pid);
    expect(exit).toMatchObject({ exitCode: 3 << 8, exitSignal: 17 });
  });

  it('parses stat after the last parenthesis when comm holds spaces and parentheses', async () => {
    const odd = path.join(scratch, 'we) ird (name');
    symlinkSync('/bin/sleep', odd);
    const { pid, events } = await captureShell(`'${odd}' 0.05; true`);
    const exec = execs(events).find((e) => e.snapshot?.comm === 'we) ird (name');
    expect(exec).toBeDefined();
    expect(exec!.snapshot).toMatchObject({ ppid: pid, failed: [] });
    expect(argv(exec!)).toEqual([odd, '0.05']);
  });

  it('keeps argument bytes that are not UTF-8 and flags a cmdline cut at the cap', async () => {
    const { events } = await captureShell(
      `/bin/true "$(printf '\\377\\376')" ${'x'.repeat(200)}; true`,
      { cmdlineMaxBytes: 64 },
    );
    const exec = execs(events).find((e) => e.snapshot?.comm === 'true')!;
    expect(exec.snapshot!.cmdlineTruncated).toBe(true);
    expect(exec.snapshot!.cmdline!.length).toBe(64);
    expect([...exec.snapshot!.cmdline!.subarray(0, 13)]).toEqual([...Buffer.from('/bin/true\0\xff\xfe\0', 'latin1')]);
  });

  it('counts a kernel overflow with a tiny buffer, tells the consumer, and keeps delivering', async () => {
    const capture = await startCapture({ receiveBufferBytes: 1, realtime: false });
    try {
      // A tiny buffer holds a handful of messages: a burst of forks overruns it whenever the
      // reader is not scheduled for a moment. Retry a few bursts in case it kept up.
      for (let attempt = 0; attempt < 10 && capture.source.stats().overflows === 0; attempt++) {
        await runShell('i=0; while [ $i -lt 400 ]; do (:) & i=$((i+1)); done; wait');
      }
      expect(capture.source.stats().overflows).toBeGreaterThan(0);
      expect(capture.source.stats().receiveBufferBytes).toBeLessThan(16 * 1024);
      expect(capture.losses).toContain('overflow');
      // Still delivering: a process started after the overflow is described. With a buffer this
      // small, the rest of the host can overflow it again at any moment, so a few tries are allowed;
      // what may not happen is a reader that stopped delivering altogether.
      let delivered = false;
      for (let attempt = 0; attempt < 5 && !delivered; attempt++) {
        const script = `sleep 0.05; : after-overflow-marker-${attempt}`;
        const { pid } = await runShell(script);
        const events = await capture.settle();
        const tree = treeOf(events, pid);
        const seen = events.filter((e) => tree.has(e.tgid) && e.kind === 'exec').map(argv);
        delivered = seen.some((args) => JSON.stringify(args) === JSON.stringify(['/bin/sh', '-c', script]));
      }
      expect(delivered).toBe(true);
    } finally {
      await capture.source.stop();
    }
  });

  it('stops, then starts again and still delivers', async () => {
    const capture = await startCapture();
    await capture.source.stop();
    await expect(capture.source.stop()).resolves.toBeUndefined();
    const countAfterStop = capture.events.length;
    await capture.source.start((batch) => capture.events.push(...batch));
    try {
      const { pid } = await runShell('/bin/true restart-marker');
      const events = (await capture.settle()).slice(countAfterStop);
      const tree = treeOf(events, pid);
      expect(events.filter((e) => tree.has(e.tgid) && e.kind === 'exec').map(argv)).toContainEqual([
        '/bin/true',
        'restart-marker',
      ]);
      expect(capture.source.stats().eventsByKind.exec).toBeGreaterThan(0);
    } finally {
      await capture.source.stop();
    }
  });

  // Execs come on a socket of their own, the other kinds on a second one (a socket filter splits
  // them in the kernel); the reader merges them. Either way each process's events come in the
  // order they happened, and the merge reports no gap in the kernel's sequence numbers.
  for (const splitExec of [true, false]) {
    it(`delivers every event of a burst, each process's in order, ${splitExec ? 'from two sockets' : 'from one socket'}`, async () => {
      const capture = await startCapture({ splitExec });
      try {
        expect(capture.source.startInfo()?.splitExec).toBe(splitExec);
        // Four loops at once, so that execs arrive while the reader is busy with others.
        const runs = 400;
        const loop = (k: number) => `(i=0; while [ $i -lt ${runs / 4} ]; do /bin/true split-marker ${k}-$i; i=$((i+1)); done) &`;
        const { pid } = await runShell(`${[0, 1, 2, 3].map(loop).join(' ')} (exit 3) & wait`);
        const events = await capture.settle();
        const tree = treeOf(events, pid);
        const mine = events.filter((e) => tree.has(e.tgid) && e.pid === e.tgid);
        // Every /bin/true, whether or not it was still there to have its argv read (on a loaded
        // machine one may exit first: the snapshot says it was gone).
        const execd = mine.filter((e) => e.kind === 'exec' && e.tgid !== pid);
        expect(execd).toHaveLength(runs);
        const marked = execd.filter((e) => argv(e)?.[1] === 'split-marker');
        expect(marked.length).toBeGreaterThanOrEqual(runs * 0.98);
        for (const exec of execd) {
          // The kernel sends a fork before the child can run: fork, exec, exit.
          expect(mine.filter((e) => e.tgid === exec.tgid).map((e) => e.kind)).toEqual(['fork', 'exec', 'exit']);
        }
        expect(capture.source.stats().execsAheadOfRest ?? 0).toBe(0);
        // The subshells that only forked and exited are there too.
        expect(mine.filter((e) => e.kind === 'exit' && e.tgid !== pid && !execd.some((x) => x.tgid === e.tgid)).length).toBeGreaterThanOrEqual(5);
        expect(capture.losses).toEqual([]);
        expect(capture.source.stats().sequenceGaps).toBe(0);
      } finally {
        await capture.source.stop();
      }
    });
  }

  it('keeps up with execs while a process floods rename events, and keeps reading', async () => {
    const capture = await startCapture();
    // Each write to /proc/<pid>/comm is a rename event: the other socket's share of the flood.
    const flooder = spawn('/bin/sh', ['-c', 'while :; do echo flood-a > /proc/$$/comm; echo flood-b > /proc/$$/comm; done'], { stdio: 'ignore' });
    try {
      await sleep(200);
      const runs = 200;
      const { pid } = await runShell(`i=0; while [ $i -lt ${runs} ]; do /bin/true flood-marker $i; i=$((i+1)); done`);
      flooder.kill('SIGKILL');
      const events = await capture.settle();
      expect(capture.source.failure()).toBeNull();
      const tree = treeOf(events, pid);
      const execd = events.filter((e) => e.kind === 'exec' && tree.has(e.tgid) && e.tgid !== pid);
      expect(execd).toHaveLength(runs);
      expect(execd.filter((e) => argv(e)?.[1] === 'flood-marker').length).toBeGreaterThanOrEqual(runs * 0.95);
      expect(capture.source.stats().eventsByKind.comm).toBeGreaterThan(1000);
      // Still reading once the flood is over.
      const after = await runShell('/bin/true after-flood-marker');
      const later = await capture.settle();
      expect(later.filter((e) => e.kind === 'exec' && e.tgid !== after.pid && treeOf(later, after.pid).has(e.tgid)).map(argv)).toContainEqual([
        '/bin/true',
        'after-flood-marker',
      ]);
    } finally {
      flooder.kill('SIGKILL');
      await capture.source.stop();
    }
  });
});
