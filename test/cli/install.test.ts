/**
 * `install` / `uninstall` against a temporary target root (the prefix), a package directory built
 * for the test, and a recorded systemctl.
 *
 * install refuses a package anyone but root could change, and one under /tmp, so the package
 * fixture lives in a fresh root-owned directory under /run (removed after each test) and these
 * tests need root; outside CI they skip without it. The checks themselves are tested on fixture
 * trees in install-guard.test.ts, which needs no root.
 */
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../src/cli/exit.js';
import {
  findPackageRoot,
  InstallError,
  installAction,
  type InstallOptions,
  renderUnit,
  uninstallAction,
  unreachableReason,
} from '../../src/cli/install.js';
import type { CommandIo } from '../../src/cli/io.js';
import { describeAsRoot } from '../support/require-root.js';

const realPackage = findPackageRoot(import.meta.url);
const NOBODY = 65534;

function captureIo(): { io: CommandIo; text: () => string } {
  const stdout = new PassThrough();
  const chunks: string[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c.toString()));
  return { io: { stdout, stderr: new PassThrough() }, text: () => chunks.join('') };
}

/** A package directory with what install reads: package.json, bin, systemd, rules, some dist. */
function makePackage(dir: string): void {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{"name":"execwarden"}');
  writeFileSync(join(dir, 'bin', 'execwarden.js'), '');
  cpSync(join(realPackage, 'systemd'), join(dir, 'systemd'), { recursive: true });
  mkdirSync(join(dir, 'rules'));
  writeFileSync(join(dir, 'rules', 'seed.toml'), '');
  mkdirSync(join(dir, 'dist', 'src'), { recursive: true });
  writeFileSync(join(dir, 'dist', 'src', 'main.js'), '');
  mkdirSync(join(dir, 'node_modules', 'pino'), { recursive: true });
  writeFileSync(join(dir, 'node_modules', 'pino', 'pino.js'), '');
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

async function refusal(extra: Partial<InstallOptions> = {}): Promise<InstallError> {
  const error = await installAction(options(extra), captureIo().io).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InstallError);
  return error as InstallError;
}

describe('renderUnit', () => {
  const template = 'ExecStart=@NODE@ @EXECWARDEN_BIN@ run\n';

  it('puts the paths in ExecStart', () => {
    expect(renderUnit(template, { node: '/usr/bin/node', bin: '/opt/execwarden/bin/execwarden.js' })).toBe(
      'ExecStart=/usr/bin/node /opt/execwarden/bin/execwarden.js run\n',
    );
    expect(renderUnit(template, { node: '/opt/node@20/bin/node', bin: '/opt/x/bin/execwarden.js' })).toContain('/opt/node@20/bin/node');
  });

  it('refuses relative paths and characters systemd would reinterpret, escaping what it shows', () => {
    const bin = '/opt/x/bin/execwarden.js';
    expect(() => renderUnit(template, { node: 'node', bin })).toThrow(/absolute node path, got "node"/);
    for (const node of ['/opt/my node/node', '/opt/100%/node', '/opt/$HOME/node', '/opt/a\\b/node', '/opt/a"b/node']) {
      expect(() => renderUnit(template, { node, bin }), node).toThrow(/the node path .* has characters the unit would reinterpret/);
    }
    expect(() => renderUnit(template, { node: '/opt/\u001b[31mred/node', bin })).toThrow('"/opt/\\x1b[31mred/node"');
  });

  it('refuses a template with a placeholder it does not know', () => {
    expect(() => renderUnit('ExecStart=@NODE@ @OTHER@\n', { node: '/n', bin: '/b' })).toThrow(/unknown placeholder @OTHER@/);
  });
});

describe('install refuses a package or node under /tmp, /var/tmp or /dev/shm', () => {
  // A dry run reads only, so this needs no root: the check comes before anything else.
  let dir: string | null = null;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = null;
  });

  it.each(['/tmp', '/dev/shm'])('under %s, naming the path, in a dry run too', async (temp) => {
    if (!existsSync(temp)) return;
    dir = mkdtempSync(join(temp, 'execwarden-install-'));
    makePackage(dir);
    for (const dryRun of [true, false]) {
      const run = installAction({ dryRun, packageRoot: dir, nodePath: process.execPath, allowNonRoot: true, prefix: join(dir, 'root') }, captureIo().io);
      await expect(run).rejects.toMatchObject({ code: 'INSTALL_PACKAGE_IN_TMP' });
      await expect(run).rejects.toThrow(`the execwarden package is under ${temp}: ${dir}. The service runs with PrivateTmp=yes`);
    }
    expect(existsSync(join(dir, 'root'))).toBe(false);
  });

  it('node under /tmp', async () => {
    dir = mkdtempSync('/tmp/execwarden-install-');
    writeFileSync(join(dir, 'node'), '');
    const run = installAction({ dryRun: true, packageRoot: realPackage, nodePath: join(dir, 'node') }, captureIo().io);
    await expect(run).rejects.toThrow(`node is under /tmp: ${join(dir, 'node')}`);
  });
});

describeAsRoot('install (root-owned fixture package)', () => {
  beforeEach(() => {
    base = mkdtempSync('/run/execwarden-install-test-');
    chmodSync(base, 0o755); // the service's user must be able to reach the package
    prefix = join(base, 'root');
    pkg = join(base, 'pkg');
    makePackage(pkg);
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
      // a real run does not print the files
      expect(text()).not.toContain('as it would be written');
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
      writeFileSync(config, '[alerts]\nflood_window_seconds = 5\n');
      writeFileSync(unit, '[Service]\nExecStart=/old/node /old/bin\n');
      const { io, text } = captureIo();
      await installAction(options(), io);
      expect(readFileSync(config, 'utf8')).toBe('[alerts]\nflood_window_seconds = 5\n');
      expect(readFileSync(unit, 'utf8')).toContain(`ExecStart=${process.execPath}`);
      expect(text()).toMatch(/kept\s+install default config: \/etc\/execwarden\/config.toml \(exists/);
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
      expect((await refusal()).code).toBe('INSTALL_PACKAGE_UNREACHABLE');
      expect(existsSync(join(prefix, 'etc'))).toBe(false);
    });

    it('needs root unless told otherwise', async () => {
      await expect(installAction(options({ allowNonRoot: false }), captureIo().io)).resolves.toMatchObject({ changed: 3 });
    });
  });

  describe('install --dry-run', () => {
    it('prints the plan and the full text of every file it would write, and writes nothing', async () => {
      const { io, text } = captureIo();
      const result = await installAction(options({ dryRun: true }), io);
      expect(result.changed).toBe(3);
      expect(existsSync(join(prefix, 'etc'))).toBe(false);
      const out = text();
      expect(out).toMatch(/would do\s+install unit: \/etc\/systemd\/system\/execwarden.service/);
      expect(out).toContain('dry run: 3 change(s) planned, nothing written');

      // What the dry run shows is exactly what a real run then writes.
      await installAction(options(), captureIo().io);
      const shown = (target: string, mode: string): string => {
        const start = out.indexOf(`--- ${target} (mode ${mode}), as it would be written ---\n`);
        const end = out.indexOf(`--- end of ${target} ---\n`);
        expect(start, target).toBeGreaterThan(-1);
        return out.slice(out.indexOf('\n', start) + 1, end);
      };
      for (const [target, mode] of [
        ['/etc/systemd/system/execwarden.service', '0644'],
        ['/etc/execwarden/config.toml', '0600'],
        ['/etc/logrotate.d/execwarden', '0644'],
      ] as const) {
        expect(shown(target, mode)).toBe(readFileSync(join(prefix, target), 'utf8'));
      }
      expect(shown('/etc/systemd/system/execwarden.service', '0644')).toContain(`ExecStart=${process.execPath} ${pkg}/bin/execwarden.js run`);
    });

    it('shows only the files it would write: not those in place or kept', async () => {
      await installAction(options(), captureIo().io);
      writeFileSync(join(prefix, 'etc/systemd/system/execwarden.service'), '[Service]\n');
      const { io, text } = captureIo();
      await installAction(options({ dryRun: true }), io);
      expect(text()).toContain('--- /etc/systemd/system/execwarden.service (mode 0644), as it would be written ---');
      expect(text()).not.toContain('--- /etc/execwarden/config.toml');
      expect(text()).not.toContain('--- /etc/logrotate.d/execwarden');
    });
  });

  describe('install refuses what anyone but root could change', () => {
    it('a world-writable package directory, naming it, in a dry run too, writing nothing', async () => {
      chmodSync(pkg, 0o777);
      for (const dryRun of [true, false]) {
        const error = await refusal({ dryRun });
        expect(error.code).toBe('INSTALL_PACKAGE_UNSAFE');
        expect(error.message).toContain(`\n  ${pkg} is writable by group and others (mode 0777)\n`);
        expect(error.message).toContain('CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH');
        expect(error.message).toContain(`chown -R root:root ${pkg} && chmod -R go-w ${pkg}`);
      }
      expect(existsSync(join(prefix, 'etc'))).toBe(false);
    });

    it('a file in dist owned by another user, and a group-writable one in node_modules', async () => {
      chownSync(join(pkg, 'dist', 'src', 'main.js'), NOBODY, NOBODY);
      chmodSync(join(pkg, 'node_modules', 'pino', 'pino.js'), 0o664);
      const error = await refusal();
      expect(error.message).toContain(`${pkg}/dist/src/main.js is owned by uid ${NOBODY}, not root`);
      expect(error.message).toContain(`${pkg}/node_modules/pino/pino.js is writable by group (mode 0664)`);
    });

    it('a directory above the package that is not root\'s', async () => {
      chownSync(base, NOBODY, NOBODY);
      expect((await refusal()).message).toContain(`${base} is owned by uid ${NOBODY}, not root`);
    });

    it('a node executable that is not root\'s', async () => {
      const node = join(base, 'node');
      writeFileSync(node, '', { mode: 0o755 });
      chownSync(node, NOBODY, NOBODY);
      expect((await refusal({ nodePath: node })).message).toContain(`${node} is owned by uid ${NOBODY}, not root`);
    });

    it('the target of a link, not the link: a package linked from a safe place into /tmp', async () => {
      const temp = mkdtempSync('/tmp/execwarden-install-');
      try {
        makePackage(join(temp, 'pkg'));
        const link = join(base, 'linked');
        symlinkSync(join(temp, 'pkg'), link);
        const error = await refusal({ packageRoot: link });
        expect(error.code).toBe('INSTALL_PACKAGE_IN_TMP');
        expect(error.message).toContain(`is under /tmp: ${link} (${join(temp, 'pkg')})`);
      } finally {
        rmSync(temp, { recursive: true, force: true });
      }
    });

    it('a linked dependency whose real folder another user can write', async () => {
      const outside = join(base, 'shared-lib');
      mkdirSync(outside);
      writeFileSync(join(outside, 'index.js'), '');
      chmodSync(outside, 0o777);
      symlinkSync(outside, join(pkg, 'node_modules', 'shared-lib'));
      expect((await refusal()).message).toContain(`${outside} is writable by group and others (mode 0777)`);
    });

    it('exits 1 with the message and its code, as the command line shows it', async () => {
      chmodSync(pkg, 0o777);
      const stderr = new PassThrough();
      const chunks: string[] = [];
      stderr.on('data', (c: Buffer) => chunks.push(c.toString()));
      expect(exitCodeFor(await refusal({ dryRun: true }), stderr)).toBe(1);
      expect(chunks.join('')).toMatch(/^execwarden: refusing to install: [^]*\[INSTALL_PACKAGE_UNSAFE\]\n$/);
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
});

describe('unreachableReason', () => {
  it('names the ProtectHome directories and unreadable parents', () => {
    expect(unreachableReason('/root/pkg/bin/execwarden.js')).toMatch(/under \/root/);
    expect(unreachableReason('/home/ann/x.js')).toMatch(/under \/home/);
    expect(unreachableReason(process.execPath)).toBeNull();
  });
});
