/** What the process-event tests share: a host read from fixtures/root, its accounts, a login shell. */
import { EtcAccounts, loadHostInfo } from '../../src/ecs/host.js';
import type { FixtureProcess } from '../process/proc-tree.js';

export const ROOT = new URL('./fixtures/root', import.meta.url).pathname;
export const host = loadHostInfo({ root: ROOT, hostname: 'web-1', kernel: '6.1.0-18-amd64', architecture: 'x86_64' });
export const accounts = new EtcAccounts({ root: ROOT });

/** alice's login shell, pid 1200, on /dev/pts/0. */
export const SHELL: FixtureProcess = {
  pid: 1200, ppid: 1, comm: 'bash', argv: ['-bash'], exe: '/usr/bin/bash', cwd: '/home/alice',
  ttyNr: 34816, uid: [1000, 1000], gid: [1000, 1000], startTicks: 50_000,
};
