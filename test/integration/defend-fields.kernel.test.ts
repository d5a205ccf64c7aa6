/**
 * The Defend-faithful fields on the live kernel: identities, capabilities, containers (a cgroup
 * the test creates and moves a process into), the environment allow-list, session entry leaders
 * (an sshd and an SSM agent stood in for by renamed copies of bash and script), script and memfd
 * names, an empty argv, a ptrace attach (test/support/probe.c), and standard streams that are a
 * TCP socket (on the process and on its parent) and a named unix socket. Every field the rule loader
 * counts as filled must appear in what this run captured.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { copyFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { EcsProcessEvent } from '../../src/ecs/process-event.js';
import { documentFields } from '../../src/ecs/field-inventory.js';
import { FILLED_FIELDS } from '../../src/rules/filled-fields.js';
import { BASH, capture } from '../support/live-capture.js';
import { describeAsRoot } from '../support/require-root.js';

const TRUE = realpathSync('/bin/true');
const CONTAINER_ID = `${'ec'.repeat(31)}01`;

/** Mount points of the cgroup v2 hierarchy and of a v1 one, from mountinfo. */
function cgroupMounts(): { v2: string | null; v1: string | null } {
  let v2: string | null = null;
  let v1: string | null = null;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = left.split(' ')[4];
    const [fsType, , options = ''] = right.split(' ');
    if (fsType === 'cgroup2') v2 ??= mountPoint;
    if (fsType === 'cgroup' && options.split(',').includes('pids')) v1 ??= mountPoint;
  }
  return { v2, v1 };
}

const has = (doc: EcsProcessEvent, marker: string) => doc.process.args?.includes(marker) === true;

/** This process's bounding set holds every capability of the kernel (not so in a confined sandbox). */
function ownBoundingSetIsWhole(): boolean {
  const mask = /^CapBnd:\s+([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  const last = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  return BigInt(`0x${mask}`) === (1n << BigInt(last + 1)) - 1n;
}

describeAsRoot('Defend-faithful fields on the live kernel', () => {
  let work: string;
  let created: string[] = [];
  let result: Awaited<ReturnType<typeof capture>>;
  const mounts = cgroupMounts();
  const servers: Server[] = [];
  let tcpPort = 0;
  let unixPath = '';

  /** A listener that holds its connections open until the test ends. */
  const listen = async (where: number | string): Promise<Server> => {
    const server = createServer(() => {});
    servers.push(server);
    await new Promise<void>((resolve) => (typeof where === 'number' ? server.listen(where, '127.0.0.1', resolve) : server.listen(where, resolve)));
    return server;
  };

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'execwarden-defend-'));
    const probe = path.join(work, 'probe');
    execFileSync('gcc', ['-O2', '-pthread', '-o', probe, new URL('../support/probe.c', import.meta.url).pathname]);
    copyFileSync(BASH, path.join(work, 'sshd'));
    copyFileSync(realpathSync('/usr/bin/script'), path.join(work, 'ssm-session-worker'));
    chmodSync(path.join(work, 'sshd'), 0o755);
    chmodSync(path.join(work, 'ssm-session-worker'), 0o755);
    const secretFile = path.join(work, 'secret');
    writeFileSync(secretFile, 'do-not-log');
    const tcp = await listen(0);
    tcpPort = (tcp.address() as { port: number }).port;
    unixPath = path.join(work, 'stream.sock');
    await listen(unixPath);
    const unixClient = [
      'import os, socket, subprocess, sys',
      's = socket.socket(socket.AF_UNIX)',
      "s.bind('\\0execwarden-test-client')",
      `s.connect('${unixPath}')`,
      '[os.dup2(s.fileno(), fd) for fd in (0, 1, 2)]',
      `sys.exit(subprocess.call(['${BASH}', '-c', 'sleep 0.2; true', 'unix-stdio-marker']))`,
    ].join('; ');
    const scriptFile = path.join(work, 'execwarden-probe.sh');
    writeFileSync(scriptFile, '#!/bin/bash\nexit 0\n', { mode: 0o755 });

    const cgroupSteps: string[] = [];
    for (const [mount, marker] of [[mounts.v2, 'container-v2-marker'], [mounts.v1, 'container-v1-marker']] as const) {
      if (mount === null) continue;
      const parent = path.join(mount, `execwarden-test-${process.pid}`);
      const leaf = mount === mounts.v2 ? path.join(parent, `docker-${CONTAINER_ID}.scope`) : path.join(parent, 'docker', CONTAINER_ID);
      mkdirSync(leaf, { recursive: true });
      created.push(leaf, ...(mount === mounts.v1 ? [path.dirname(leaf)] : []), parent);
      cgroupSteps.push(`bash -c 'echo $$ > ${leaf}/cgroup.procs && exec ${TRUE} ${marker}'`);
    }

    const script = [
      `${TRUE} root-marker`,
      `setpriv --ruid=65534 --euid=0 ${TRUE} setpriv-marker`,
      ...cgroupSteps,
      // The secret comes from a file so that no argument carries it.
      `export EXECWARDEN_SECRET=$(cat ${secretFile})`,
      `env LD_PRELOAD=/nonexistent/execwarden-hook.so ${TRUE} env-marker 2>/dev/null`,
      `${scriptFile} script-marker`,
      `${probe} memfd execwarden-probe ${TRUE} true memfd-marker`,
      `${probe} empty-argv ${TRUE}`,
      `${probe} ptrace`,
      `${work}/sshd -c 'SSH_CONNECTION="203.0.113.9 50000 192.0.2.1 22" setsid ${BASH} -c "${TRUE} ssh-marker; true"; true'`,
      `${work}/ssm-session-worker -qec '${TRUE} ssm-marker; true' /dev/null`,
      // An argv past the 128 KiB cap (one argument may not pass 128 KiB): cut, head and end kept.
      `${TRUE} "$(printf '%070000d' 0)" "$(printf '%070000d' 0)" cut-marker`,
      // Standard streams: a TCP socket on the process, then only on its parent (a subshell that
      // forks, as a pty wrapper does), then a unix socket bound to an abstract name.
      `exec 3<>/dev/tcp/127.0.0.1/${tcpPort}`,
      // (each lives a moment, so that its socket is still there to be looked up under load)
      `${BASH} -c 'sleep 0.2; true' tcp-stdio-marker <&3 >&3 2>&3`,
      `( exec 0<&3 1>&3 2>&3; ${BASH} -c 'sleep 0.2; true' parent-socket-marker </dev/null >/dev/null 2>/dev/null; true )`,
      'exec 3>&-',
      `python3 -c "${unixClient}"`,
      'true',
    ].join('\n');
    result = await capture(script, 300, { outputEnvVars: ['LD_PRELOAD'] });
  });

  afterAll(() => {
    for (const server of servers) server.close();
    // Leaves first; the processes in them have exited.
    for (const dir of created) {
      try {
        rmdirSync(dir);
      } catch {
        // already gone
      }
    }
    created = [];
    if (work && existsSync(work)) rmSync(work, { recursive: true, force: true });
  });

  /** The exec of `executable` (default /bin/true) with `marker` among its arguments. */
  const exec = (marker: string, executable = TRUE): EcsProcessEvent => {
    const found = result.execs.find((doc) => has(doc, marker) && doc.process.executable === executable);
    expect(found, `an exec with ${marker}`).toBeDefined();
    return found!;
  };

  it('a root exec carries every identity, equal ones included, and root\'s capabilities', () => {
    const doc = exec('root-marker');
    expect(doc.process.real_user?.id).toBe('0');
    expect(doc.process.saved_user?.id).toBe('0');
    expect(doc.process.real_group?.id).toBe('0');
    expect(doc.user).toMatchObject({ id: '0', effective: { id: '0' }, Ext: { real: { id: '0' } } });
    expect(doc.group).toMatchObject({ id: '0', Ext: { real: { id: '0' } } });
    expect(doc.process.thread?.capabilities.effective).toContain('CAP_SYS_ADMIN');
    expect(doc.process.thread?.capabilities.permitted).toContain('CAP_SYS_ADMIN');
  });

  it('setpriv --ruid=65534 --euid=0 gives effective 0 and real 65534', () => {
    const doc = exec('setpriv-marker');
    expect(doc.process.user?.id).toBe('0');
    expect(doc.process.real_user?.id).toBe('65534');
    expect(doc.user?.Ext?.real.id).toBe('65534');
  });

  it('a process in a container cgroup carries its id; a host process none', () => {
    const markers = [mounts.v2 && 'container-v2-marker', mounts.v1 && 'container-v1-marker'].filter((m): m is string => !!m);
    expect(markers.length).toBeGreaterThan(0);
    for (const marker of markers) {
      const doc = exec(marker);
      expect(doc.container?.id, marker).toBe(CONTAINER_ID);
      // Privileged when the bounding set is whole: as whole as this test's own.
      expect(doc.container?.security_context?.privileged, marker).toBe(ownBoundingSetIsWhole());
    }
    expect(exec('root-marker').container).toBeUndefined();
  });

  it('LD_PRELOAD appears in env_vars; nothing off the allow-list does', () => {
    const doc = exec('env-marker');
    expect(doc.process.env_vars).toEqual(['LD_PRELOAD=/nonexistent/execwarden-hook.so']);
    expect(JSON.stringify(result.all)).not.toContain('do-not-log');
  });

  it('setpriv\'s uid change is a uid_change event with the new effective id', () => {
    const change = result.docs.find((doc) => doc.event.action === 'uid_change' && doc.process.user?.id === '0' && doc.process.real_user?.id === '65534');
    expect(change, 'the uid_change of setpriv').toBeDefined();
    expect(change!.event.type).toEqual(['change']);
    expect(change!.process.name).toBe('setpriv');
  });

  it('a #!/bin/bash script is named after the script', () => {
    const doc = exec('script-marker', BASH);
    expect(doc.process.name).toBe('execwarden-probe.sh');
    expect(doc.process.executable).toBe(BASH);
  });

  it('a memfd exec is named, flagged deleted, and an empty argv keeps args_count 0', () => {
    const memfd = result.execs.find((doc) => has(doc, 'memfd-marker') && doc.process.executable?.startsWith('/memfd:'));
    expect(memfd, 'the memfd exec').toBeDefined();
    expect(memfd!.process.Ext?.memfd?.name).toBe('memfd:execwarden-probe');
    expect(memfd!.execwarden?.process.executable_deleted).toBe(true);
    const empty = result.execs.find((doc) => doc.process.executable === TRUE && doc.process.args_count === 0);
    expect(empty, 'the empty-argv exec').toBeDefined();
    expect(empty!.process.args).toEqual([]);
    expect(empty!.execwarden?.process.snapshot_missing).toBeUndefined();
  });

  it('a ptrace attach names the tracer and the traced child', () => {
    const attach = result.docs.find((doc) => doc.event.action === 'ptrace');
    expect(attach).toBeDefined();
    expect(attach!.process.name).toBe('probe');
    expect(attach!.process.Ext?.ptrace?.child_pid).toBeGreaterThan(0);
  });

  it('every exec has an entry leader with its type; ssh and SSM sessions are told apart', () => {
    const execs = result.all.filter((doc) => doc.event.action === 'exec');
    expect(execs.length).toBeGreaterThan(10);
    for (const doc of execs) expect(doc.process.entry_leader?.entry_meta?.type, JSON.stringify(doc.process.args)).toBeTruthy();
    const ssh = exec('ssh-marker');
    expect(ssh.process.entry_leader?.pid).not.toBe(ssh.process.pid);
    expect(ssh.process.entry_leader).toMatchObject({ name: 'bash', entry_meta: { type: 'sshd', source: { ip: '203.0.113.9' } } });
    expect(ssh.process.entry_leader?.same_as_process).toBe(false);
    const ssm = exec('ssm-marker');
    // script's child shell leads the session on the new pty, under the agent stand-in.
    expect(ssm.process.entry_leader).toMatchObject({ same_as_process: false, interactive: true, entry_meta: { type: 'ssm' } });
    expect(ssm.process.entry_leader?.pid).toBe(ssm.process.parent?.pid);
    expect(ssm.process.tty?.char_device.major).toBeGreaterThanOrEqual(136);
    expect(ssm.process.parent?.tty).toEqual(ssm.process.tty);
  });

  it('standard streams: a TCP socket with both ends, the parent\'s socket, a named unix socket', () => {
    const tcp = exec('tcp-stdio-marker', BASH);
    const socket = { family: 'ipv4', type: 'stream', protocol: 'tcp', remote: { ip: '127.0.0.1', port: tcpPort } };
    expect(tcp.execwarden?.process.stdio?.stdin).toMatchObject({ type: 'socket', socket });
    expect(tcp.execwarden?.process.stdio?.stdout).toMatchObject({ type: 'socket', socket });
    expect(tcp.execwarden?.process.stdio?.stdin.socket?.local?.ip).toBe('127.0.0.1');
    expect(tcp.execwarden?.process.stdio?.stderr).toMatchObject({ type: 'socket', socket });

    const wrapped = exec('parent-socket-marker', BASH);
    expect(wrapped.execwarden?.process.stdio?.stdin.type).toBe('null');
    expect(wrapped.execwarden?.process.parent?.stdio.stdin).toMatchObject({ type: 'socket', socket });

    const unix = exec('unix-stdio-marker', BASH);
    expect(unix.execwarden?.process.stdio?.stdin).toMatchObject({
      type: 'socket',
      socket: { family: 'unix', type: 'stream', local: { path: '@execwarden-test-client' }, remote: { path: unixPath } },
    });
    expect(unix.execwarden?.process.parent?.stdio.stderr).toMatchObject({ type: 'socket', socket: { family: 'unix', remote: { path: unixPath } } });
    // Streams are what the exec saw: not repeated on the process's other events.
    const end = result.docs.find((doc) => doc.event.action === 'end' && doc.process.pid === tcp.process.pid);
    expect(end?.execwarden?.process.stdio).toBeUndefined();
  });

  it('every field the rule loader counts as filled appeared in this run', () => {
    const seen = new Set<string>();
    for (const doc of result.all) documentFields(doc, seen);
    // Filled only when the reader loses a race: a fork whose child was reaped before the reader
    // read its start time (test/ecs/process-event.test.ts and the process table's tests show it).
    const raceOnly = new Set(['execwarden.process.start_estimated']);
    expect([...FILLED_FIELDS].filter((field) => !seen.has(field) && !raceOnly.has(field))).toEqual([]);
  });
});
