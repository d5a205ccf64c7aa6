/**
 * The shipped unit, rendered the way `execwarden install` renders it, must pass systemd's own
 * checks: `verify` (syntax, and that ExecStart's binary exists) and the offline security audit,
 * whose exposure score must stay at 2.6 ("OK") or lower: 2.5 plus the 0.1 systemd-analyze charges
 * for allowing `capset`, which the agent uses only to lower its capabilities once capture runs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPackageRoot, renderUnit, UNIT_NAME } from '../../src/cli/install.js';

const packageRoot = findPackageRoot(import.meta.url);
const template = readFileSync(join(packageRoot, 'systemd', UNIT_NAME), 'utf8');

function systemdAnalyze(args: string[]): { status: number | null; output: string } {
  // No colours: the score line is parsed.
  const run = spawnSync('systemd-analyze', args, { encoding: 'utf8', env: { ...process.env, SYSTEMD_COLORS: '0' } });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Directive values of the [Service] section, e.g. values('AmbientCapabilities'). */
function values(unit: string, key: string): string[] {
  return unit
    .split('\n')
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1));
}

describe('systemd/execwarden.service', () => {
  let dir: string;
  let unitPath: string;
  let unit: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'execwarden-unit-'));
    unitPath = join(dir, UNIT_NAME);
    unit = renderUnit(template, { node: process.execPath, bin: join(packageRoot, 'bin', 'execwarden.js') });
    writeFileSync(unitPath, unit);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('renders ExecStart with absolute node and bin paths and no placeholder left', () => {
    expect(template).toContain('@NODE@');
    expect(unit).not.toMatch(/@[A-Z_]+@/);
    expect(values(unit, 'ExecStart')).toEqual([
      `${process.execPath} ${join(packageRoot, 'bin', 'execwarden.js')} run --config /etc/execwarden/config.toml`,
    ]);
  });

  it('passes systemd-analyze verify', () => {
    const { status, output } = systemdAnalyze(['verify', unitPath]);
    expect(output.trim()).toBe('');
    expect(status).toBe(0);
  });

  it('has an offline security exposure of 2.6 or lower', () => {
    const { status, output } = systemdAnalyze(['security', '--offline=true', unitPath]);
    expect(status).toBe(0);
    const match = /Overall exposure level for \S+: (\d+\.\d+) (\S+)/.exec(output);
    expect(match, output).not.toBeNull();
    const score = Number(match![1]);
    expect(score).toBeLessThanOrEqual(2.6);
    expect(match![2]).toBe('OK');
  });

  it('holds exactly the four capabilities the agent needs', () => {
    const expected = ['CAP_DAC_READ_SEARCH', 'CAP_NET_ADMIN', 'CAP_SYS_NICE', 'CAP_SYS_PTRACE'];
    for (const key of ['CapabilityBoundingSet', 'AmbientCapabilities']) {
      expect(values(unit, key).flatMap((v) => v.split(/\s+/)).sort(), key).toEqual(expected);
    }
  });

  it('avoids the directives that break node or the proc connector', () => {
    // Field notes: each of these makes the agent crash or go blind.
    for (const key of ['MemoryDenyWriteExecute', 'PrivateNetwork', 'PrivateUsers', 'RestrictRealtime', 'ProcSubset']) {
      expect(values(unit, key), key).toEqual([]);
    }
    expect(values(unit, 'ProtectProc')).not.toContain('invisible');
    expect(values(unit, 'RestrictAddressFamilies').join(' ')).toContain('AF_NETLINK');
  });

  it('reloads with SIGHUP, restarts on failure within a start limit, and logs to the journal', () => {
    expect(values(unit, 'ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(values(unit, 'Restart')).toEqual(['on-failure']);
    expect(values(unit, 'StartLimitBurst')).toHaveLength(1);
    expect(values(unit, 'StartLimitIntervalSec')).toHaveLength(1);
    expect(values(unit, 'StandardOutput')).toEqual(['journal']);
    expect(values(unit, 'DynamicUser')).toEqual(['yes']);
  });
});
