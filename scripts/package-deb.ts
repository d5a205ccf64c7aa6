/**
 * `npm run package`: the Debian package, built with dpkg-deb from a staged tree. Everything the
 * host needs is inside, so installing it fetches nothing and needs neither Node nor a compiler:
 *
 *   /opt/execwarden         package.json, LICENSE, bin/, dist/src (JavaScript only), the
 *                           production node_modules (`npm ci --omit=dev`), rules/, the stripped
 *                           addon in prebuilds/linux-<arch>/, and node/bin/node: the pinned
 *                           Node.js runtime from the npm registry (packaging/node-runtime.json)
 *   /usr/bin/execwarden     a launcher that runs the agent with that node
 *   /usr/lib/systemd/system/execwarden.service   systemd/execwarden.service, rendered for /opt
 *   /etc/execwarden/config.toml (0600), /etc/logrotate.d/execwarden   conffiles
 *
 * Depends is measured, not guessed: the highest GLIBC_, GLIBCXX_ and CXXABI_ versions that the
 * node binary and the addon ask for (objdump -T). Maintainer scripts: packaging/debian/.
 *
 *   npm run package [-- --arch x64|arm64] [--out DIR] [--work DIR]
 *
 * --work keeps the staging folder (default: a temporary one, removed at the end).
 */
import { chmodSync, copyFileSync, cpSync, createReadStream, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderUnit } from '../src/cli/install.js';
import { buildStrippedAddon, dynamicSymbols, hostArch, run, toolchainFor } from './native-build.js';
import { fetchNodeRuntime } from './node-runtime.js';
import {
  CONFFILES,
  controlFile,
  copyrightFile,
  DEB_PATHS,
  debFileName,
  dependsLine,
  isShippedCompiledFile,
  isTargetArch,
  launcherScript,
  prebuiltAddonPath,
  symbolFloor,
  TARGETS,
  withoutSourceMapComment,
  type SymbolFloor,
  type TargetArch,
} from './package-layout.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..', '..');

interface Options {
  arch: TargetArch;
  outDir: string;
  workDir: string | null;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { arch: hostArch() ?? 'x64', outDir: ROOT, workDir: null };
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--arch' && value !== undefined && isTargetArch(value)) options.arch = value;
    else if (flag === '--out' && value !== undefined) options.outDir = resolve(value);
    else if (flag === '--work' && value !== undefined) options.workDir = resolve(value);
    else throw new Error(`usage: package-deb [--arch ${Object.keys(TARGETS).join('|')}] [--out DIR] [--work DIR] (bad argument ${flag ?? ''})`);
    i += 1;
  }
  return options;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? [path, ...walk(path)] : [path];
  });
}

function writeFile(path: string, text: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}

/** /opt/execwarden: the program, its production dependencies, rules, addon and runtime. */
function stageOpt(options: Options, stage: string, workDir: string): { floor: SymbolFloor; nodeVersion: string } {
  const opt = join(stage, DEB_PATHS.root);
  mkdirSync(opt, { recursive: true });
  for (const file of ['package.json', 'package-lock.json', 'LICENSE']) copyFileSync(join(ROOT, file), join(opt, file));
  // The lockfile's production tree, as `npm ci` would install it, without running our own
  // lifecycle scripts (they build from source).
  run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], opt);
  rmSync(join(opt, 'package-lock.json'));

  cpSync(join(ROOT, 'bin'), join(opt, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'rules'), join(opt, 'rules'), { recursive: true });
  const dist = join(ROOT, 'dist');
  if (!existsSync(join(dist, 'src', 'cli', 'main.js'))) throw new Error('dist/src is not built: run npm run build:ts first');
  for (const path of walk(dist)) {
    const rel = relative(dist, path);
    if (!statSync(path).isFile() || !isShippedCompiledFile(rel)) continue;
    writeFile(join(opt, 'dist', rel), withoutSourceMapComment(readFileSync(path, 'utf8')), 0o644);
  }

  const tools = toolchainFor(options.arch);
  if ('missing' in tools) throw new Error(`cannot build the addon for ${options.arch}: ${tools.missing}`);
  const addon = join(opt, prebuiltAddonPath(options.arch));
  buildStrippedAddon(ROOT, options.arch, tools.toolchain, workDir, addon);

  const runtime = fetchNodeRuntime(ROOT, options.arch, workDir);
  const node = join(stage, DEB_PATHS.node);
  mkdirSync(dirname(node), { recursive: true });
  copyFileSync(runtime.binary, node);
  chmodSync(node, 0o755);
  copyFileSync(runtime.license, join(dirname(dirname(node)), 'LICENSE'));

  return { floor: symbolFloor(dynamicSymbols(tools.toolchain, [node, addon])), nodeVersion: runtime.version };
}

/** The launcher, the unit, the conffiles and the copyright note. */
function stageSystemFiles(stage: string, nodeVersion: string): void {
  writeFile(join(stage, DEB_PATHS.launcher), launcherScript(), 0o755);
  const template = readFileSync(join(ROOT, 'systemd', 'execwarden.service'), 'utf8');
  writeFile(join(stage, DEB_PATHS.unit), renderUnit(template, { node: DEB_PATHS.node, bin: DEB_PATHS.bin }), 0o644);
  // 0600 as `execwarden install` writes it: the config may hold webhook credentials.
  writeFile(join(stage, DEB_PATHS.config), readFileSync(join(ROOT, 'systemd', 'config.toml'), 'utf8'), 0o600);
  writeFile(join(stage, DEB_PATHS.logrotate), readFileSync(join(ROOT, 'systemd', 'execwarden.logrotate'), 'utf8'), 0o644);
  writeFile(join(stage, DEB_PATHS.copyright), copyrightFile(nodeVersion), 0o644);
}

/** Root-owned at install (dpkg-deb --root-owner-group); readable by the service's dynamic user. */
function normaliseModes(stage: string): void {
  for (const path of walk(stage)) {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) continue;
    const target = `/${relative(stage, path)}`;
    if (stat.isDirectory()) chmodSync(path, 0o755);
    else if (target === DEB_PATHS.config) chmodSync(path, 0o600);
    else if (target.endsWith('.node')) chmodSync(path, 0o644);
    else chmodSync(path, stat.mode & 0o111 ? 0o755 : 0o644);
  }
}

function md5(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('md5');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolvePromise(hash.digest('hex')));
  });
}

async function stageControl(stage: string, options: Options, floor: SymbolFloor, nodeVersion: string): Promise<string> {
  const files = walk(stage).filter((path) => lstatSync(path).isFile());
  const sums = await Promise.all(files.map(async (path) => `${await md5(path)}  ${relative(stage, path)}`));
  const installedSizeKiB = files.reduce((sum, path) => sum + Math.ceil(statSync(path).size / 1024), 0);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; description: string; author?: string | { name?: string; email?: string } };
  const author = typeof pkg.author === 'string' ? pkg.author : pkg.author?.name ? `${pkg.author.name}${pkg.author.email ? ` <${pkg.author.email}>` : ''}` : null;
  const depends = dependsLine(floor);
  const debian = join(stage, 'DEBIAN');
  writeFile(
    join(debian, 'control'),
    controlFile({ version: pkg.version, target: TARGETS[options.arch], depends, installedSizeKiB, description: pkg.description, nodeVersion, maintainer: author ?? 'execwarden developers' }),
    0o644,
  );
  writeFile(join(debian, 'conffiles'), `${CONFFILES.join('\n')}\n`, 0o644);
  writeFile(join(debian, 'md5sums'), `${sums.sort().join('\n')}\n`, 0o644);
  for (const script of ['postinst', 'prerm', 'postrm']) {
    writeFile(join(debian, script), readFileSync(join(ROOT, 'packaging', 'debian', script), 'utf8'), 0o755);
  }
  return pkg.version;
}

async function main(argv: string[]): Promise<void> {
  const options = parseArgs(argv);
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), 'execwarden-deb-'));
  const stage = join(workDir, 'root');
  rmSync(stage, { recursive: true, force: true });
  try {
    const { floor, nodeVersion } = stageOpt(options, stage, workDir);
    stageSystemFiles(stage, nodeVersion);
    normaliseModes(stage);
    const version = await stageControl(stage, options, floor, nodeVersion);
    mkdirSync(options.outDir, { recursive: true });
    const deb = join(options.outDir, debFileName(version, TARGETS[options.arch]));
    run('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, deb], workDir);
    const floorText = `glibc ${floor.glibc}, GLIBCXX_${floor.glibcxx ?? '-'}, CXXABI_${floor.cxxabi ?? '-'}`;
    process.stdout.write(`${deb}\n  size ${statSync(deb).size} bytes; Depends: ${dependsLine(floor)} (${floorText}); Node ${nodeVersion}\n`);
  } finally {
    if (options.workDir === null) rmSync(workDir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`package-deb: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
