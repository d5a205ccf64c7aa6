/**
 * What the packages contain, without building them: the npm tarball's file list (npm pack
 * --dry-run, no scripts run), the dependency split, the Debian layout's pure parts (dependency
 * floor from objdump output, control file, launcher, shipped files), the pinned Node runtime and
 * the maintainer scripts' behaviour with recording stand-ins for deb-systemd-helper.
 * deb.kernel.test.ts builds and installs the real .deb.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { addonCandidates } from '../../src/capture/native.js';
import { readRuntimePin, sha512Integrity } from '../../scripts/node-runtime.js';
import {
  controlFile,
  DEB_PATHS,
  dependsLine,
  isShippedCompiledFile,
  launcherScript,
  prebuiltAddonPath,
  symbolFloor,
  TARGETS,
  withoutSourceMapComment,
} from '../../scripts/package-layout.js';

const ROOT = resolve(import.meta.dirname, '../..');
const scratch = mkdtempSync(join(tmpdir(), 'execwarden-layout-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Lines shaped like `objdump -T` output. */
const OBJDUMP = [
  '0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.2.5) free',
  '0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.34) pthread_create',
  '0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.28) fcntl64',
  '0000000000000000      DF *UND*  0000000000000000 (GLIBCXX_3.4.29) _ZSt28__throw_bad_array_new_lengthv',
  '0000000000000000      DF *UND*  0000000000000000 (GLIBCXX_3.4.9) _ZNSo9_M_insertIdEERSoT_',
  '0000000000000000      DF *UND*  0000000000000000 (CXXABI_1.3.13) __cxa_init_primary_exception',
  '0000000000000000      DF *UND*  0000000000000000 (GCC_3.0) _Unwind_Resume',
].join('\n');

describe('the npm tarball', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
    scripts: Record<string, string>;
  };

  it('lists the program, the addon sources and the licence, and no tests, sources or maps', () => {
    const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
    expect(pack.status, pack.stderr).toBe(0);
    const files = (JSON.parse(pack.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    for (const wanted of ['LICENSE', 'README.md', 'package.json', 'bin/execwarden.js', 'dist/src/cli/main.js', 'dist/src/capture/native.js', 'scripts/install-addon.js', 'CMakeLists.txt', 'native/CMakeLists.txt', 'native/addon.cc', 'systemd/execwarden.service', 'systemd/config.toml']) {
      expect(files).toContain(wanted);
    }
    expect(files.some((f) => f.startsWith('rules/') && f.endsWith('.toml'))).toBe(true);
    const unwanted = files.filter((f) => f.endsWith('.map') || f.endsWith('.ts') || /^(test|src|build|dist\/test|dist\/scripts|packaging)\//.test(f) || f.startsWith('scripts/') && f !== 'scripts/install-addon.js');
    expect(unwanted).toEqual([]);
    // The prebuilt addons are put in prebuilds/ by prepack and cleared by postpack.
    expect((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] }).files).toContain('prebuilds/*/*.node');
  });

  it('installs only what runs: build tools and type-only packages are devDependencies', () => {
    for (const tool of ['cmake-js', 'node-addon-api', '@elastic/ecs', 'typescript', 'vitest']) {
      expect(manifest.dependencies).not.toHaveProperty(tool);
      expect(manifest.devDependencies).toHaveProperty(tool);
    }
    expect(manifest.scripts.install).toBe('node scripts/install-addon.js');
  });

  it('has an install step that leaves a checkout to prepare', () => {
    const run = spawnSync(process.execPath, [join(ROOT, 'scripts', 'install-addon.js')], { cwd: ROOT, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('puts the prebuilt addon first among the places the loader looks', () => {
    for (const arch of ['x64', 'arm64'] as const) {
      const candidates = addonCandidates(pathToFileURL(join(ROOT, 'src', 'capture', 'native.ts')).href, `linux-${arch}`);
      expect(candidates[0]).toBe(join(ROOT, prebuiltAddonPath(arch)));
      expect(candidates.indexOf(join(ROOT, 'build', 'Release', 'execwarden_native.node'))).toBeGreaterThan(0);
    }
  });
});

describe('the Debian package layout', () => {
  it('measures the glibc and libstdc++ floor from versioned symbols', () => {
    const floor = symbolFloor(OBJDUMP);
    expect(floor).toEqual({ glibc: '2.34', glibcxx: '3.4.29', cxxabi: '1.3.13' });
    expect(dependsLine(floor)).toBe('libc6 (>= 2.34), libstdc++6 (>= 11), libgcc-s1');
  });

  it('asks for no C++ runtime version when nothing needs one, and refuses a version it cannot map', () => {
    expect(dependsLine(symbolFloor('(GLIBC_2.17) read\n(GLIBC_2.28) fcntl64'))).toBe('libc6 (>= 2.28), libgcc-s1');
    expect(dependsLine(symbolFloor('(GLIBC_2.17) a\n(GLIBCXX_3.4.21) b'))).toBe('libc6 (>= 2.17), libstdc++6 (>= 5), libgcc-s1');
    expect(() => dependsLine(symbolFloor('(GLIBC_2.17) a\n(GLIBCXX_3.4.40) b'))).toThrow(/GLIBCXX_3\.4\.40 is newer/);
    expect(() => symbolFloor('no versions here')).toThrow(/no GLIBC_/);
  });

  it('ships compiled JavaScript of the program only, without source map trailers', () => {
    expect(isShippedCompiledFile('src/cli/main.js')).toBe(true);
    expect(isShippedCompiledFile('src/cli/main.js.map')).toBe(false);
    expect(isShippedCompiledFile('test/bench/main.js')).toBe(false);
    expect(isShippedCompiledFile('scripts/package-deb.js')).toBe(false);
    expect(withoutSourceMapComment('export {};\n//# sourceMappingURL=main.js.map')).toBe('export {};\n');
    expect(withoutSourceMapComment('export {};\n//# sourceMappingURL=main.js.map\n')).toBe('export {};\n');
  });

  it('launches the bundled node on the bundled agent with every argument', () => {
    const script = launcherScript();
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain(`exec ${DEB_PATHS.node} ${DEB_PATHS.bin} "$@"`);
    const path = join(scratch, 'launcher');
    writeFileSync(path, script);
    expect(spawnSync('sh', ['-n', path]).status).toBe(0);
  });

  it('writes a control file dpkg accepts, its description folded', () => {
    const text = controlFile({
      version: '0.1.0',
      target: TARGETS.arm64,
      depends: 'libc6 (>= 2.34)',
      installedSizeKiB: 101264,
      description: 'Linux host agent that catches malicious process launches: proc connector capture, ECS process events, Elastic EQL detection rules, real-time alerts.',
      nodeVersion: '20.20.2',
      maintainer: 'execwarden developers',
    });
    expect(text).toMatch(/^Package: execwarden\nVersion: 0\.1\.0\nArchitecture: arm64\n/);
    expect(text).toContain('\nDepends: libc6 (>= 2.34)\n');
    expect(text).toContain('\nDescription: Linux host agent that catches malicious process launches\n Proc connector capture');
    const lines = text.trimEnd().split('\n');
    const description = lines.slice(lines.findIndex((l) => l.startsWith('Description:')) + 1);
    expect(description.every((l) => l.startsWith(' ') && l.length <= 80)).toBe(true);
    expect(description).toContain(' .');
    expect(text.endsWith('\n')).toBe(true);
  });

  it('pins a Node 20 runtime that satisfies engines, with sha512 integrity per CPU', () => {
    const pin = readRuntimePin(ROOT);
    const [major, minor] = pin.version.split('.').map(Number);
    expect(major).toBe(20);
    expect(minor).toBeGreaterThanOrEqual(11);
    for (const arch of ['x64', 'arm64'] as const) {
      expect(pin.packages[arch].name).toBe(`node-linux-${arch}`);
      expect(pin.packages[arch].integrity).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
    }
    expect(sha512Integrity(Buffer.from('abc'))).toBe(
      'sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw==',
    );
  });
});

describe('the maintainer scripts', () => {
  /** Runs a maintainer script with deb-systemd-helper and friends replaced by recorders. */
  function runScript(name: string, args: string[], wasEnabled: boolean): string[] {
    const bin = mkdtempSync(join(scratch, 'bin-'));
    const log = join(bin, 'calls');
    for (const tool of ['deb-systemd-helper', 'deb-systemd-invoke', 'systemctl']) {
      const stub = join(bin, tool);
      const answer = tool === 'deb-systemd-helper' ? `[ "$2" = was-enabled ] && exit ${wasEnabled ? 0 : 1}` : '';
      writeFileSync(stub, `#!/bin/sh\necho "${tool} $*" >> "${log}"\n${answer}\nexit 0\n`);
      chmodSync(stub, 0o755);
    }
    const run = spawnSync('sh', [join(ROOT, 'packaging', 'debian', name), ...args], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    let calls: string[] = [];
    try {
      calls = readFileSync(log, 'utf8').trim().split('\n');
    } catch {
      // no call at all
    }
    return calls;
  }
  // Where systemd runs, postinst also reloads it and starts (or, on upgrade, restarts) the unit.
  const systemdRunning = spawnSync('test', ['-d', '/run/systemd/system']).status === 0;
  const started = (action: string): string[] =>
    systemdRunning ? ['systemctl --system daemon-reload', `deb-systemd-invoke ${action} execwarden.service`] : [];

  it('enable the unit on a first install and create nothing else', () => {
    expect(runScript('postinst', ['configure'], true)).toEqual([
      'deb-systemd-helper --quiet was-enabled execwarden.service',
      'deb-systemd-helper enable execwarden.service',
      ...started('start'),
    ]);
  });

  it('keep a unit the host owner disabled disabled on upgrade', () => {
    expect(runScript('postinst', ['configure', '0.0.9'], false)).toEqual([
      'deb-systemd-helper --quiet was-enabled execwarden.service',
      'deb-systemd-helper update-state execwarden.service',
      ...started('restart'),
    ]);
  });

  it('add no user, group or directory', () => {
    for (const name of ['postinst', 'prerm', 'postrm']) {
      const text = readFileSync(join(ROOT, 'packaging', 'debian', name), 'utf8');
      expect(spawnSync('sh', ['-n', join(ROOT, 'packaging', 'debian', name)]).status).toBe(0);
      expect(text).not.toMatch(/\b(useradd|adduser|groupadd|addgroup|mkdir|install -d|chown)\b/);
    }
  });
});
