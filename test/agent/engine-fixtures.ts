/** What the engine tests share: a host, and exec snapshots of a shell's children. */
import type { ProcSnapshot, RawEvent } from '../../src/capture/raw-event.js';
import type { HostInfo } from '../../src/ecs/index.js';
import { execEvent, exitEvent, forkEvent } from '../process/raw-events.js';

export const HOST: HostInfo = {
  name: 'lab-host',
  hostname: 'lab-host',
  id: '0123456789abcdef0123456789abcdef',
  architecture: 'x86_64',
  os: { type: 'linux', kernel: '6.18.0', name: 'Debian GNU/Linux', version: '12', platform: 'debian', family: 'debian', full: 'Debian GNU/Linux 12' },
};

/** A snapshot of `argv` run from `exe` by `ppid`; the start time follows from the pid. */
export function snapshot(argv: string[], exe: string, ppid: number, pid: number): ProcSnapshot {
  return {
    cmdline: Buffer.from(`${argv.join('\0')}\0`),
    cmdlineTruncated: false,
    comm: exe.split('/').pop()!.slice(0, 15),
    exe,
    cwd: '/root',
    ppid,
    pgid: pid,
    sid: pid,
    ttyNr: 0,
    startTicks: 5000 + pid,
    ruid: 0,
    euid: 0,
    rgid: 0,
    egid: 0,
    cgroup: '/user.slice',
    failed: [],
  };
}

/** A shell (pid 100) that runs `setsid bash -c '<payload>'` as pid `child`; setsid then execs bash. */
export function reverseShellLaunch(child: number, payload: string): RawEvent[] {
  return [
    forkEvent(100, child),
    execEvent(child, snapshot(['setsid', 'bash', '-c', payload], '/usr/bin/setsid', 100, child)),
    execEvent(child, snapshot(['bash', '-c', payload], '/usr/bin/bash', 100, child)),
    exitEvent(child, 0),
  ];
}
