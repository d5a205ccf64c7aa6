/**
 * Session data as Elastic Defend's "collect session data" writes it: each process's entry leader
 * (the first process of its session into the host: a service started by init, an ssh or SSM
 * login, a container's first process, a terminal or console login) and the kind of entry.
 *
 * The rules follow Auditbeat's `add_session_metadata` processor (elastic/beats,
 * x-pack/auditbeat/processors/sessionmd/processdb/db.go, with the cases of entry_leader_test.go)
 * and, where that has no answer, elastic/quark (the library behind its kernel_tracing backend),
 * which gives pid 1 and kernel threads a type too. For a process, in order:
 *
 *   pid 1                                          init, itself            (quark)
 *   pid 2 or a child of pid 2 (kernel threads)     kthread, itself if it leads its session,
 *                                                  else kthreadd           (quark)
 *   a session leader (pid == sid) with
 *     a serial tty (major 4, minor 64-255)         terminal, itself
 *     a virtual console (major 4, minor 0-63)
 *       and named login                            console, itself
 *     parent pid 1                                 init, itself
 *     a name not starting with runc,
 *     containerd-shim, calico-node, check-status,
 *     conmon or pause, and a known parent:
 *       pts tty and parent ssm-session-worker      ssm, itself
 *       parent sshd (or sshd-session), itself not  sshd, itself
 *       parent containerd-shim*, runc*, conmon*    container, itself
 *   otherwise the entry leader of the parent, else of the session leader, else of the group
 *   leader, whichever is known first (pid 1 as the parent comes last: see below)
 *   otherwise                                      unknown: itself when it leads its session,
 *                                                  else its session leader when known
 *
 * Beats leaves pid 1 and the last case without an entry leader; execwarden gives every process
 * one (pid 1's own entry is inherited from only when nothing else is known, which keeps Beats'
 * answers; the last case gets type unknown) so `process.entry_leader.entry_meta.type` is always there for
 * rules that exclude types. OpenSSH 9.8 moved the per-connection process to `sshd-session`; it
 * counts as sshd. Names are the basenames of the executables, as in Beats.
 *
 * TTY kinds come from the device numbers (Linux devices.txt; Beats' helper/tty does the same):
 * major 4 minor 0-63 virtual console, 4/64-255 serial terminal, 136-143 pseudo-terminal.
 *
 * Evaluated once per exec, scan or fork (a fork copies its parent's), from at most three
 * relatives already decided: the cost per event does not grow with the tree.
 */
import { executableName } from './process-image.js';

export type EntryType = 'init' | 'sshd' | 'ssm' | 'container' | 'terminal' | 'console' | 'kthread' | 'unknown';
export type TtyKind = 'console' | 'tty' | 'pts' | 'none';

/** tty_nr from stat -> device numbers (major in bits 8-19, minor in 0-7 and 20-31). */
export function ttyDevice(ttyNr: number): { major: number; minor: number } {
  return { major: (ttyNr >> 8) & 0xfff, minor: (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00) };
}

export function ttyKind(ttyNr: number): TtyKind {
  if (ttyNr === 0) return 'none';
  const { major, minor } = ttyDevice(ttyNr);
  if (major === 4) return minor < 64 ? 'console' : minor < 256 ? 'tty' : 'none';
  if (major >= 136 && major <= 143) return 'pts';
  return 'none';
}

/** What the decision reads of a process (ProcessEntry has all of it). */
export interface SessionNode {
  pid: number;
  ppid: number;
  sid: number;
  ttyNr: number;
  image: { executable: string | null; name: string | null };
  parent: SessionNode | null;
  entryLeader: SessionNode | null;
  entryType: EntryType | null;
}

const NOT_ENTRY_PREFIXES = ['runc', 'containerd-shim', 'calico-node', 'check-status', 'conmon', 'pause'];
const CONTAINER_PARENT_PREFIXES = ['containerd-shim', 'runc', 'conmon'];
const SSHD_NAMES = new Set(['sshd', 'sshd-session']);

function baseName(node: SessionNode): string {
  return node.image.executable !== null ? executableName(node.image.executable) : (node.image.name ?? '');
}

export interface EntryDecision<T extends SessionNode> {
  leader: T;
  type: EntryType;
}

/** The entry leader of `node` (see the module header). Relatives must already be decided. */
export function decideEntryLeader<T extends SessionNode>(node: T, relatives: { sessionLeader?: T; groupLeader?: T }): EntryDecision<T> {
  const self = (type: EntryType): EntryDecision<T> => ({ leader: node, type });
  if (node.pid === 1) return self('init');
  const parent = node.parent as T | null;
  if (node.pid === 2 || node.ppid === 2) {
    return { leader: node.sid === node.pid || node.pid === 2 || parent === null ? node : parent, type: 'kthread' };
  }
  const leadsSession = node.pid === node.sid;
  if (leadsSession) {
    const tty = ttyKind(node.ttyNr);
    const name = baseName(node);
    if (tty === 'tty') return self('terminal');
    if (tty === 'console' && name === 'login') return self('console');
    if (node.ppid === 1) return self('init');
    if (parent !== null && !NOT_ENTRY_PREFIXES.some((prefix) => name.startsWith(prefix))) {
      const parentName = baseName(parent);
      if (tty === 'pts' && parentName === 'ssm-session-worker') return self('ssm');
      if (SSHD_NAMES.has(parentName) && !SSHD_NAMES.has(name)) return self('sshd');
      if (CONTAINER_PARENT_PREFIXES.some((prefix) => parentName.startsWith(prefix))) return self('container');
    }
  }
  // pid 1 is its own entry only so that it has one: a process it forked (or adopted) inherits
  // through its session and group first, as in Beats, where pid 1 has none.
  const inheritFrom = parent !== null && parent.pid === 1
    ? [relatives.sessionLeader, relatives.groupLeader, parent]
    : [parent, relatives.sessionLeader, relatives.groupLeader];
  for (const relative of inheritFrom) {
    if (relative && relative !== node && relative.entryLeader !== null && relative.entryType !== null) {
      return { leader: relative.entryLeader as T, type: relative.entryType };
    }
  }
  if (leadsSession || relatives.sessionLeader === undefined) return self('unknown');
  return { leader: relatives.sessionLeader, type: 'unknown' };
}
