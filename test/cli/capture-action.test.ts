import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { captureAction, parseActions, type CaptureDependencies } from '../../src/cli/capture.js';
import { RecordedSource, serializeRawEvent } from '../../src/capture/recorded-source.js';
import { FixtureProcFs } from '../../src/process/procfs.js';
import { ExecwardenError } from '../../src/errors.js';
import { makeProcTree, removeTree, writeProcess } from '../process/proc-tree.js';
import { SteppedClock, execEvent, exitEvent, forkEvent } from '../process/raw-events.js';

function collect(stream: PassThrough): () => string {
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return () => text;
}

describe('captureAction (recorded source, fixture /proc)', () => {
  let root: string;
  let source: RecordedSource;
  let deps: CaptureDependencies;

  beforeEach(() => {
    root = makeProcTree();
    writeProcess(root, { pid: 1, ppid: 0, comm: 'systemd', argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd', startTicks: 5 });
    writeProcess(root, { pid: 1200, ppid: 1, comm: 'bash', argv: ['bash'], exe: '/usr/bin/bash', startTicks: 500 });
    const procfs = new FixtureProcFs(root);
    writeProcess(root, { pid: 1300, ppid: 1200, comm: 'setsid', argv: ['setsid', 'sh', '-c', 'echo "a\nb"'], exe: '/usr/bin/setsid', startTicks: 600 });
    const setsid = procfs.snapshot(1300);
    writeProcess(root, { pid: 1300, ppid: 1200, comm: 'sh', argv: ['sh', '-c', 'echo "a\nb"'], exe: '/usr/bin/dash', startTicks: 600 });
    const sh = procfs.snapshot(1300);
    const recording = join(root, 'events.ndjson');
    writeFileSync(recording, [forkEvent(1200, 1300), execEvent(1300, setsid), execEvent(1300, sh), exitEvent(1300)].map(serializeRawEvent).join('\n'));
    source = new RecordedSource({ path: recording });
    deps = {
      checkPrivileges: () => ({ ok: true, missing: [], degraded: ['CAP_SYS_NICE (SCHED_FIFO)'], capabilities: [] }),
      createSource: () => source,
      procfs: () => procfs,
      clock: new SteppedClock(),
    };
  });

  afterEach(() => removeTree(root));

  async function run(options: { actions: string[]; pretty: boolean }) {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const [out, err] = [collect(stdout), collect(stderr)];
    const controller = new AbortController();
    void source.finished.then(() => controller.abort());
    const code = await captureAction(options, { stdout, stderr, signal: controller.signal }, deps);
    return { code, out: out(), err: err() };
  }

  it('streams one ECS document per line and prints its counters at the end', async () => {
    const { code, out, err } = await run({ actions: [], pretty: false });
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    const docs = lines.map((line) => JSON.parse(line));
    expect(docs.map((d) => d.event.action)).toEqual(['fork', 'exec', 'exec', 'end']);
    expect(docs[1].process).toMatchObject({ name: 'setsid', args: ['setsid', 'sh', '-c', 'echo "a\nb"'], parent: { name: 'bash' } });
    expect(docs[2].process.previous.map((p: { executable: string }) => p.executable)).toEqual(['/usr/bin/bash', '/usr/bin/setsid']);
    expect(err).toContain('warning: without CAP_SYS_NICE');
    const counters = JSON.parse(err.slice(err.indexOf('{')));
    expect(counters.documents).toEqual({ exec: 2, fork: 1, end: 1, ptrace: 0, uid_change: 0, gid_change: 0, session_id_change: 0 });
    expect(counters.raw_events).toMatchObject({ fork: 1, exec: 2, exit: 1 });
  });

  it('filters actions and prints readable lines with --pretty', async () => {
    const { out } = await run({ actions: ['exec'], pretty: true });
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('exec');
    expect(lines[0]).toContain('process=setsid[1300]');
    expect(lines[0]).toContain('parent=bash[1200]');
  });

  it('names the missing privilege and fails', async () => {
    deps.checkPrivileges = () => ({ ok: false, missing: ['the initial pid namespace'], degraded: [], capabilities: [] });
    const error = await run({ actions: [], pretty: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecwardenError);
    expect(error).toMatchObject({ code: 'CAPTURE_PRIVILEGE', message: 'capture needs the initial pid namespace' });
  });

  it('rejects unknown actions', () => {
    expect(parseActions(['exec,fork'])).toEqual(new Set(['exec', 'fork']));
    expect(() => parseActions(['exec', 'spawn'])).toThrow("unknown action 'spawn'");
  });
});
