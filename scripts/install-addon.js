/**
 * npm's `install` step for the published package. The tarball carries a stripped prebuilt addon
 * per Linux CPU (prebuilds/linux-<arch>/); when one loads on this host there is nothing to do,
 * and no compiler is needed. Only when none loads (another CPU, an older glibc or libstdc++,
 * another libc) is the addon built from the shipped sources into build/Release, which the loader
 * tries next; when that build is impossible, the message says what to install.
 *
 * In a checkout (TypeScript sources present) it does nothing: `prepare` builds the addon and the
 * TypeScript right after this step.
 *
 * Plain JavaScript on purpose: it runs before anything is compiled, with no devDependencies.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const loader = pathToFileURL(join(root, 'dist', 'src', 'capture', 'native.js')).href;
const target = `${process.platform}-${process.arch}`;

function say(message) {
  process.stderr.write(`execwarden: ${message}\n`);
}

/** Loads the addon the way the agent does, in a fresh process: null when it loads, else why not. */
function whyAddonDoesNotLoad() {
  const probe = `import(${JSON.stringify(loader)}).then((m) => m.loadNativeAddon()).catch((e) => { process.stderr.write(String(e && e.message)); process.exit(1); });`;
  const result = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' });
  return result.status === 0 ? null : result.stderr.trim() || `exit status ${result.status}`;
}

function onPath(command) {
  return spawnSync('sh', ['-c', 'command -v "$1" >/dev/null', 'sh', command]).status === 0;
}

/** What a source build needs that this host lacks. */
function missingBuildTools() {
  const missing = [];
  if (!onPath('cmake')) missing.push('cmake');
  if (!onPath('c++') && !onPath('g++')) missing.push('g++');
  if (!onPath('make') && !onPath('ninja')) missing.push('make');
  return missing;
}

/**
 * cmake-js and node-addon-api are devDependencies (nothing at run time needs them): for a source
 * build they are fetched into a temporary folder at the versions the package was built with.
 */
function buildFromSource() {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const wanted = ['cmake-js', 'node-addon-api'].map((name) => `${name}@${manifest.devDependencies[name]}`);
  const tools = mkdtempSync(join(tmpdir(), 'execwarden-build-tools-'));
  try {
    const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
    const install = spawnSync(
      npm[0],
      [...npm.slice(1), 'install', '--prefix', tools, '--no-global', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', ...wanted],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    if (install.status !== 0) return `fetching ${wanted.join(' and ')} failed`;
    // cmake-js finds node-addon-api from the project's package.json; NODE_PATH points it here.
    const modules = join(tools, 'node_modules');
    const build = spawnSync(process.execPath, [join(modules, 'cmake-js', 'bin', 'cmake-js'), 'compile', '--out', 'build'], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, NODE_PATH: modules },
    });
    return build.status === 0 ? null : `cmake-js compile failed (exit status ${build.status})`;
  } finally {
    rmSync(tools, { recursive: true, force: true });
  }
}

/** Why the prebuilt addon does not serve this host, or null when it (or an earlier build) loads. */
async function whyPrebuiltDoesNotFit() {
  const { prebuiltAddonPath } = await import(loader);
  const shipped = existsSync(join(root, prebuiltAddonPath(target)));
  if (!shipped) return `the package has no prebuilt addon for ${target}`;
  const problem = whyAddonDoesNotLoad();
  return problem === null ? null : `the prebuilt addon for ${target} does not load: ${problem}`;
}

async function main() {
  if (existsSync(join(root, 'src')) && existsSync(join(root, 'tsconfig.json'))) return 0;
  const prebuiltProblem = await whyPrebuiltDoesNotFit();
  if (prebuiltProblem === null) return 0;

  const advice = 'install them (Debian/Ubuntu: apt-get install cmake g++ make), then run npm rebuild execwarden';
  const missing = missingBuildTools();
  if (missing.length > 0) {
    say(prebuiltProblem);
    say(`building it from source needs cmake, g++ and make; missing: ${missing.join(', ')}: ${advice}`);
    return 1;
  }
  say(`${prebuiltProblem}: building it from source`);
  const buildProblem = buildFromSource();
  const stillMissing = buildProblem ?? whyAddonDoesNotLoad();
  if (stillMissing !== null) {
    say(`the source build did not give a working addon: ${stillMissing}`);
    say(`it needs cmake, g++ and make, and the npm registry for cmake-js: ${advice}`);
    return 1;
  }
  say('built the native addon from source (build/Release)');
  return 0;
}

process.exitCode = await main();
