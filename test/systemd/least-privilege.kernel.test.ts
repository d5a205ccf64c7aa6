/**
 * The agent started the way its unit starts it, without systemd: as an unprivileged user (nobody)
 * holding only the capabilities listed in the unit's AmbientCapabilities, with no_new_privs. It
 * must still subscribe to the proc connector, describe a setsid reverse shell and alert on it.
 *
 * Readiness is shown by the agent's own output rather than a log line: probe simulations are
 * launched until one is alerted on; then a fresh simulation must be caught on its first try and a
 * benign look-alike must not be.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { findPackageRoot, UNIT_NAME } from '../../src/cli/install.js';
import { runSimulation, selectVariants } from '../../src/lab/simulation.js';
import { SEED_RULE_ID } from '../../src/lab/variants.js';
import { describeAsRoot } from '../support/require-root.js';
import { poll } from '../support/wait.js';

const packageRoot = findPackageRoot(import.meta.url);
const bin = join(packageRoot, 'bin', 'execwarden.js');
const NOBODY = 65534;

/** The unit's AmbientCapabilities as setpriv wants them: "+net_admin,+sys_ptrace,…". */
function unitCapabilities(): string[] {
  const unit = readFileSync(join(packageRoot, 'systemd', UNIT_NAME), 'utf8');
  const line = unit.split('\n').find((l) => l.startsWith('AmbientCapabilities='));
  if (!line) throw new Error('the unit has no AmbientCapabilities line');
  return line.slice('AmbientCapabilities='.length).trim().split(/\s+/);
}

const CAPABILITY_BITS: Record<string, number> = { CAP_DAC_READ_SEARCH: 2, CAP_NET_ADMIN: 12, CAP_SYS_PTRACE: 19, CAP_SYS_NICE: 23 };

function statusField(pid: number, name: string): string {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  return line ? line.slice(name.length + 1).trim() : '';
}

function readAlerts(path: string): Array<Record<string, unknown>> {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describeAsRoot('the agent under the unit privileges (nobody + 4 capabilities)', () => {
  let dir: string;
  let alertsPath: string;
  let agent: ChildProcess;
  let stderr = '';

  beforeAll(async () => {
    if (!existsSync(join(packageRoot, 'dist', 'src', 'cli', 'main.js'))) {
      throw new Error('execwarden is not built: run `npm run build` first');
    }
    dir = mkdtempSync(join(tmpdir(), 'execwarden-lp-'));
    chownSync(dir, NOBODY, NOBODY);
    alertsPath = join(dir, 'alerts.ndjson');
    const configPath = join(dir, 'config.toml');
    writeFileSync(configPath, `[outputs.file]\npath = "${alertsPath}"\n`);
    const caps = unitCapabilities().map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`).join(',');
    agent = spawn(
      'setpriv',
      [
        '--reuid=nobody', '--regid=nogroup', '--clear-groups',
        `--inh-caps=-all,${caps}`, `--ambient-caps=-all,${caps}`, `--bounding-set=-all,${caps}`,
        '--no-new-privs',
        process.execPath, bin, 'run', '--config', configPath,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    agent.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));

    // Probe until the agent demonstrably alerts (start-up: addon, rules, subscription).
    const probe = selectVariants(['bash-setsid'])[0]!;
    const ready = await (async () => {
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && agent.exitCode === null) {
        const result = await runSimulation(probe);
        const seen = await poll(() => (readAlerts(alertsPath).some((a) => JSON.stringify(a).includes(result.marker)) ? true : undefined), 500);
        if (seen) return true;
      }
      return false;
    })();
    if (!ready) throw new Error(`the agent never alerted (exit ${agent.exitCode}); its log:\n${stderr}`);
  }, 40_000);

  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await new Promise((r) => agent.once('exit', r));
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs as nobody with the unit capabilities, less those only start-up needs, and no_new_privs', () => {
    const pid = agent.pid!;
    expect(statusField(pid, 'Uid').split(/\s+/)).toEqual(Array(4).fill(String(NOBODY)));
    // Once capture runs, CAP_NET_ADMIN and CAP_SYS_NICE are dropped from the JS thread (this
    // status) and the reader thread; the ambient set is empty.
    const startupOnly = new Set(['CAP_NET_ADMIN', 'CAP_SYS_NICE']);
    const expected = unitCapabilities()
      .filter((cap) => !startupOnly.has(cap))
      .reduce((mask, cap) => mask | (1n << BigInt(CAPABILITY_BITS[cap]!)), 0n);
    expect(BigInt(`0x${statusField(pid, 'CapEff')}`)).toBe(expected);
    expect(BigInt(`0x${statusField(pid, 'CapAmb')}`)).toBe(0n);
    expect(statusField(pid, 'NoNewPrivs')).toBe('1');
  });

  /** Runs a variant and waits up to 5 s for the seed rule's alert carrying its marker. */
  async function simulateAndWait(name: string, waitMs = 5000): Promise<{ marker: string; connections: number; alert?: Record<string, unknown>; lossReported: boolean }> {
    const logBefore = stderr.length;
    const result = await runSimulation(selectVariants([name])[0]!);
    const seedAlert = (a: Record<string, unknown>): boolean => JSON.stringify(a).includes(result.marker) && (a.rule as { id?: string } | undefined)?.id === SEED_RULE_ID;
    const alert = await poll(() => readAlerts(alertsPath).find(seedAlert), waitMs);
    return { marker: result.marker, connections: result.connections, alert, lossReported: stderr.slice(logBefore).includes('events lost') };
  }

  it('alerts on a setsid reverse shell, and never misses one silently', async () => {
    // On a machine shared with other loads the agent may drop events; it must then say so. Only a
    // miss it did not report fails; a reported one is retried.
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const run = await simulateAndWait('bash-setsid');
      expect(run.connections).toBe(1);
      if (run.alert) {
        expect(run.alert).toMatchObject({ event: { kind: 'alert' }, rule: { id: SEED_RULE_ID }, process: { name: 'setsid' } });
        return;
      }
      expect(run.lossReported, `attempt ${attempt}: no alert and no reported loss; log:\n${stderr}`).toBe(true);
    }
    throw new Error('three attempts, each lost to reported event drops: the machine is too busy for this test');
  });

  it('leaves a benign look-alike alone', async () => {
    const benign = await simulateAndWait('benign-no-dev-tcp', 0);
    // A reverse shell launched after it shows the agent has processed events past the look-alike.
    const after = await simulateAndWait('bash-nohup');
    expect(after.alert !== undefined || after.lossReported, stderr).toBe(true);
    expect(readAlerts(alertsPath).some((a) => JSON.stringify(a).includes(benign.marker))).toBe(false);
  });

  it('gets SCHED_FIFO for its reader thread through CAP_SYS_NICE', () => {
    // Field 41 of /proc/<pid>/task/<tid>/stat is the scheduling policy; 1 is SCHED_FIFO.
    const pid = agent.pid!;
    const policies = readdirSync(`/proc/${pid}/task`).map((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
    });
    expect(policies).toContain(1);
  });
});
