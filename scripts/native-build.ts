/**
 * Builds the addon for a target CPU into a folder of its own (never the checkout's build/) and
 * writes a stripped copy where a package wants it. The host's CPU uses the host's compiler;
 * the other one uses Debian's cross compiler (`aarch64-linux-gnu-g++` from g++-aarch64-linux-gnu,
 * `x86_64-linux-gnu-g++` from g++-x86-64-linux-gnu). Node-API addons link against no Node
 * library, so cross-compiling needs only the compiler: cmake-js takes the bundled Node-API headers.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ADDON_BASENAME, TARGETS, type TargetArch } from './package-layout.js';

export function hostArch(): TargetArch | null {
  return process.arch === 'x64' || process.arch === 'arm64' ? process.arch : null;
}

export function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1" >/dev/null', 'sh', command]).status === 0;
}

export interface Toolchain {
  /** Empty for the host's own tools; the GNU triplet prefix when cross-compiling. */
  prefix: string;
  strip: string;
  objdump: string;
  cmakeArgs: string[];
}

/** The tools that build for `arch` here, or why there are none. */
export function toolchainFor(arch: TargetArch): { toolchain: Toolchain } | { missing: string } {
  const target = TARGETS[arch];
  if (arch === hostArch()) {
    for (const tool of ['cmake', 'g++', 'strip', 'objdump']) {
      if (!onPath(tool)) return { missing: `${tool} is not installed (apt-get install cmake g++ binutils)` };
    }
    return { toolchain: { prefix: '', strip: 'strip', objdump: 'objdump', cmakeArgs: [] } };
  }
  const prefix = target.toolPrefix;
  for (const tool of ['cmake', `${prefix}g++`, `${prefix}strip`, `${prefix}objdump`]) {
    if (!onPath(tool)) return { missing: `${tool} is not installed (apt-get install cmake ${target.crossPackage})` };
  }
  return {
    toolchain: {
      prefix,
      strip: `${prefix}strip`,
      objdump: `${prefix}objdump`,
      cmakeArgs: [
        '--CDCMAKE_SYSTEM_NAME=Linux',
        `--CDCMAKE_SYSTEM_PROCESSOR=${target.cmakeProcessor}`,
        `--CDCMAKE_C_COMPILER=${prefix}gcc`,
        `--CDCMAKE_CXX_COMPILER=${prefix}g++`,
      ],
    },
  };
}

/** Runs a command to its end; its standard output, or an Error with the last lines it printed. */
export function run(command: string, args: string[], cwd?: string, maxBuffer = 64 * 1024 * 1024): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer });
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
    throw new Error(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}):\n${output}`);
  }
  return result.stdout;
}

/**
 * Compiles the addon for `arch` under `workDir` and writes its stripped copy to `dest`.
 * `root` is the package's source tree (CMakeLists.txt, native/, node_modules with cmake-js).
 */
export function buildStrippedAddon(root: string, arch: TargetArch, toolchain: Toolchain, workDir: string, dest: string): void {
  const cmakeJs = join(dirname(createRequire(join(root, 'package.json')).resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  const out = join(workDir, `addon-${arch}`);
  run(process.execPath, [cmakeJs, 'compile', '--out', out, ...toolchain.cmakeArgs], root);
  mkdirSync(dirname(dest), { recursive: true });
  run(toolchain.strip, ['--strip-unneeded', '-o', dest, join(out, 'Release', ADDON_BASENAME)], root);
}

/** `objdump -T` of the given binaries, concatenated. */
export function dynamicSymbols(toolchain: Toolchain, binaries: string[]): string {
  return binaries.map((binary) => run(toolchain.objdump, ['-T', binary], undefined, 256 * 1024 * 1024)).join('\n');
}
