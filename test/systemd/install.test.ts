/**
 * `install` / `uninstall` against a temporary root: a copy of the package's service files in a
 * world-readable package directory, and a recorded systemctl.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  findPackageRoot,
  installAction,
  type InstallOptions,
  uninstallAction,
  unreachableReason,
} from '../../src/cli/install.js';
import type { CommandIo } from '../../src/cli/io.js';

const realPackage = findPackageRoot(import.meta.url);

function captureIo(): { io: CommandIo; text: () => string } {
  const stdout = new PassThrough();
  const chunks: string[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c.toString()));
  return { io: { stdout, stderr: new PassThrough() }, text: () => chunks.join('') };
}

let base: string;
let prefix: string;
let pkg: string;
let calls: string[][];
let enabled: boolean;

function options(extra: Partial<InstallOptions> = {}): InstallOptions {
  return {
    dryRun: false,
    prefix,
    packageRoot: pkg,
    nodePath: process.execPath,
    allowNonRoot: true,
    systemctl: (args) => {
      calls.push(args);
      if (args[0] === 'is-enabled') return { status: enabled ? 0 : 1, output: '' };
      if (args[0] === 'enable') enabled = true;
      if (args[0] === 'disable') enabled = false;
      return { status: 0, output: '' };
    },
    ...extra,
  };
}

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'execwarden-install-'));
  chmodSync(base, 0o755); // the service's user must be able to reach the package
  prefix = join(base, 'root');
  pkg = join(base, 'pkg');
  mkdirSync(join(pkg, 'bin'), { recursive: true });
  writeFileSync(join(pkg, 'package.json'), '{"name":"execwarden"}');
  writeFileSync(join(pkg, 'bin', 'execwarden.js'), '');
  cpSync(join(realPackage, 'systemd'), join(pkg, 'systemd'), { recursive: true });
  mkdirSync(join(pkg, 'rules'));
  writeFileSync(join(pkg, 'rules', 'seed.toml'), '');
  if (!existsSync(join(pkg, 'systemd', 'execwarden.logrotate'))) {
    writeFileSync(join(pkg, 'systemd', 'execwarden.logrotate'), '/var/log/execwarden/*.ndjson {\n}\n');
  }
  mkdirSync(prefix);
  calls = [];
  enabled = false;
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

describe('install', () => {
  it('puts the rendered unit, the config (0600) and the logrotate snippet in place', async () => {
    const { io, text } = captureIo();
    const result = await installAction(options(), io);
    const unit = readFileSync(join(prefix, 'etc/systemd/system/execwarden.service'), 'utf8');
    expect(unit).toContain(`ExecStart=${process.execPath} ${join(pkg, 'bin', 'execwarden.js')} run --config /etc/execwarden/config.toml`);
    const config = join(prefix, 'etc/execwarden/config.toml');
    expect(readFileSync(config, 'utf8')).toBe(readFileSync(join(pkg, 'systemd', 'config.toml'), 'utf8'));
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect(existsSync(join(prefix, 'etc/logrotate.d/execwarden'))).toBe(true);
    expect(result.changed).toBe(3);
    // No systemd under the prefix: systemctl is never called, and the output says so.
    expect(calls).toEqual([]);
    expect(text()).toMatch(/skipped\s+reload systemd: systemctl daemon-reload \(systemd is not running/);
    expect(text()).toContain('1 rule file(s) read in place');
  });

  it('is idempotent: a second run changes nothing and says so', async () => {
    await installAction(options(), captureIo().io);
    const { io, text } = captureIo();
    const second = await installAction(options(), io);
    expect(second.changed).toBe(0);
    expect(text()).toContain('everything already in place');
  });

  it('never overwrites the host owner config, but replaces a stale unit', async () => {
    const config = join(prefix, 'etc/execwarden/config.toml');
    const unit = join(prefix, 'etc/systemd/system/execwarden.service');
    mkdirSync(join(prefix, 'etc/execwarden'), { recursive: true });
    mkdirSync(join(prefix, 'etc/systemd/system'), { recursive: true });
    writeFileSync(config, '[alerts]\ndedup_window_seconds = 5\n');
    writeFileSync(unit, '[Service]\nExecStart=/old/node /old/bin\n');
    const { io, text } = captureIo();
    await installAction(options(), io);
    expect(readFileSync(config, 'utf8')).toBe('[alerts]\ndedup_window_seconds = 5\n');
    expect(readFileSync(unit, 'utf8')).toContain(`ExecStart=${process.execPath}`);
    expect(text()).toMatch(/kept\s+install default config: \/etc\/execwarden\/config.toml \(exists/);
  });

  it('--dry-run prints the plan and writes nothing', async () => {
    const { io, text } = captureIo();
    const result = await installAction(options({ dryRun: true }), io);
    expect(result.changed).toBe(3);
    expect(existsSync(join(prefix, 'etc'))).toBe(false);
    expect(text()).toMatch(/would do\s+install unit: \/etc\/systemd\/system\/execwarden.service/);
    expect(text()).toContain('dry run: 3 change(s) planned, nothing written');
  });

  it('reloads systemd and enables the service when systemd is running, once', async () => {
    mkdirSync(join(prefix, 'run/systemd/system'), { recursive: true });
    await installAction(options(), captureIo().io);
    expect(calls.filter((c) => c[0] !== 'is-enabled')).toEqual([['daemon-reload'], ['enable', '--now', 'execwarden.service']]);
    calls = [];
    const again = await installAction(options(), captureIo().io);
    expect(again.changed).toBe(0);
    expect(calls.filter((c) => c[0] !== 'is-enabled')).toEqual([]);
  });

  it('restarts a running service when its unit changes', async () => {
    mkdirSync(join(prefix, 'run/systemd/system'), { recursive: true });
    await installAction(options(), captureIo().io);
    calls = [];
    await installAction(options({ nodePath: '/usr/bin/env' }), captureIo().io);
    expect(calls.filter((c) => c[0] !== 'is-enabled')).toEqual([['daemon-reload'], ['try-restart', 'execwarden.service']]);
  });

  it('refuses a package the service user could not read', async () => {
    chmodSync(base, 0o700);
    await expect(installAction(options(), captureIo().io)).rejects.toMatchObject({ code: 'INSTALL_PACKAGE_UNREACHABLE' });
    expect(existsSync(join(prefix, 'etc'))).toBe(false);
  });

  it('needs root unless told otherwise', async () => {
    const run = installAction(options({ allowNonRoot: false }), captureIo().io);
    if (process.getuid?.() === 0) await expect(run).resolves.toMatchObject({ changed: 3 });
    else await expect(run).rejects.toMatchObject({ code: 'INSTALL_NOT_ROOT' });
  });
});

describe('unreachableReason', () => {
  it('names the ProtectHome directories and unreadable parents', () => {
    expect(unreachableReason('/root/pkg/bin/execwarden.js')).toMatch(/under \/root/);
    expect(unreachableReason('/home/ann/x.js')).toMatch(/under \/home/);
    expect(unreachableReason(process.execPath)).toBeNull();
  });
});

describe('uninstall', () => {
  it('disables the service, removes the unit, keeps config and logs', async () => {
    mkdirSync(join(prefix, 'run/systemd/system'), { recursive: true });
    await installAction(options(), captureIo().io);
    calls = [];
    const { io, text } = captureIo();
    await uninstallAction(options(), io);
    expect(existsSync(join(prefix, 'etc/systemd/system/execwarden.service'))).toBe(false);
    expect(existsSync(join(prefix, 'etc/execwarden/config.toml'))).toBe(true);
    expect(calls.filter((c) => c[0] !== 'is-enabled')).toEqual([['disable', '--now', 'execwarden.service'], ['daemon-reload']]);
    expect(text()).toMatch(/kept\s+host owner file: \/etc\/execwarden\/config.toml/);
    const again = await uninstallAction(options(), captureIo().io);
    expect(again.changed).toBe(0);
  });
});
