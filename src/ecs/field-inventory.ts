/**
 * What execwarden's process events carry, found by producing them: a short scripted run of the
 * real process table and document builder (an ssh login whose shell starts a container's memfd
 * payload with an allow-listed variable set and a TCP socket on its standard streams and on its
 * parent's, a helper whose streams and its parent's are a named unix socket, a fork, a ptrace
 * attach, an exit) over an in-memory /proc in which every read succeeds. The fields those
 * documents hold, and the values of the few fields rules use to pick an event kind, are the one
 * answer to "does execwarden fill this field?" (the rule loader warns about the others). A field
 * the builder starts writing appears here without anyone keeping a list; test/integration proves
 * on the live kernel that every field listed here really appears.
 */
import type { ProcSnapshot, RawEvent, StdioStream } from '../capture/raw-event.js';
import type { ProcFs } from '../process/procfs.js';
import { DEFAULT_ENV_VARS } from '../process/environment.js';
import type { AccountResolver, HostInfo } from './host.js';
import { ProcessEventStream } from './process-event-stream.js';

const FULL_CAPS = 2 ** 41 - 1;
const PTS = (136 << 8) | 1;
const CONTAINER = `0::/system.slice/docker-${'ab'.repeat(32)}.scope\n`;

interface Scripted {
  pid: number;
  ppid: number;
  sid: number;
  exe: string;
  argv: string[];
  env?: string[];
  cgroup?: string;
  tty?: number;
}

function snapshotOf(p: Scripted): ProcSnapshot {
  return {
    cmdline: Buffer.from(p.argv.map((arg) => `${arg}\0`).join('')),
    cmdlineTruncated: false,
    comm: p.exe.slice(p.exe.lastIndexOf('/') + 1).slice(0, 15),
    exe: p.exe,
    cwd: '/',
    ppid: p.ppid,
    pgid: p.sid,
    sid: p.sid,
    ttyNr: p.tty ?? 0,
    startTicks: p.pid,
    ruid: 1000, euid: 0, suid: 0, rgid: 1000, egid: 0, sgid: 0,
    capPermitted: FULL_CAPS, capEffective: FULL_CAPS, capBounding: FULL_CAPS,
    cgroup: p.cgroup ?? '0::/user.slice\n',
    env: p.env ?? [],
    failed: [],
  };
}

class ScriptedProcFs implements ProcFs {
  readonly clockTicksPerSecond = 100;
  readonly processes = new Map<number, Scripted>();
  listPids(): number[] {
    return [...this.processes.keys()];
  }
  snapshot(pid: number): ProcSnapshot | null {
    const p = this.processes.get(pid);
    return p ? snapshotOf(p) : null;
  }
  startTicks(pid: number): number | null {
    return this.processes.has(pid) ? pid : null;
  }
  bootTimeMs(): number {
    return 0;
  }
}

const HOST: HostInfo = {
  name: 'inventory', hostname: 'inventory', id: 'inventory', architecture: 'x86_64',
  os: { type: 'linux', kernel: '6.0', name: 'Linux', version: '1', platform: 'linux', family: 'linux', full: 'Linux 1' },
};

const ACCOUNTS: AccountResolver = {
  userName: (uid) => (uid === 0 ? 'root' : 'user'),
  groupName: (gid) => (gid === 0 ? 'root' : 'users'),
};

export interface FieldInventory {
  /** Dotted paths of every leaf the documents carry (arrays of objects by their leaves). */
  fields: ReadonlySet<string>;
  /** Values written to the fields rules use to pick a kind of event. */
  values: ReadonlyMap<string, ReadonlySet<string>>;
}

export const KIND_FIELDS = ['event.action', 'event.type', 'event.category', 'event.kind', 'host.os.type'] as const;

/** The dotted leaf paths of a document (arrays of objects by their leaves), added to `fields`. */
export function documentFields(doc: unknown, fields: Set<string> = new Set()): Set<string> {
  collect(doc, '', fields);
  return fields;
}

function collect(value: unknown, path: string, fields: Set<string>): void {
  if (Array.isArray(value)) {
    if (value.some((item) => item !== null && typeof item === 'object')) {
      for (const item of value) collect(item, path, fields);
    } else {
      fields.add(path);
    }
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) collect(child, path === '' ? key : `${path}.${key}`, fields);
    return;
  }
  if (value !== undefined) fields.add(path);
}

function at(doc: Record<string, unknown>, path: string): unknown {
  let value: unknown = doc;
  for (const key of path.split('.')) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}

let inventory: FieldInventory | undefined;

/** The inventory (computed once). */
export function fieldInventory(): FieldInventory {
  if (inventory) return inventory;
  const procfs = new ScriptedProcFs();
  const add = (p: Scripted): void => void procfs.processes.set(p.pid, p);
  add({ pid: 1, ppid: 0, sid: 1, exe: '/usr/lib/systemd/systemd', argv: ['/sbin/init'] });
  add({ pid: 100, ppid: 1, sid: 100, exe: '/usr/sbin/sshd', argv: ['sshd: /usr/sbin/sshd -D'] });
  add({ pid: 200, ppid: 100, sid: 200, exe: '/usr/bin/bash', argv: ['-bash'], tty: PTS, env: ['SSH_CONNECTION=192.0.2.7 50000 192.0.2.1 22'] });
  const stream = new ProcessEventStream({ procfs, host: HOST, clock: { nowMs: () => 0 }, accounts: ACCOUNTS, envVars: DEFAULT_ENV_VARS, monotonicNs: () => 0n });
  stream.seed();
  const docs: unknown[] = [];
  const raw = (event: Partial<RawEvent> & Pick<RawEvent, 'kind' | 'pid'>): void => {
    const doc = stream.handle({ cpu: 0, seq: 0, timestampNs: 1n, tgid: event.pid, ...event });
    if (doc) docs.push(doc);
  };
  raw({ kind: 'fork', pid: 300, parentPid: 200, parentTgid: 200 });
  const payload: Scripted = {
    pid: 300, ppid: 200, sid: 200, tty: PTS, exe: '/memfd:payload (deleted)', argv: ['payload', '-x'],
    env: ['LD_PRELOAD=/tmp/x.so'], cgroup: CONTAINER,
  };
  add(payload);
  const tcp: StdioStream = {
    type: 'socket', path: 'socket:[7]', inode: 7,
    socket: { family: 'ipv4', type: 'stream', protocol: 'tcp', local: { ip: '192.0.2.1', port: 40000 }, remote: { ip: '192.0.2.9', port: 4444 } },
  };
  const journal: StdioStream = {
    type: 'socket', path: 'socket:[8]', inode: 8,
    socket: { family: 'unix', type: 'stream', local: { path: '@x' }, remote: { path: '/run/systemd/journal/stdout' } },
  };
  // Its argv longer than the cap: kept as head and end, every argument counted.
  raw({
    kind: 'exec', pid: 300,
    snapshot: {
      ...snapshotOf(payload), cmdlineTruncated: true, cmdlineTailOffset: 8, argsTotal: 40,
      stdio: [tcp, tcp, tcp], parentStdio: [tcp, tcp, tcp],
    },
  });
  const helper: Scripted = { pid: 301, ppid: 300, sid: 200, exe: '/usr/bin/logger', argv: ['logger'] };
  add(helper);
  raw({ kind: 'fork', pid: 301, parentPid: 300, parentTgid: 300 });
  raw({ kind: 'exec', pid: 301, snapshot: { ...snapshotOf(helper), stdio: [journal, journal, journal], parentStdio: [journal, journal, journal] } });
  raw({ kind: 'ptrace', pid: 200, tracerPid: 300, tracerTgid: 300 });
  raw({ kind: 'uid', pid: 300, ruid: 0, euid: 0 });
  raw({ kind: 'gid', pid: 300, rgid: 0, egid: 0 });
  raw({ kind: 'sid', pid: 300 });
  raw({ kind: 'exit', pid: 300, exitCode: 0, exitSignal: 17 });

  const fields = new Set<string>();
  const values = new Map<string, Set<string>>();
  for (const path of KIND_FIELDS) values.set(path, new Set());
  for (const doc of docs) {
    documentFields(doc, fields);
    for (const path of KIND_FIELDS) {
      const value = at(doc as Record<string, unknown>, path);
      for (const item of Array.isArray(value) ? value : [value]) if (typeof item === 'string') values.get(path)!.add(item);
    }
  }
  inventory = { fields, values };
  return inventory;
}
