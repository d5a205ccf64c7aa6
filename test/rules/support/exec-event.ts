/**
 * Builds ECS process events shaped like the ones src/ecs writes, from a short description: the
 * rule tests, the rule-test data files and the engine benchmark all describe processes this way.
 */
export interface ProcessSpec {
  name: string;
  args: string[];
  executable?: string;
  pid?: number;
  entityId?: string;
  workingDirectory?: string;
}

export interface ExecEventSpec extends ProcessSpec {
  parent?: ProcessSpec;
  action?: 'exec' | 'fork' | 'end';
  user?: { id: string; name: string };
  hostName?: string;
  hostId?: string;
  timestampMs?: number;
  sequence?: number;
  previous?: { args: string[]; executable: string }[];
}

const SEARCH_PATH: Record<string, string> = {
  bash: '/usr/bin/bash', sh: '/usr/bin/sh', dash: '/usr/bin/dash', zsh: '/usr/bin/zsh',
  setsid: '/usr/bin/setsid', nohup: '/usr/bin/nohup', sshd: '/usr/sbin/sshd', cron: '/usr/sbin/cron',
  systemd: '/usr/lib/systemd/systemd', 'apt-get': '/usr/bin/apt-get', dpkg: '/usr/bin/dpkg',
};

function executableOf(spec: ProcessSpec): string {
  return spec.executable ?? SEARCH_PATH[spec.name] ?? `/usr/bin/${spec.name}`;
}

function describe(spec: ProcessSpec, fallbackPid: number, hostId: string, startIso: string): Record<string, unknown> {
  const pid = spec.pid ?? fallbackPid;
  return {
    pid,
    name: spec.name,
    executable: executableOf(spec),
    args: spec.args,
    args_count: spec.args.length,
    command_line: spec.args.join(' '),
    working_directory: spec.workingDirectory ?? '/root',
    entity_id: spec.entityId ?? `${hostId.slice(0, 8)}-${pid}`,
    start: startIso,
    interactive: false,
  };
}

export function execEvent(spec: ExecEventSpec): Record<string, unknown> {
  const hostId = spec.hostId ?? '4f1c9b2e7d3a4c5b8e6f0a1b2c3d4e5f';
  const timestamp = new Date(spec.timestampMs ?? Date.UTC(2026, 0, 12, 10, 0, 0)).toISOString();
  const user = spec.user ?? { id: '0', name: 'root' };
  const action = spec.action ?? 'exec';
  const parentSpec = spec.parent ?? { name: 'bash', args: ['-bash'] };
  const process: Record<string, unknown> = describe(spec, 4242, hostId, timestamp);
  process.parent = describe({ ...parentSpec, args: parentSpec.args ?? [parentSpec.name] }, 4200, hostId, timestamp);
  process.user = user;
  if (spec.previous !== undefined) {
    process.previous = spec.previous.map((p) => ({ args: p.args, args_count: p.args.length, executable: p.executable }));
  }
  return {
    '@timestamp': timestamp,
    agent: { type: 'execwarden', version: '0.1.0', name: spec.hostName ?? 'web-1', id: hostId },
    ecs: { version: '8.11.0' },
    event: {
      kind: 'event', category: ['process'], type: [action === 'end' ? 'end' : 'start'], action,
      created: timestamp, sequence: spec.sequence ?? 1, module: 'execwarden', dataset: 'execwarden.process',
    },
    host: {
      name: spec.hostName ?? 'web-1', hostname: spec.hostName ?? 'web-1', id: hostId, architecture: 'x86_64',
      os: { type: 'linux', kernel: '6.18.0', name: 'Debian GNU/Linux', family: 'debian', version: '13', platform: 'debian', full: 'Debian GNU/Linux 13' },
    },
    process,
    user,
  };
}
