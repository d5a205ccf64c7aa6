/**
 * The entry-leader cases of Auditbeat's add_session_metadata processor (elastic/beats,
 * x-pack/auditbeat/processors/sessionmd/processdb/entry_leader_test.go), rewritten as a table,
 * plus the cases where execwarden goes further (pid 1, kernel threads, sshd-session, a type for
 * every process). Each tree is decided in insertion order, as the table does on exec and scan.
 */
import { describe, expect, it } from 'vitest';
import { decideEntryLeader, ttyKind, type EntryType, type SessionNode } from '../../src/process/entry-leader.js';

const PTS = (136 << 8) | 62;
const CONSOLE = (4 << 8) | 62;
const SERIAL = (4 << 8) | 64;

interface Spec {
  name: string;
  pid: number;
  ppid?: number;
  sid?: number;
  pgid?: number;
  tty?: number;
}

type Node = SessionNode & { pgid: number; name: string };

/** Decides each process in order, as inserts; returns them by pid. */
function decide(specs: Spec[], existing = new Map<number, Node>()): Map<number, Node> {
  const byPid = existing;
  for (const spec of specs) {
    const node: Node = {
      name: spec.name,
      pid: spec.pid,
      ppid: spec.ppid ?? 0,
      sid: spec.sid ?? 0,
      pgid: spec.pgid ?? spec.sid ?? 0,
      ttyNr: spec.tty ?? 0,
      image: { executable: `/usr/bin/${spec.name}`, name: spec.name },
      parent: null,
      entryLeader: null,
      entryType: null,
    };
    node.parent = byPid.get(node.ppid) ?? null;
    const leaderOf = (pid: number): Node | undefined => (pid > 0 && pid !== node.pid ? byPid.get(pid) : undefined);
    const decision = decideEntryLeader(node, { sessionLeader: leaderOf(node.sid), groupLeader: leaderOf(node.pgid) });
    node.entryLeader = decision.leader;
    node.entryType = decision.type;
    byPid.set(node.pid, node);
  }
  return byPid;
}

function expectEntry(nodes: Map<number, Node>, pid: number, leaderPid: number, type: EntryType): void {
  const node = nodes.get(pid)!;
  expect({ pid, leader: node.entryLeader?.pid, type: node.entryType }).toEqual({ pid, leader: leaderPid, type });
}

describe('entry leaders (Auditbeat processdb scenarios)', () => {
  it('a session leader on a serial terminal is a terminal entry', () => {
    expectEntry(decide([{ name: 'noproc', pid: 1234, sid: 1234, tty: SERIAL }]), 1234, 1234, 'terminal');
  });

  it('login on a virtual console is a console entry', () => {
    expectEntry(decide([{ name: 'login', pid: 1234, sid: 1234, tty: CONSOLE }]), 1234, 1234, 'console');
  });

  it('a session leader started by init is an init entry', () => {
    expectEntry(decide([{ name: 'rsyslogd', pid: 100, ppid: 1, sid: 100, tty: PTS }]), 100, 100, 'init');
  });

  it('a shell under ssm-session-worker on a pts is an ssm entry', () => {
    const nodes = decide([
      { name: 'ssm-session-worker', pid: 999 },
      { name: 'bash', pid: 1000, ppid: 999, sid: 1000, tty: PTS },
    ]);
    expectEntry(nodes, 1000, 1000, 'ssm');
  });

  it('a shell under sshd is an sshd entry; under sshd-session too (OpenSSH 9.8+)', () => {
    expectEntry(decide([{ name: 'sshd', pid: 999 }, { name: 'bash', pid: 1000, ppid: 999, sid: 1000, tty: PTS }]), 1000, 1000, 'sshd');
    expectEntry(
      decide([{ name: 'sshd-session', pid: 999 }, { name: 'bash', pid: 1000, ppid: 999, sid: 1000, tty: PTS }]),
      1000, 1000, 'sshd',
    );
  });

  it('a session leader under containerd-shim or runc is a container entry', () => {
    expectEntry(decide([{ name: 'containerd-shim-runc-v2', pid: 999 }, { name: 'bash', pid: 1000, ppid: 999, sid: 1000, tty: PTS }]), 1000, 1000, 'container');
    expectEntry(decide([{ name: 'runc', pid: 999 }, { name: 'bash', pid: 1000, ppid: 999, sid: 1000, tty: PTS }]), 1000, 1000, 'container');
  });

  it('a session leader with no known parent is an unknown entry of its own', () => {
    expectEntry(decide([{ name: 'bash', pid: 1000, sid: 1000, tty: PTS }]), 1000, 1000, 'unknown');
  });

  it('a re-exec that made the process a session leader overrides the inherited leader', () => {
    const nodes = decide([
      { name: 'ssm-session-worker', pid: 999, ppid: 1, sid: 999 },
      { name: 'bash', pid: 1000, ppid: 999, sid: 999, tty: PTS },
    ]);
    expectEntry(nodes, 999, 999, 'init');
    expectEntry(nodes, 1000, 999, 'init');
    decide([{ name: 'bash', pid: 1000, ppid: 999, sid: 1000, tty: PTS }], nodes);
    expectEntry(nodes, 1000, 1000, 'ssm');
  });

  it('init -> sshd -> bash -> ls', () => {
    const nodes = decide([
      { name: 'systemd', pid: 1, sid: 1 },
      { name: 'sshd', pid: 100, ppid: 1, sid: 100 },
      { name: 'bash', pid: 1000, ppid: 100, sid: 1000, pgid: 1000 },
      { name: 'ls', pid: 1001, ppid: 1000, sid: 1000, pgid: 1001 },
    ]);
    expectEntry(nodes, 1, 1, 'init'); // Beats leaves pid 1 without one; quark gives it init
    expectEntry(nodes, 100, 100, 'init');
    expectEntry(nodes, 1000, 1000, 'sshd');
    expectEntry(nodes, 1001, 1000, 'sshd');
  });

  it('init -> sshd -> sshd -> sshd -> bash -> ls', () => {
    const nodes = decide([
      { name: 'systemd', pid: 1, sid: 1 },
      { name: 'sshd', pid: 100, ppid: 1, sid: 100 },
      { name: 'sshd', pid: 101, ppid: 100, sid: 101 },
      { name: 'sshd', pid: 102, ppid: 101, sid: 101 },
      { name: 'bash', pid: 1000, ppid: 102, sid: 1000, pgid: 1000 },
      { name: 'ls', pid: 1001, ppid: 1000, sid: 1000, pgid: 1001 },
    ]);
    expectEntry(nodes, 101, 100, 'init');
    expectEntry(nodes, 102, 100, 'init');
    expectEntry(nodes, 1000, 1000, 'sshd');
    expectEntry(nodes, 1001, 1000, 'sshd');
  });

  it('containerd and its shim are init entries; the container\'s first process is a container entry', () => {
    const nodes = decide([
      { name: 'systemd', pid: 1, sid: 1 },
      { name: 'containerd', pid: 100, ppid: 1, sid: 100 },
      { name: 'containerd-shim-runc-v2', pid: 1000, ppid: 1, sid: 100 },
      { name: 'bash', pid: 1001, ppid: 1000, sid: 1001 },
      { name: 'pause', pid: 1002, ppid: 1000, sid: 1002 },
    ]);
    expectEntry(nodes, 100, 100, 'init');
    expectEntry(nodes, 1000, 100, 'init');
    expectEntry(nodes, 1001, 1001, 'container');
    // Beats makes pause a container entry; quark (and execwarden) filter it like runc and conmon.
    expect(nodes.get(1002)!.entryType).not.toBe('container');
  });

  it('a process without a known parent inherits through its group leader, else its session leader', () => {
    const base: Spec[] = [
      { name: 'systemd', pid: 1, sid: 1 },
      { name: 'sshd', pid: 100, ppid: 1, sid: 100 },
      { name: 'bash', pid: 1000, ppid: 100, sid: 1000, pgid: 1000 },
      { name: 'ls', pid: 1001, ppid: 1000, sid: 1000, pgid: 1001 },
    ];
    expectEntry(decide([...base, { name: 'grep', pid: 1002, sid: 0, pgid: 1001 }]), 1002, 1000, 'sshd');
    expectEntry(decide([...base, { name: 'grep', pid: 1002, sid: 1000, pgid: 0 }]), 1002, 1000, 'sshd');
  });

  it('a session leader whose parent is unknown is its own unknown entry', () => {
    expectEntry(decide([{ name: 'grep', pid: 1001, ppid: 1000, sid: 1001 }]), 1001, 1001, 'unknown');
  });

  it('kernel threads are kthread entries (quark), never a user session', () => {
    const nodes = decide([
      { name: 'kthreadd', pid: 2, ppid: 0 },
      { name: 'rcu_gp', pid: 3, ppid: 2 },
      { name: 'modprobe', pid: 400, ppid: 2, sid: 400 },
    ]);
    expectEntry(nodes, 2, 2, 'kthread');
    expectEntry(nodes, 3, 2, 'kthread');
    expectEntry(nodes, 400, 400, 'kthread');
  });

  it('pid reuse in the same session and in a new one', () => {
    const nodes = decide([
      { name: 'systemd', pid: 1, sid: 1 },
      { name: 'sshd', pid: 100, ppid: 1, sid: 100 },
      { name: 'sshd', pid: 101, ppid: 100, sid: 101 },
      { name: 'bash', pid: 1000, ppid: 101, sid: 1000, pgid: 1000 },
      { name: 'ls', pid: 1001, ppid: 1000, sid: 1000, pgid: 1001 },
      { name: 'grep', pid: 1001, ppid: 1000, sid: 1000, pgid: 1001 },
    ]);
    expectEntry(nodes, 1001, 1000, 'sshd');
    decide([
      { name: 'sshd', pid: 1001, ppid: 1, sid: 1001 },
      { name: 'sshd', pid: 1002, ppid: 1001, sid: 1002 },
      { name: 'bash', pid: 1003, ppid: 1002, sid: 1003, pgid: 1003 },
      { name: 'w', pid: 1000, ppid: 1003, sid: 1003, pgid: 1000 },
      { name: 'grep', pid: 100, ppid: 1003, sid: 1003, pgid: 1000 },
    ], nodes);
    expectEntry(nodes, 1001, 1001, 'init');
    expectEntry(nodes, 1002, 1001, 'init');
    expectEntry(nodes, 1003, 1003, 'sshd');
    expectEntry(nodes, 1000, 1003, 'sshd');
    expectEntry(nodes, 100, 1003, 'sshd');
  });

  it('a shell that detaches with setsid inside an ssh session keeps the ssh entry leader', () => {
    const nodes = decide([
      { name: 'sshd', pid: 100, ppid: 1, sid: 100 },
      { name: 'bash', pid: 1000, ppid: 100, sid: 1000, tty: PTS },
      { name: 'bash', pid: 1005, ppid: 1000, sid: 1005 },
    ]);
    expectEntry(nodes, 1005, 1000, 'sshd');
  });

  it('classifies ttys by device number, not by the kernel-mangled split some readers use', () => {
    expect(ttyKind(0)).toBe('none');
    expect(ttyKind(PTS)).toBe('pts');
    expect(ttyKind((143 << 8) | 5)).toBe('pts');
    expect(ttyKind(CONSOLE)).toBe('console');
    expect(ttyKind(SERIAL)).toBe('tty');
    expect(ttyKind((5 << 8) | 1)).toBe('none'); // /dev/console itself
  });
});
