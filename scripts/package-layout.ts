/**
 * What the Debian package and the npm tarball contain, as data and pure functions: paths, the
 * targets a prebuilt addon and a bundled Node exist for, the control file, and the dependency
 * floor read from the binaries' versioned symbols. No I/O here; scripts/package-deb.ts and
 * scripts/prebuild.ts do the building, and the tests check this file without a build.
 *
 * The prebuilt addon's path (`prebuilds/<platform>-<arch>/execwarden_native.node`) is the first
 * place src/capture/native.ts looks; test/packaging/layout.test.ts holds the two together.
 */
import { ADDON_BASENAME, prebuiltAddonPath as addonPathFor } from '../src/capture/native.js';

export type TargetArch = 'x64' | 'arm64';

export interface Target {
  arch: TargetArch;
  /** dpkg's name for the architecture. */
  debArch: string;
  /** GNU triplet prefix of Debian's cross tools for this target (`aarch64-linux-gnu-g++`). */
  toolPrefix: string;
  /** CMAKE_SYSTEM_PROCESSOR when cross-compiling to it. */
  cmakeProcessor: string;
  /** The Debian package of the cross C++ compiler for this target. */
  crossPackage: string;
}

export const TARGETS: Readonly<Record<TargetArch, Target>> = Object.freeze({
  x64: { arch: 'x64', debArch: 'amd64', toolPrefix: 'x86_64-linux-gnu-', cmakeProcessor: 'x86_64', crossPackage: 'g++-x86-64-linux-gnu' },
  arm64: { arch: 'arm64', debArch: 'arm64', toolPrefix: 'aarch64-linux-gnu-', cmakeProcessor: 'aarch64', crossPackage: 'g++-aarch64-linux-gnu' },
});

export function isTargetArch(value: string): value is TargetArch {
  return Object.hasOwn(TARGETS, value);
}

export { ADDON_BASENAME };

/** The stripped prebuilt addon, relative to the package root (npm tarball and /opt alike). */
export function prebuiltAddonPath(arch: TargetArch): string {
  return addonPathFor(`linux-${arch}`);
}

/** Where the Debian package puts things. */
export const DEB_PATHS = Object.freeze({
  root: '/opt/execwarden',
  node: '/opt/execwarden/node/bin/node',
  bin: '/opt/execwarden/bin/execwarden.js',
  launcher: '/usr/bin/execwarden',
  unit: '/usr/lib/systemd/system/execwarden.service',
  config: '/etc/execwarden/config.toml',
  logrotate: '/etc/logrotate.d/execwarden',
  copyright: '/usr/share/doc/execwarden/copyright',
});

/** Files dpkg treats as the host owner's: kept on remove and on upgrade when edited, gone on purge. */
export const CONFFILES: readonly string[] = Object.freeze([DEB_PATHS.config, DEB_PATHS.logrotate]);

/**
 * Whether a file of the compiled tree goes into a package: the program's JavaScript only (no
 * source maps, no compiled tests or benchmarks). `relative` is relative to dist/.
 */
export function isShippedCompiledFile(relative: string): boolean {
  return relative.startsWith('src/') && relative.endsWith('.js');
}

/** The `//# sourceMappingURL=` trailer tsc appends; the maps themselves are not shipped. */
export function withoutSourceMapComment(source: string): string {
  return source.replace(/\n\/\/# sourceMappingURL=[^\n]*\n?$/, '\n');
}

/** /usr/bin/execwarden: the bundled Node runs the bundled agent, whatever node is on PATH. */
export function launcherScript(): string {
  return [
    '#!/bin/sh',
    '# execwarden from its Debian package: the Node.js runtime bundled in /opt/execwarden runs it,',
    '# so the host needs no Node of its own.',
    `exec ${DEB_PATHS.node} ${DEB_PATHS.bin} "$@"`,
    '',
  ].join('\n');
}

export interface SymbolFloor {
  /** Highest GLIBC_x.y the binaries ask for, e.g. "2.34". */
  glibc: string;
  /** Highest GLIBCXX_3.4.n, or null when no binary links libstdc++. */
  glibcxx: string | null;
  /** Highest CXXABI_1.3.n, or null. */
  cxxabi: string | null;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function highest(versions: Iterable<string>): string | null {
  let best: string | null = null;
  for (const v of versions) if (best === null || compareVersions(v, best) > 0) best = v;
  return best;
}

/** The floor from `objdump -T` output of one or more binaries (their texts concatenated). */
export function symbolFloor(objdumpText: string): SymbolFloor {
  const collect = (prefix: string): string[] =>
    [...objdumpText.matchAll(new RegExp(`\\b${prefix}_([0-9]+(?:\\.[0-9]+)+)\\b`, 'g'))].map((m) => m[1]!);
  const glibc = highest(collect('GLIBC'));
  if (glibc === null) throw new Error('no GLIBC_ symbol versions found: is this objdump -T output of a glibc binary?');
  return { glibc, glibcxx: highest(collect('GLIBCXX')), cxxabi: highest(collect('CXXABI')) };
}

/**
 * The GCC release that introduced each libstdc++ symbol version (the libstdc++ manual's ABI
 * policy table); Debian's libstdc++6 is versioned by that GCC, so `libstdc++6 (>= 11)` is the floor
 * for GLIBCXX_3.4.29. Versions older than the table's start are satisfied by any supported release.
 */
const GLIBCXX_GCC: Readonly<Record<string, string>> = Object.freeze({
  '3.4.20': '4.9',
  '3.4.21': '5',
  '3.4.22': '6',
  '3.4.23': '7',
  '3.4.24': '7.2',
  '3.4.25': '8',
  '3.4.26': '9',
  '3.4.27': '9.2',
  '3.4.28': '9.3',
  '3.4.29': '11',
  '3.4.30': '12',
  '3.4.31': '13',
  '3.4.32': '13.2',
  '3.4.33': '14',
});
const CXXABI_GCC: Readonly<Record<string, string>> = Object.freeze({
  '1.3.8': '4.9',
  '1.3.9': '5',
  '1.3.10': '6',
  '1.3.11': '7',
  '1.3.12': '9',
  '1.3.13': '11',
  '1.3.14': '13',
  '1.3.15': '14',
});

/** The Debian version of libstdc++6 that provides a floor's GLIBCXX and CXXABI versions. */
export function libstdcxxPackageFloor(floor: SymbolFloor): string | null {
  const wanted: string[] = [];
  for (const [version, table, name] of [
    [floor.glibcxx, GLIBCXX_GCC, 'GLIBCXX'],
    [floor.cxxabi, CXXABI_GCC, 'CXXABI'],
  ] as const) {
    if (version === null) continue;
    const gcc = table[version];
    if (gcc !== undefined) wanted.push(gcc);
    else if (compareVersions(version, Object.keys(table)[0]!) > 0) {
      throw new Error(`${name}_${version} is newer than this table knows: add its GCC release to scripts/package-layout.ts`);
    }
  }
  return highest(wanted);
}

/** The control file's Depends: the C library, the C++ runtime and libgcc, at the measured floor. */
export function dependsLine(floor: SymbolFloor): string {
  const parts = [`libc6 (>= ${floor.glibc})`];
  const stdcxx = libstdcxxPackageFloor(floor);
  if (floor.glibcxx !== null || floor.cxxabi !== null) parts.push(stdcxx === null ? 'libstdc++6' : `libstdc++6 (>= ${stdcxx})`);
  parts.push('libgcc-s1');
  return parts.join(', ');
}

export interface ControlFields {
  version: string;
  target: Target;
  depends: string;
  installedSizeKiB: number;
  description: string;
  nodeVersion: string;
  /** From package.json's author; "execwarden developers" when it names none. */
  maintainer: string;
}

/**
 * DEBIAN/control. The description's synopsis is package.json's description up to its first
 * colon, the extended text what follows it.
 */
export function controlFile(fields: ControlFields): string {
  const colon = fields.description.indexOf(': ');
  const synopsis = colon < 0 ? fields.description : fields.description.slice(0, colon);
  const rest = colon < 0 ? '' : fields.description.slice(colon + 2);
  const paragraphs = [
    ...(rest === '' ? [] : [rest.charAt(0).toUpperCase() + rest.slice(1)]),
    `It bundles its own Node.js ${fields.nodeVersion} runtime in ${DEB_PATHS.root}: the host needs neither Node nor a compiler.`,
  ];
  const extended = paragraphs.flatMap((paragraph, i) => [...(i > 0 ? ['.'] : []), ...wrap(paragraph, 78)]);
  return [
    'Package: execwarden',
    `Version: ${fields.version}`,
    `Architecture: ${fields.target.debArch}`,
    `Maintainer: ${fields.maintainer}`,
    `Installed-Size: ${fields.installedSizeKiB}`,
    `Depends: ${fields.depends}`,
    'Suggests: logrotate',
    'Section: admin',
    'Priority: optional',
    `Description: ${synopsis}`,
    ...extended.map((line) => ` ${line}`),
    '',
  ].join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (current !== '' && current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else current = current === '' ? word : `${current} ${word}`;
  }
  if (current !== '') lines.push(current);
  return lines;
}

/** /usr/share/doc/execwarden/copyright: what is under which licence. */
export function copyrightFile(nodeVersion: string): string {
  return [
    'execwarden',
    '',
    'Licensed under the Apache License, Version 2.0: the full text is in',
    `${DEB_PATHS.root}/LICENSE (on Debian also /usr/share/common-licenses/Apache-2.0).`,
    '',
    `Bundled: the Node.js ${nodeVersion} runtime in ${DEB_PATHS.root}/node, under the MIT licence`,
    `with its components' licences, all in ${DEB_PATHS.root}/node/LICENSE; the JavaScript`,
    `modules in ${DEB_PATHS.root}/node_modules, each with its licence in its own folder.`,
    '',
  ].join('\n');
}

/** The file name dpkg tools expect: name_version_arch.deb. */
export function debFileName(version: string, target: Target): string {
  return `execwarden_${version}_${target.debArch}.deb`;
}
