/**
 * `npm pack` / `npm publish` (prepack): puts a stripped prebuilt addon for each Linux CPU in
 * prebuilds/linux-<arch>/, so installing the tarball needs no compiler. The host's CPU is always
 * built; the other one when Debian's cross compiler is installed, otherwise it is left out with a
 * note saying which package brings it (hosts of that CPU then build from source at install).
 * postpack (`--clean`) removes prebuilds/ again: in a checkout the local build is the one to load.
 *
 *   node dist/scripts/prebuild.js [--only x64,arm64] [--clean]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildStrippedAddon, hostArch, toolchainFor } from './native-build.js';
import { isTargetArch, prebuiltAddonPath, TARGETS, type TargetArch } from './package-layout.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..', '..');

function main(argv: string[]): number {
  if (argv.includes('--clean')) {
    rmSync(join(ROOT, 'prebuilds'), { recursive: true, force: true });
    return 0;
  }
  const onlyIndex = argv.indexOf('--only');
  const requested = onlyIndex >= 0 ? (argv[onlyIndex + 1] ?? '').split(',') : (Object.keys(TARGETS) as TargetArch[]);
  const host = hostArch();
  if (host === null) {
    process.stderr.write(`prebuild: no prebuilt addons on a ${process.arch} host; build on x64 or arm64\n`);
    return 1;
  }
  rmSync(join(ROOT, 'prebuilds'), { recursive: true, force: true });
  const workDir = mkdtempSync(join(tmpdir(), 'execwarden-prebuild-'));
  try {
    for (const arch of requested) {
      if (!isTargetArch(arch)) {
        process.stderr.write(`prebuild: unknown target ${arch} (known: ${Object.keys(TARGETS).join(', ')})\n`);
        return 2;
      }
      const tools = toolchainFor(arch);
      if ('missing' in tools) {
        if (arch === host || onlyIndex >= 0) {
          process.stderr.write(`prebuild: cannot build linux-${arch}: ${tools.missing}\n`);
          return 1;
        }
        process.stderr.write(`prebuild: linux-${arch} left out: ${tools.missing}\n`);
        continue;
      }
      const dest = join(ROOT, prebuiltAddonPath(arch));
      buildStrippedAddon(ROOT, arch, tools.toolchain, workDir, dest);
      process.stderr.write(`prebuild: ${prebuiltAddonPath(arch)}\n`);
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
