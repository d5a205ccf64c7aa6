/**
 * The Debian package on this very machine: `npm run package` builds it, dpkg -i installs it, its
 * lab runs from /usr/bin/execwarden with a PATH that has no node and no compiler, systemd-analyze
 * verifies its installed unit, and then remove, a reinstall and purge are each checked for what
 * they leave. Needs root (dpkg, the proc connector); outside CI it also refuses to replace an
 * execwarden package the host already has. Whatever happens, the package is purged at the end.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEB_PATHS } from '../../scripts/package-layout.js';
import { describeAsRoot } from '../support/require-root.js';
import { inCi } from '../support/require-tools.js';

const ROOT = resolve(import.meta.dirname, '../..');
const WANTS_LINK = '/etc/systemd/system/multi-user.target.wants/execwarden.service';
const LOG_DIRS = ['/var/log/execwarden', '/var/log/private/execwarden'];
/** Names a PATH without node or a compiler must not resolve. */
const HIDDEN = /^(node|nodejs|npm|npx|corepack|cmake|ctest|cpack|cc|c\+\+|cpp|gcc|g\+\+|clang|clang\+\+|make|ninja)(-[0-9.]+)?$|-(gcc|g\+\+|cpp)(-[0-9.]+)?$/;

function sh(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
}

function packageStatus(): string {
  const query = sh('dpkg-query', ['-W', '-f', '${db:Status-Abbrev}', 'execwarden']);
  return query.status === 0 ? query.stdout.trim() : 'not known';
}

function purge(): void {
  if (packageStatus() !== 'not known') sh('dpkg', ['--purge', 'execwarden']);
}

/** Why this host cannot run the test, or null. */
function reasonToSkip(): string | null {
  const missing = ['dpkg', 'dpkg-deb', 'deb-systemd-helper', 'systemd-analyze', 'objdump', 'cmake', 'g++'].filter((tool) => sh('sh', ['-c', `command -v ${tool}`]).status !== 0);
  if (missing.length > 0) return `${missing.join(', ')} not installed`;
  // A developer's machine may run the real agent: never replace it or its files outside CI.
  if (!inCi && packageStatus() !== 'not known') return 'an execwarden package is already on this host (dpkg -l execwarden)';
  const inUse = ['/etc/execwarden', '/etc/systemd/system/execwarden.service', ...LOG_DIRS].filter((path) => existsSync(path) || isDanglingLink(path));
  if (!inCi && inUse.length > 0) return `execwarden is installed on this host (${inUse.join(', ')})`;
  return null;
}

/** A folder of links to every program on the system path except node and the compilers. */
function pathWithoutNodeOrCompilers(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const system of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (!existsSync(system)) continue;
    for (const name of readdirSync(system)) {
      if (HIDDEN.test(name) || existsSync(join(dir, name))) continue;
      symlinkSync(join(system, name), join(dir, name));
    }
  }
  return dir;
}

describeAsRoot('the Debian package, installed on this host', () => {
  const skip = reasonToSkip();
  if (skip !== null) {
    if (inCi) it('can run here', () => expect.fail(`${skip}, and CI=true forbids skipping`));
    else it.skip(`builds, installs, runs, removes and purges the package (skipped: ${skip})`, () => {});
    return;
  }

  let work: string;
  let deb: string;
  /** systemd's parent folder of DynamicUser logs; the test makes it when the host has none. */
  const privateLogs = '/var/log/private';
  const hadPrivateLogs = existsSync(privateLogs);

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'execwarden-deb-'));
    purge();
    const build = sh('npm', ['run', 'package', '--', '--out', work], { timeout: 540_000 });
    expect(build.status, `${build.stdout}\n${build.stderr}`).toBe(0);
    const built = readdirSync(work).find((name) => name.endsWith('.deb'));
    expect(built).toBeDefined();
    deb = join(work, built!);
  }, 600_000);

  afterAll(() => {
    purge();
    for (const dir of LOG_DIRS) rmSync(dir, { recursive: true, force: true });
    if (!hadPrivateLogs && existsSync(privateLogs) && readdirSync(privateLogs).length === 0) rmSync(privateLogs, { recursive: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('carries the runtime, the stripped addon and the program, without tests or source maps', () => {
    const depends = sh('dpkg-deb', ['-f', deb, 'Depends']).stdout.trim();
    expect(depends).toMatch(/^libc6 \(>= 2\.\d+\), libstdc\+\+6 \(>= \d+(\.\d+)?\), libgcc-s1$/);
    const listing = sh('dpkg-deb', ['-c', deb]).stdout.split('\n').filter(Boolean);
    const paths = listing.map((line) => line.slice(line.indexOf('./') + 1).replace(/ -> .*$/, ''));
    for (const wanted of [DEB_PATHS.node, DEB_PATHS.bin, DEB_PATHS.launcher, DEB_PATHS.unit, DEB_PATHS.config, DEB_PATHS.logrotate, `${DEB_PATHS.root}/LICENSE`, `${DEB_PATHS.root}/package.json`, `${DEB_PATHS.root}/dist/src/cli/main.js`, `${DEB_PATHS.root}/node_modules/pino/package.json`]) {
      expect(paths).toContain(wanted);
    }
    expect(paths.some((p) => /^\/opt\/execwarden\/prebuilds\/linux-(x64|arm64)\/execwarden_native\.node$/.test(p))).toBe(true);
    const ours = paths.filter((p) => !p.startsWith(`${DEB_PATHS.root}/node_modules/`));
    expect(ours.filter((p) => p.endsWith('.map') || p.endsWith('.ts') || p.includes('/test/') || p.includes('/src/') && !p.includes('/dist/src/'))).toEqual([]);
    for (const devOnly of ['typescript', 'vitest', 'cmake-js', 'node-addon-api', '@elastic']) {
      expect(paths.filter((p) => p.startsWith(`${DEB_PATHS.root}/node_modules/${devOnly}/`))).toEqual([]);
    }
    const configLine = listing.find((line) => line.endsWith(`.${DEB_PATHS.config}`));
    expect(configLine).toMatch(/^-rw------- root\/root /);
    expect(sh('dpkg-deb', ['-I', deb, 'conffiles']).stdout.trim().split('\n')).toEqual([DEB_PATHS.config, DEB_PATHS.logrotate]);
  });

  it('installs with dpkg -i, enabled, creating no user and no directory of its own', () => {
    const serviceDirs = [...LOG_DIRS, '/var/lib/execwarden', '/var/lib/private/execwarden'];
    const before = serviceDirs.filter((dir) => existsSync(dir));
    const install = sh('dpkg', ['-i', deb]);
    expect(install.status, install.stderr).toBe(0);
    expect(packageStatus()).toBe('ii');
    expect(lstatSync(WANTS_LINK).isSymbolicLink()).toBe(true);
    expect(sh('getent', ['passwd', 'execwarden']).status).not.toBe(0);
    expect(statSync(DEB_PATHS.config).mode & 0o777).toBe(0o600);
    if (!existsSync('/run/systemd/system')) {
      // Without a running systemd nothing started the service, so nothing made its folders.
      expect(serviceDirs.filter((dir) => existsSync(dir))).toEqual(before);
    }
  });

  it('runs the lab from /usr/bin/execwarden with no node and no compiler on PATH', () => {
    const path = pathWithoutNodeOrCompilers(join(work, 'bin'));
    const env = { PATH: path, HOME: '/root', LANG: 'C.UTF-8' };
    for (const tool of ['node', 'npm', 'cc', 'gcc', 'g++', 'cmake']) {
      expect(sh('sh', ['-c', `command -v ${tool}`], { env }).status, `${tool} on PATH`).not.toBe(0);
    }
    const version = sh(DEB_PATHS.launcher, ['--version'], { env });
    expect(version.status, version.stderr).toBe(0);
    const lab = sh(DEB_PATHS.launcher, ['lab', '--json', 'bash-setsid', 'bash-nohup', 'node-spawn-setsid', 'benign-no-dev-tcp'], { env, timeout: 120_000 });
    expect(lab.status, `${lab.stdout}\n${lab.stderr}`).toBe(0);
    const report = JSON.parse(lab.stdout) as { passed: boolean; rows: Array<{ variant: string; status: string }> };
    expect(report.passed).toBe(true);
    expect(report.rows.map((row) => `${row.variant}:${row.status}`).sort()).toEqual(
      ['bash-nohup:pass', 'bash-setsid:pass', 'benign-no-dev-tcp:pass', 'node-spawn-setsid:pass'],
    );
  }, 180_000);

  it('has a unit that systemd-analyze verify accepts, running the bundled node', () => {
    const verify = sh('systemd-analyze', ['verify', DEB_PATHS.unit]);
    expect(verify.status, verify.stderr).toBe(0);
    expect(verify.stderr).not.toMatch(/execwarden\.service/);
    expect(readFileSync(DEB_PATHS.unit, 'utf8')).toContain(`ExecStart=${DEB_PATHS.node} ${DEB_PATHS.bin} run --config ${DEB_PATHS.config}\n`);
  });

  it('leaves the configuration and the logs on remove, enables again on reinstall, and leaves nothing on purge', () => {
    // What a running service would have written: systemd keeps a DynamicUser's logs under private/.
    for (const dir of LOG_DIRS) rmSync(dir, { recursive: true, force: true });
    mkdirSync(privateLogs, { recursive: true, mode: 0o700 });
    mkdirSync(`${privateLogs}/execwarden`, { mode: 0o700 });
    symlinkSync('private/execwarden', '/var/log/execwarden');
    writeFileSync('/var/log/execwarden/alerts.ndjson', '{}\n');

    const remove = sh('dpkg', ['--remove', 'execwarden']);
    expect(remove.status, remove.stderr).toBe(0);
    expect(packageStatus()).toBe('rc');
    for (const gone of [DEB_PATHS.root, DEB_PATHS.launcher, DEB_PATHS.unit, WANTS_LINK]) expect(existsSync(gone), gone).toBe(false);
    for (const kept of [DEB_PATHS.config, DEB_PATHS.logrotate, '/var/log/execwarden/alerts.ndjson']) expect(existsSync(kept), kept).toBe(true);

    const reinstall = sh('dpkg', ['-i', deb]);
    expect(reinstall.status, reinstall.stderr).toBe(0);
    expect(lstatSync(WANTS_LINK).isSymbolicLink()).toBe(true);

    const purged = sh('dpkg', ['--purge', 'execwarden']);
    expect(purged.status, purged.stderr).toBe(0);
    expect(packageStatus()).toBe('not known');
    for (const gone of [DEB_PATHS.root, DEB_PATHS.config, '/etc/execwarden', DEB_PATHS.logrotate, WANTS_LINK, ...LOG_DIRS, '/var/lib/systemd/deb-systemd-helper-enabled/execwarden.service.dsh-also']) {
      expect(existsSync(gone) || isDanglingLink(gone), gone).toBe(false);
    }
  }, 120_000);
});

function isDanglingLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
