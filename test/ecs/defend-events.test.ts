/**
 * The Defend-faithful fields end to end through the process table and the document builder, on a
 * fixture /proc: identities always, capabilities, containers, session entry leaders, the
 * environment allow-list, script and memfd names, empty argv, renames, ptrace.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FixtureProcFs } from '../../src/process/procfs.js';
import { ProcessEventStream } from '../../src/ecs/process-event-stream.js';
import { EtcAccounts, loadHostInfo } from '../../src/ecs/host.js';
import type { EcsProcessEvent } from '../../src/ecs/process-event.js';
import { makeProcTree, removeTree, writeProcess, type FixtureProcess } from '../process/proc-tree.js';
import { SteppedClock, changeEvent, execEvent, forkEvent } from '../process/raw-events.js';
import { ecsProblems } from './ecs-conformance.js';

const ROOT = new URL('./fixtures/root', import.meta.url).pathname;
const host = loadHostInfo({ root: ROOT, hostname: 'web-1', kernel: '6.1.0', architecture: 'x86_64' });
const accounts = new EtcAccounts({ root: ROOT });
const PTS = (136 << 8) | 3;
const ALL_CAPS = 2 ** 41 - 1;
const DOCKER_DEFAULT_CAPS = 0xa80425fb;
const CONTAINER_ID = 'e3'.repeat(32);

describe('Defend-faithful process events', () => {
  let root: string;
  let procfs: FixtureProcFs;
  let stream: ProcessEventStream;
  const docs: EcsProcessEvent[] = [];

  beforeEach(() => {
    root = makeProcTree();
    writeProcess(root, { pid: 1, ppid: 0, comm: 'systemd', argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd', sid: 1, startTicks: 5 });
    writeProcess(root, { pid: 300, ppid: 1, comm: 'sshd', argv: ['sshd: /usr/sbin/sshd -D'], exe: '/usr/sbin/sshd', sid: 300, startTicks: 100 });
    writeProcess(root, { pid: 310, ppid: 300, comm: 'sshd-session', argv: ['sshd-session: alice [priv]'], exe: '/usr/lib/openssh/sshd-session', sid: 310, startTicks: 110 });
    writeProcess(root, {
      pid: 1200, ppid: 310, comm: 'bash', argv: ['-bash'], exe: '/usr/bin/bash', cwd: '/home/alice', sid: 1200, pgid: 1200,
      ttyNr: PTS, uid: [1000, 1000], gid: [1000, 1000], startTicks: 50_000,
      environ: ['HOME=/home/alice', 'SSH_CONNECTION=198.51.100.23 50122 192.0.2.10 22', 'GITHUB_TOKEN=ghp_secret'],
    });
    procfs = new FixtureProcFs(root, { envVars: ['LD_PRELOAD', 'HISTFILE', 'SSH_CONNECTION'] });
    stream = new ProcessEventStream({
      procfs, host, clock: new SteppedClock(), accounts, monotonicNs: () => 0n, envVars: ['LD_PRELOAD', 'HISTFILE'], capabilityLastBit: 40,
    });
    stream.seed();
  });

  afterEach(() => removeTree(root));

  function run(p: FixtureProcess, options: { fork?: boolean; edit?: (snapshot: NonNullable<ReturnType<FixtureProcFs['snapshot']>>) => void } = {}): EcsProcessEvent {
    writeProcess(root, p);
    if (options.fork !== false) stream.handle(forkEvent(p.ppid, p.pid));
    const snapshot = procfs.snapshot(p.pid)!;
    options.edit?.(snapshot);
    const doc = stream.handle(execEvent(p.pid, snapshot))!;
    docs.push(doc);
    return doc;
  }

  const child = (fields: Partial<FixtureProcess>): FixtureProcess => ({
    pid: 2000, ppid: 1200, comm: 'id', argv: ['id'], exe: '/usr/bin/id', sid: 1200, pgid: 2000, ttyNr: PTS, startTicks: 60_000,
    uid: [0, 0], gid: [0, 0], ...fields,
  });

  it('writes every identity of a root process, equal or not', () => {
    const doc = run(child({}));
    const root0 = { id: '0', name: 'root' };
    expect(doc.process).toMatchObject({ user: root0, real_user: root0, saved_user: root0, group: root0, real_group: root0, saved_group: root0 });
    expect(doc.user).toEqual({ ...root0, effective: root0, Ext: { real: root0 } });
    expect(doc.group).toEqual({ ...root0, Ext: { real: root0 } });
  });

  it('tells effective, real and saved ids apart (setpriv --ruid=65534 --euid=0)', () => {
    const doc = run(child({ uid: [65534, 0, 0], gid: [65534, 0, 0] }));
    expect(doc.process.user).toEqual({ id: '0', name: 'root' });
    expect(doc.process.real_user).toEqual({ id: '65534' });
    expect(doc.user?.Ext?.real).toEqual({ id: '65534' });
    expect(doc.process.saved_user).toEqual({ id: '0', name: 'root' });
  });

  it('names capabilities; a container process gets its id and whether it is privileged', () => {
    const full = run(child({ caps: { permitted: ALL_CAPS, effective: ALL_CAPS, bounding: ALL_CAPS }, cgroup: `0::/system.slice/docker-${CONTAINER_ID}.scope\n` }));
    expect(full.process.thread?.capabilities.effective).toContain('CAP_SYS_ADMIN');
    expect(full.process.thread?.capabilities.permitted).toHaveLength(41);
    expect(full.container).toEqual({ id: CONTAINER_ID, security_context: { privileged: true } });
    const confined = run(child({ pid: 2001, caps: { permitted: DOCKER_DEFAULT_CAPS, effective: DOCKER_DEFAULT_CAPS, bounding: DOCKER_DEFAULT_CAPS }, cgroup: `9:name=systemd:/\n1:pids:/docker/${CONTAINER_ID}\n0::/\n` }));
    expect(confined.container).toEqual({ id: CONTAINER_ID, security_context: { privileged: false } });
    expect(confined.process.thread?.capabilities.effective).not.toContain('CAP_SYS_ADMIN');
    const onHost = run(child({ pid: 2002 }));
    expect(onHost.container).toBeUndefined();
  });

  it('writes only allow-listed variables, and an ssh session entry leader with its client address', () => {
    const doc = run(child({ environ: ['LD_PRELOAD=/dev/shm/hook.so', 'AWS_SECRET_ACCESS_KEY=nope', 'SSH_CONNECTION=198.51.100.23 1 2 3'] }));
    expect(doc.process.env_vars).toEqual(['LD_PRELOAD=/dev/shm/hook.so']);
    expect(JSON.stringify(doc)).not.toContain('nope');
    expect(JSON.stringify(doc)).not.toContain('ghp_secret');
    expect(doc.process.entry_leader).toMatchObject({
      pid: 1200, name: 'bash', executable: '/usr/bin/bash', args: ['-bash'], args_count: 1, interactive: true,
      same_as_process: false, entry_meta: { type: 'sshd', source: { ip: '198.51.100.23' } },
      user: { id: '1000', name: 'alice' }, tty: { char_device: { major: 136, minor: 3 } },
    });
    expect(doc.process.session_leader).toMatchObject({ pid: 1200, executable: '/usr/bin/bash', args: ['-bash'], same_as_process: false });
    expect(doc.process.group_leader).toMatchObject({ pid: 2000, executable: '/usr/bin/id', same_as_process: true });
    expect(doc.process.parent?.group_leader).toMatchObject({ pid: 1200, entity_id: stream.lookup(1200)!.entityId });
  });

  it('gives every process an entry leader: services get init, and a detached shell keeps its session\'s', () => {
    const service = run({ pid: 700, ppid: 1, comm: 'cron', argv: ['/usr/sbin/cron', '-f'], exe: '/usr/sbin/cron', sid: 700, startTicks: 700 });
    expect(service.process.entry_leader).toMatchObject({ pid: 700, same_as_process: true, entry_meta: { type: 'init' } });
    const detached = run(child({ pid: 2100, comm: 'bash', argv: ['bash', '-c', 'x'], exe: '/usr/bin/bash', sid: 2100, pgid: 2100, ttyNr: 0 }));
    expect(detached.process.entry_leader).toMatchObject({ pid: 1200, entry_meta: { type: 'sshd' } });
    expect(detached.process.interactive).toBe(false);
  });

  it('names a #! script after its file and keeps the interpreter as the executable', () => {
    const doc = run(child({ comm: 'deploy.sh', argv: ['/bin/bash', './deploy.sh', '--now'], exe: '/usr/bin/bash' }));
    expect(doc.process).toMatchObject({ name: 'deploy.sh', executable: '/usr/bin/bash', args: ['/bin/bash', './deploy.sh', '--now'] });
    const symlinked = run(child({ pid: 2003, comm: 'python3', argv: ['python3', 'x.py'], exe: '/usr/bin/python3.11' }));
    expect(symlinked.process.name).toBe('python3.11');
  });

  it('never names a process after a comm it set itself after exec', () => {
    const doc = run(child({ comm: 'deploy.sh', argv: ['/bin/bash', './deploy.sh'], exe: '/usr/bin/bash' }), {
      edit: (snapshot) => {
        snapshot.commRenamed = true;
      },
    });
    expect(doc.process.name).toBe('bash');
    expect(doc.execwarden?.process.comm_renamed).toBe(true);
  });

  it('keeps args_count 0 for an exec with an empty argv', () => {
    const doc = run(child({ argv: Buffer.alloc(0) }));
    expect(doc.process).toMatchObject({ args: [], args_count: 0, command_line: '' });
    expect(doc.execwarden?.process.snapshot_missing).toBeUndefined();
  });

  it('flags memfd and deleted executables the way Defend\'s rules read them', () => {
    const doc = run(child({ comm: '3', argv: ['payload'], exe: '/memfd:payload (deleted)' }));
    expect(doc.process.Ext?.memfd?.name).toBe('memfd:payload');
    expect(doc.process.executable).toBe('/memfd:payload (deleted)');
    expect(doc.execwarden?.process.executable_deleted).toBe(true);
  });

  it('writes a ptrace attach with the tracer as the process and the traced pid', () => {
    run(child({ comm: 'gdb', argv: ['gdb', '-p', '1200'], exe: '/usr/bin/gdb' }));
    const doc = stream.handle(changeEvent('comm', 0, { kind: 'ptrace', pid: 1200, tgid: 1200, tracerPid: 2000, tracerTgid: 2000 }))!;
    docs.push(doc);
    expect(doc.event).toMatchObject({ type: ['start'], action: 'ptrace' });
    expect(doc.process).toMatchObject({ pid: 2000, name: 'gdb', Ext: { ptrace: { child_pid: 1200 } } });
    expect(stream.handle(changeEvent('comm', 0, { kind: 'ptrace', pid: 1200, tgid: 1200, tracerPid: 0, tracerTgid: 0 }))).toBeNull();
  });

  it('writes uid, gid and session changes as Defend\'s change events, with the ids after the change', () => {
    run(child({ pid: 2500, comm: 'python3', argv: ['python3', 'x.py'], exe: '/usr/bin/python3.11', uid: [1000, 1000], gid: [1000, 1000] }));
    const uid = stream.handle(changeEvent('uid', 2500, { ruid: 1000, euid: 0 }))!;
    docs.push(uid);
    expect(uid.event).toMatchObject({ type: ['change'], action: 'uid_change' });
    expect(uid.user).toMatchObject({ id: '0', Ext: { real: { id: '1000' } } });
    expect(uid.process).toMatchObject({ pid: 2500, name: 'python3.11', user: { id: '0' }, real_user: { id: '1000' } });
    const gid = stream.handle(changeEvent('gid', 2500, { rgid: 1000, egid: 42 }))!;
    docs.push(gid);
    expect(gid.event).toMatchObject({ type: ['change'], action: 'gid_change' });
    expect(gid.group).toMatchObject({ id: '42' });
    const sid = stream.handle(changeEvent('sid', 2500))!;
    docs.push(sid);
    expect(sid.event).toMatchObject({ type: ['change'], action: 'session_id_change' });
    expect(sid.process.session_leader).toMatchObject({ pid: 2500, same_as_process: true });
    // A thread's change is not the process's; an unknown process has no document.
    expect(stream.handle({ ...changeEvent('uid', 2501, { ruid: 0, euid: 0 }), tgid: 2500 })).toBeNull();
    expect(stream.handle(changeEvent('uid', 9999, { ruid: 0, euid: 0 }))).toBeNull();
  });

  it('writes only ECS fields of the right type, besides Defend\'s own extensions', () => {
    expect(docs.length).toBeGreaterThan(10);
    for (const doc of docs) expect(ecsProblems(JSON.parse(JSON.stringify(doc)))).toEqual([]);
  });
});
