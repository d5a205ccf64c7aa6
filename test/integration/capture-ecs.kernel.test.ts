/**
 * ECS process events from the real kernel: the live source, the process table seeded from the
 * real /proc and the document builder, on commands launched from a bash shell. Other processes
 * on the host report too, so every test keeps only its own shell's process tree (followed
 * through the fork documents) and asserts names, args, executables, parents and previous images
 * exactly.
 */
import { realpathSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { PassThrough } from 'node:stream';
import { expect, it } from 'vitest';
import { captureAction } from '../../src/cli/capture.js';
import type { EcsProcessEvent } from '../../src/ecs/process-event.js';
import { BASH, capture, runBash } from '../support/live-capture.js';
import { describeAsRoot } from '../support/require-root.js';

const bin = (name: string) => realpathSync(`/usr/bin/${name}`);

const image = (doc: EcsProcessEvent) => ({
  name: doc.process.name,
  args: doc.process.args,
  executable: doc.process.executable,
  parent: doc.process.parent?.name,
});

describeAsRoot('ECS process events from the live proc connector', () => {
  it('counts every argument of an argv cut at the cap', async () => {
    // 24 arguments, two of them 70,000 bytes long (one argument may not pass 128 KiB): the kept
    // 128 KiB end inside the second.
    const pad = "$(printf '%070000d' 0)";
    const script = `${bin('env')} -i /bin/true ${pad} ${pad} ${Array.from({ length: 20 }, (_, i) => `a${i}`).join(' ')} cut-marker; true`;
    const { execs } = await capture(script);
    const cut = execs.find((doc) => doc.execwarden?.process.args_truncated === true && doc.process.executable === realpathSync('/bin/true'));
    expect(cut, 'the cut exec').toBeDefined();
    // The head (the executable and the first pad) and the end (the last arguments, the marker
    // included) are kept; every argument is counted.
    expect(cut!.process.args_count).toBe(24);
    expect(cut!.process.args![0]).toBe('/bin/true');
    expect(cut!.process.args!.at(-1)).toBe('cut-marker');
    expect(cut!.process.args).toContain('a19');
    expect(cut!.execwarden?.process.args_cut_at).toBe(3);
  });

  it('describes setsid by its own argv, then its payload with setsid as previous', async () => {
    const script = "setsid bash -c 'sleep 0.05'; true";
    const { pid, execs } = await capture(script);
    expect(execs.map(image)).toEqual([
      { name: 'setsid', args: ['setsid', 'bash', '-c', 'sleep 0.05'], executable: bin('setsid'), parent: 'bash' },
      { name: 'bash', args: ['bash', '-c', 'sleep 0.05'], executable: BASH, parent: 'bash' },
      { name: 'sleep', args: ['sleep', '0.05'], executable: bin('sleep'), parent: 'bash' },
    ]);
    const [setsid, payload, last] = execs;
    expect(setsid.process.parent).toMatchObject({ pid, args: [BASH, '-c', script], executable: BASH });
    expect(setsid.process.previous).toEqual([{ args: [BASH, '-c', script], args_count: 3, executable: BASH }]);
    expect(payload.process.previous).toEqual([
      { args: [BASH, '-c', script], args_count: 3, executable: BASH },
      { args: ['setsid', 'bash', '-c', 'sleep 0.05'], args_count: 4, executable: bin('setsid') },
    ]);
    expect(last.process.previous?.at(-1)).toEqual({ args: ['bash', '-c', 'sleep 0.05'], args_count: 3, executable: BASH });
    // setsid made the child a session leader: the payload leads its own session.
    expect(payload.process.session_leader).toMatchObject({ pid: payload.process.pid, entity_id: payload.process.entity_id });
    expect(new Set(execs.map((d) => d.process.entity_id)).size).toBe(1);
    expect(setsid.host.os.type).toBe('linux');
    expect(setsid.user).toMatchObject({ id: '0', name: 'root', Ext: { real: { id: '0', name: 'root' } } });
  });

  it('describes nohup and the program it runs', async () => {
    const { execs } = await capture('nohup sleep 0.05 >/dev/null 2>&1; true');
    expect(execs.map(image)).toEqual([
      { name: 'nohup', args: ['nohup', 'sleep', '0.05'], executable: bin('nohup'), parent: 'bash' },
      { name: 'sleep', args: ['sleep', '0.05'], executable: bin('sleep'), parent: 'bash' },
    ]);
    expect(execs[1].process.previous?.at(-1)).toEqual({ args: ['nohup', 'sleep', '0.05'], args_count: 3, executable: bin('nohup') });
  });

  it('keeps argv, parent and exit code of short-lived processes', async () => {
    const { pid, docs, execs } = await capture('/bin/true first-marker; /bin/false second-marker a b; true');
    expect(execs.map(image)).toEqual([
      { name: 'true', args: ['/bin/true', 'first-marker'], executable: bin('true'), parent: 'bash' },
      { name: 'false', args: ['/bin/false', 'second-marker', 'a', 'b'], executable: bin('false'), parent: 'bash' },
    ]);
    for (const exec of execs) expect(exec.process.parent?.pid).toBe(pid);
    const ends = docs.filter((d) => d.event.action === 'end');
    const falseEnd = ends.find((d) => d.process.pid === execs[1].process.pid);
    expect(falseEnd?.process).toMatchObject({ name: 'false', exit_code: 1, entity_id: execs[1].process.entity_id });
    expect(ends.find((d) => d.process.pid === pid)?.process.exit_code).toBe(0);
  });

  it('names the parent of a process whose parent exited first', async () => {
    // The parent lives 50 ms, so that its own exec is read even on a loaded machine (a bash that
    // exits within a millisecond of its exec can be gone before the reader gets to it, and is then
    // described from what could still be read), and still exits well before the orphan's exec.
    const script = '( sleep 0.25; exec /bin/true orphan-marker ) & sleep 0.05; exit 0';
    const { pid, docs, execs } = await capture(script, 400);
    const orphan = execs.find((d) => d.process.args?.[1] === 'orphan-marker');
    expect(orphan).toBeDefined();
    expect(image(orphan!)).toEqual({ name: 'true', args: ['/bin/true', 'orphan-marker'], executable: bin('true'), parent: 'bash' });
    expect(orphan!.process.parent).toMatchObject({ pid, executable: BASH, args: [BASH, '-c', script] });
    // The parent really was gone before the exec.
    const parentEnd = docs.find((d) => d.event.action === 'end' && d.process.pid === pid)!;
    expect(parentEnd.event.sequence).toBeLessThan(orphan!.event.sequence);
  });

  it('records both replaced images of a process that execs twice', async () => {
    const { execs } = await capture('env /bin/true twice-marker; true');
    expect(execs.map(image)).toEqual([
      { name: 'env', args: ['env', '/bin/true', 'twice-marker'], executable: bin('env'), parent: 'bash' },
      { name: 'true', args: ['/bin/true', 'twice-marker'], executable: bin('true'), parent: 'bash' },
    ]);
    expect(execs[1].process.previous?.slice(1)).toEqual([
      { args: ['env', '/bin/true', 'twice-marker'], args_count: 3, executable: bin('env') },
    ]);
  });

  it('survives an overflow: counts it, rescans /proc and describes what comes after', async () => {
    // A 1-byte request gets the kernel minimum; three parallel exec loops overflow it. The same
    // tiny buffer also overflows on whatever else the host runs meanwhile, so the markers after
    // the storm are launched a few times, found by a unique argument rather than through fork
    // events (which may be among the lost), and one exact description shows the recovery.
    const marker = `after-marker-${process.pid}-${Date.now()}`;
    const storm = 'for i in 1 2 3; do (for j in $(seq 300); do /bin/true; done) & done; wait';
    const markers = `for k in 1 2 3 4 5 6 7 8; do sleep 0.1; bash -c "sleep 0.05" ${marker}; done`;
    const { all, stats, capture: counters } = await capture(`${storm}; ${markers}; true`, 150, {
      receiveBufferBytes: 1,
      realtime: false,
    });
    expect(counters.overflows).toBeGreaterThan(0);
    expect(stats.resyncRequests).toBeGreaterThan(0);
    expect(stats.resyncs).toBeGreaterThan(0);
    expect(stats.resyncs).toBeLessThanOrEqual(stats.resyncRequests);
    const after = all.filter((d) => d.event.action === 'exec' && d.process.args?.[3] === marker).map(image);
    expect(after.length).toBeGreaterThan(0);
    for (const described of after) {
      expect(described).toEqual({ name: 'bash', args: ['bash', '-c', 'sleep 0.05', marker], executable: BASH, parent: 'bash' });
    }
  });

  it('streams the same documents through `execwarden capture` and prints counters on stop', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    const controller = new AbortController();
    const done = captureAction({ actions: ['exec'], pretty: false }, { stdout, stderr, signal: controller.signal });
    // The action gives no sign of being subscribed: launch until the marker shows up (bounded).
    const pids: number[] = [];
    for (let attempt = 0; attempt < 50 && !out.includes('cli-marker'); attempt++) {
      await sleep(100);
      pids.push(await runBash('/bin/true cli-marker "two words"; true'));
    }
    await sleep(150);
    controller.abort();
    expect(await done).toBe(0);
    const docs = out.trimEnd().split('\n').map((line) => JSON.parse(line) as EcsProcessEvent);
    expect(docs.every((d) => d.event.action === 'exec')).toBe(true);
    const mine = docs.find((d) => pids.includes(d.process.parent?.pid ?? -1) && d.process.args?.[1] === 'cli-marker');
    expect(mine && image(mine)).toEqual({ name: 'true', args: ['/bin/true', 'cli-marker', 'two words'], executable: bin('true'), parent: 'bash' });
    const counters = JSON.parse(err.slice(err.indexOf('{')));
    expect(counters.documents.exec).toBe(docs.length);
    expect(counters.process_table.size).toBeGreaterThan(0);
    expect(counters.overflows).toBe(0);
  });
});
