/**
 * `execwarden install` / `execwarden uninstall`: put the service in place on this host.
 *
 * Both commands first build a plan (what each target should look like and whether it already
 * does), print it, and only then apply it, so `--dry-run` shows exactly what a real run would do
 * and a second run reports everything already in place.
 *
 * Policy per target:
 * - the unit is ours: it is rendered with this installation's absolute node and bin paths and
 *   replaced when it differs (host owners tune it with drop-ins, never by editing it);
 * - the config and the logrotate snippet belong to the host owner once installed: written only
 *   when absent, never overwritten, and left in place by uninstall;
 * - the bundled rules are used in place from the package (`[rules] paths = []`), so an upgrade of
 *   the package upgrades the engine and its rules together. The service runs as a dynamic user
 *   under ProtectHome=yes, so the package and node must be readable from outside /home and /root:
 *   the plan checks that and refuses to install a service that could not start;
 * - the service runs the package with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, so the plan also
 *   refuses a package (or node) that anyone but root could change, or one under /tmp, /var/tmp or
 *   /dev/shm, where PrivateTmp would hide it (install-guard.ts);
 * - a dry run also prints the full text of each file it would write.
 *
 * systemctl is called only when systemd is running (/run/systemd/system exists under the prefix).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExecwardenError } from '../errors.js';
import { terminalSafe } from '../outputs/terminal-text.js';
import { ADDON_DIRS, checkServiceFiles, resolveReal, SERVICE_FILES, SERVICE_TREES, temporaryDirOf, type GuardReport } from './install-guard.js';
import type { CommandIo } from './io.js';

export const UNIT_NAME = 'execwarden.service';

export class InstallError extends ExecwardenError {}

/** Characters of a path shown in a message (after escaping), before it is cut. */
const PATH_CHARS = 512;

/** Runs `systemctl ARGS…`; the default runs the real one, tests pass a recorder. */
export type SystemctlRunner = (args: string[]) => { status: number; output: string };

export interface InstallOptions {
  dryRun: boolean;
  /** Root of the target file system; tests use a temporary directory. Default "/". */
  prefix?: string;
  /** Absolute path of the node binary the service runs; default this process's. */
  nodePath?: string;
  /** The execwarden package directory; default the one this file belongs to. */
  packageRoot?: string;
  systemctl?: SystemctlRunner;
  /** Skip the root check of a real run (tests running unprivileged against a temporary prefix). */
  allowNonRoot?: boolean;
}

export type StepState = 'pending' | 'in-place' | 'kept' | 'skipped';

export interface InstallStep {
  /** What the step does, e.g. "install unit". */
  what: string;
  /** The file (as seen on the target system) or command the step is about. */
  target: string;
  state: StepState;
  /** Why a step is kept or skipped, or a detail worth printing. */
  note?: string;
  /** Applies the step; present only when state is "pending". */
  apply?: () => void;
  /** For a file written by the step: its full text and mode, printed by a dry run. */
  file?: { content: string; mode: number };
}

export interface InstallResult {
  dryRun: boolean;
  steps: Array<Omit<InstallStep, 'apply' | 'file'>>;
  /** Steps that changed something (or would have, in a dry run). */
  changed: number;
  exitCode: number;
}

/**
 * Characters a path may hold in ExecStart as is. systemd splits the line on whitespace and expands
 * `%` specifiers, `$` variables and `\` escapes; quoting would work, but a path that needs it is
 * almost surely a mistake, and refusing keeps the unit exactly what the plan shows.
 */
const UNIT_PATH = /^\/[A-Za-z0-9._+,:=@~/-]*$/;
const PLACEHOLDERS = { node: '@NODE@', bin: '@EXECWARDEN_BIN@' } as const;

/** Replaces the template's placeholders with absolute paths; the single rendering of the unit. */
export function renderUnit(template: string, paths: { node: string; bin: string }): string {
  for (const [name, value] of Object.entries(paths)) {
    if (!value.startsWith('/')) {
      throw new InstallError('INSTALL_BAD_PATH', `the unit needs an absolute ${name} path, got "${terminalSafe(value, PATH_CHARS)}"`);
    }
    if (!UNIT_PATH.test(value)) {
      throw new InstallError(
        'INSTALL_BAD_PATH',
        `the ${name} path "${terminalSafe(value, PATH_CHARS)}" has characters the unit would reinterpret or that need quoting ` +
          '(accepted: letters, digits and / . _ + , : = @ ~ -)',
      );
    }
  }
  const known = new Set<string>(Object.values(PLACEHOLDERS));
  const unknown = (template.match(/@[A-Z_]+@/g) ?? []).find((p) => !known.has(p));
  if (unknown) throw new InstallError('INSTALL_BAD_TEMPLATE', `unknown placeholder ${unknown} in the unit`);
  return template.replaceAll(PLACEHOLDERS.node, paths.node).replaceAll(PLACEHOLDERS.bin, paths.bin);
}

/** The package directory: the nearest ancestor of this module holding execwarden's package.json. */
export function findPackageRoot(fromUrl: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(fromUrl));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const name = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name;
      if (name === 'execwarden') return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new InstallError('INSTALL_NO_PACKAGE', 'cannot find the execwarden package directory');
    dir = parent;
  }
}

const HIDDEN_BY_PROTECT_HOME = ['/home', '/root', '/run/user'];

/**
 * Why the service's unprivileged user could not read `path`, or null when it can: each parent
 * must be traversable by others and the file readable by others, outside the ProtectHome paths.
 */
export function unreachableReason(path: string): string | null {
  const absolute = resolve(path);
  const hidden = HIDDEN_BY_PROTECT_HOME.find((h) => absolute === h || absolute.startsWith(h + sep));
  if (hidden) return `${absolute} is under ${hidden}, which the service cannot see (ProtectHome=yes)`;
  let dir = dirname(absolute);
  for (;;) {
    if ((statSync(dir).mode & 0o001) === 0) return `${dir} is not searchable by other users`;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  if ((statSync(absolute).mode & 0o004) === 0) return `${absolute} is not readable by other users`;
  return null;
}

function realSystemctl(args: string[]): { status: number; output: string } {
  const run = spawnSync('systemctl', args, { encoding: 'utf8' });
  if (run.error) return { status: 127, output: run.error.message };
  return { status: run.status ?? 1, output: `${run.stdout}${run.stderr}`.trim() };
}

interface Context {
  prefix: string;
  packageRoot: string;
  nodePath: string;
  systemctl: SystemctlRunner;
  systemdRunning: boolean;
}

function contextFor(opts: InstallOptions): Context {
  // A dry run only reads, so anyone may ask for the plan.
  if (!opts.dryRun && !opts.allowNonRoot && process.getuid?.() !== 0) {
    throw new InstallError('INSTALL_NOT_ROOT', 'installing the service needs root (try: sudo execwarden install)');
  }
  const prefix = resolve(opts.prefix ?? '/');
  return {
    prefix,
    packageRoot: opts.packageRoot ?? findPackageRoot(),
    nodePath: opts.nodePath ?? process.execPath,
    systemctl: opts.systemctl ?? realSystemctl,
    systemdRunning: existsSync(join(prefix, 'run/systemd/system')),
  };
}

/** A file under the prefix, named by its path on the target system. */
function onTarget(ctx: Context, path: string): string {
  return join(ctx.prefix, path);
}

function readIfExists(path: string): string | null {
  return existsSync(path) ? readFileSync(path, 'utf8') : null;
}

function writeFileStep(
  ctx: Context,
  what: string,
  target: string,
  content: string,
  mode: number,
  policy: 'replace' | 'if-absent',
): InstallStep {
  const path = onTarget(ctx, target);
  const current = readIfExists(path);
  const write = (): void => {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    writeFileSync(path, content, { mode });
    chmodSync(path, mode); // writeFileSync's mode is filtered by the umask and ignored for existing files
  };
  const file = { content, mode };
  if (current === content) return { what, target, state: 'in-place' };
  if (current === null) return { what, target, state: 'pending', apply: write, file };
  if (policy === 'if-absent') {
    return { what, target, state: 'kept', note: 'exists and belongs to the host owner; never overwritten' };
  }
  return { what, target, state: 'pending', note: 'replaces a different version', apply: write, file };
}

function systemctlStep(ctx: Context, what: string, args: string[], needed: boolean): InstallStep {
  const target = `systemctl ${args.join(' ')}`;
  if (!ctx.systemdRunning) return { what, target, state: 'skipped', note: 'systemd is not running on this host' };
  if (!needed) return { what, target, state: 'in-place' };
  return {
    what,
    target,
    state: 'pending',
    apply: () => {
      const run = ctx.systemctl(args);
      if (run.status !== 0) {
        throw new InstallError('INSTALL_SYSTEMCTL_FAILED', `${target} failed (${run.status}): ${terminalSafe(run.output)}`);
      }
    },
  };
}

function isEnabled(ctx: Context): boolean {
  return ctx.systemdRunning && ctx.systemctl(['is-enabled', '--quiet', UNIT_NAME]).status === 0;
}

function planInstall(ctx: Context): InstallStep[] {
  const pkg = ctx.packageRoot;
  const bin = join(pkg, 'bin', 'execwarden.js');
  const steps: InstallStep[] = [];

  for (const [label, path] of [['node', ctx.nodePath], ['the execwarden package', pkg]] as const) refuseTemporary(label, path);
  for (const [label, path] of [['node', ctx.nodePath], ['execwarden', bin]] as const) {
    if (!existsSync(path)) throw new InstallError('INSTALL_NO_PACKAGE', `${label} not found at ${terminalSafe(path, PATH_CHARS)}`);
    const reason = unreachableReason(path);
    if (reason) {
      throw new InstallError(
        'INSTALL_PACKAGE_UNREACHABLE',
        `the service runs as an unprivileged user and could not start ${label}: ${terminalSafe(reason)}. ` +
          'Install execwarden system-wide (npm install -g execwarden) and run install from there.',
      );
    }
  }
  if (!existsSync(join(pkg, 'systemd', UNIT_NAME))) {
    // The Debian package ships no templates: it installs the unit, config and logrotate itself.
    // Said before the walk below, which would take the package apart for nothing.
    throw new InstallError(
      'INSTALL_NO_TEMPLATES',
      `${terminalSafe(join(pkg, 'systemd'), PATH_CHARS)} holds no unit template: a Debian package of execwarden installs the service itself (systemctl status execwarden)`,
    );
  }
  refuseUnsafe(checkServiceFiles({ packageRoot: pkg, nodePath: ctx.nodePath }), pkg);

  const unitTarget = `/etc/systemd/system/${UNIT_NAME}`;
  const unit = renderUnit(readFileSync(join(pkg, 'systemd', UNIT_NAME), 'utf8'), { node: ctx.nodePath, bin });
  const unitStep = writeFileStep(ctx, 'install unit', unitTarget, unit, 0o644, 'replace');
  if (unitStep.state === 'pending') unitStep.note = `${unitStep.note ? `${unitStep.note}; ` : ''}runs ${ctx.nodePath} ${bin}`;
  steps.push(unitStep);

  // 0600: the config may hold webhook credentials; the service reads it with CAP_DAC_READ_SEARCH.
  const config = readFileSync(join(pkg, 'systemd', 'config.toml'), 'utf8');
  steps.push(writeFileStep(ctx, 'install default config', '/etc/execwarden/config.toml', config, 0o600, 'if-absent'));

  const rulesDir = join(pkg, 'rules');
  const ruleCount = existsSync(rulesDir) ? readdirSync(rulesDir, { recursive: true }).filter((f) => String(f).endsWith('.toml')).length : 0;
  steps.push({
    what: 'use bundled rules',
    target: rulesDir,
    state: 'in-place',
    note: `${ruleCount} rule file(s) read in place ([rules] paths = []), upgraded with the package`,
  });

  const logrotateSource = join(pkg, 'systemd', 'execwarden.logrotate');
  if (existsSync(logrotateSource)) {
    const snippet = readFileSync(logrotateSource, 'utf8');
    steps.push(writeFileStep(ctx, 'install logrotate snippet', '/etc/logrotate.d/execwarden', snippet, 0o644, 'if-absent'));
  } else {
    steps.push({ what: 'install logrotate snippet', target: '/etc/logrotate.d/execwarden', state: 'skipped', note: `${logrotateSource} is missing from the package` });
  }

  const unitChanged = unitStep.state === 'pending';
  steps.push(systemctlStep(ctx, 'reload systemd', ['daemon-reload'], unitChanged));
  const enabled = isEnabled(ctx);
  steps.push(systemctlStep(ctx, 'enable and start', ['enable', '--now', UNIT_NAME], !enabled));
  // An already running service keeps the old unit until restarted.
  steps.push(systemctlStep(ctx, 'restart with the new unit', ['try-restart', UNIT_NAME], enabled && unitChanged));
  return steps;
}

/** A package or node under /tmp, /var/tmp or /dev/shm, as given or once links are resolved, is refused. */
function refuseTemporary(label: string, path: string): void {
  const real = resolveReal(path);
  const dir = temporaryDirOf(path) ?? (real === null ? null : temporaryDirOf(real));
  if (dir === null) return;
  const shown = terminalSafe(path, PATH_CHARS) + (real !== null && real !== resolve(path) ? ` (${terminalSafe(real, PATH_CHARS)})` : '');
  throw new InstallError(
    'INSTALL_PACKAGE_IN_TMP',
    `refusing to install: ${label} is under ${dir}: ${shown}. The service runs with PrivateTmp=yes and would not ` +
      `see it, and any user can create files in ${dir}. Put it in a root-owned directory such as /opt/execwarden ` +
      '(or npm install -g execwarden) and run install from there.',
  );
}

/** Everything the service runs or reads must be root's alone (install-guard.ts). */
function refuseUnsafe(report: GuardReport, packageRoot: string): void {
  if (report.stoppedIn !== null) {
    throw new InstallError(
      'INSTALL_PACKAGE_TOO_LARGE',
      `refusing to install: stopped checking the package's files after ${report.entries - 1} entries, in ` +
        `${terminalSafe(report.stoppedIn, PATH_CHARS)}; a package this large is not what npm installs. ` +
        'Install from a clean copy (npm ci --omit=dev, or npm install -g execwarden).',
    );
  }
  if (report.problemCount === 0) return;
  // A path the unit can hold needs no quoting in a shell either.
  const shownPackage = UNIT_PATH.test(packageRoot) ? packageRoot : 'PACKAGE';
  const lines = report.problems.map((p) => `  ${terminalSafe(p.path, PATH_CHARS)} ${p.reason}`);
  const more = report.problemCount - report.problems.length;
  if (more > 0) lines.push(`  … and ${more} more`);
  throw new InstallError(
    'INSTALL_PACKAGE_UNSAFE',
    'refusing to install: the service would run or read files that someone other than root can change. ' +
      'It runs them with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, so whoever can write them controls this host:\n' +
      `${lines.join('\n')}\n` +
      `Each directory from / down, the package (${[...SERVICE_TREES, ...ADDON_DIRS.map((dir) => join(dir, '*.node')), ...SERVICE_FILES].join(', ')}) ` +
      'and node must be owned by root and not writable by group or others; for the package: ' +
      `chown -R root:root ${shownPackage} && chmod -R go-w ${shownPackage}`,
  );
}

function planUninstall(ctx: Context): InstallStep[] {
  const steps: InstallStep[] = [];
  const unitTarget = `/etc/systemd/system/${UNIT_NAME}`;
  const unitPresent = existsSync(onTarget(ctx, unitTarget));
  steps.push(systemctlStep(ctx, 'stop and disable', ['disable', '--now', UNIT_NAME], unitPresent || isEnabled(ctx)));
  steps.push(removeFileStep(ctx, 'remove unit', unitTarget));
  steps.push(systemctlStep(ctx, 'reload systemd', ['daemon-reload'], unitPresent));
  for (const target of ['/etc/execwarden/config.toml', '/etc/logrotate.d/execwarden', '/var/log/execwarden']) {
    if (existsSync(onTarget(ctx, target))) {
      steps.push({ what: 'host owner file', target, state: 'kept', note: 'remove it by hand if unwanted' });
    }
  }
  return steps;
}

function removeFileStep(ctx: Context, what: string, target: string): InstallStep {
  const path = onTarget(ctx, target);
  if (!existsSync(path)) return { what, target, state: 'in-place', note: 'already absent' };
  return { what, target, state: 'pending', apply: () => rmSync(path) };
}

const LABELS: Record<StepState, { done: string; planned: string }> = {
  pending: { done: 'done', planned: 'would do' },
  'in-place': { done: 'in place', planned: 'in place' },
  kept: { done: 'kept', planned: 'would keep' },
  skipped: { done: 'skipped', planned: 'would skip' },
};

/** A file's text for the terminal: each line escaped (the package's files are checked, but text is text). */
function showFile(content: string): string {
  const lines = content.endsWith('\n') ? content.slice(0, -1).split('\n') : content.split('\n');
  return lines.map((line) => terminalSafe(line, SHOWN_LINE_CHARS)).join('\n');
}
const SHOWN_LINE_CHARS = 4096;

function execute(steps: InstallStep[], dryRun: boolean, io: CommandIo): InstallResult {
  const width = Math.max(...Object.values(LABELS).map((l) => (dryRun ? l.planned : l.done).length));
  for (const step of steps) {
    if (!dryRun) step.apply?.();
    const label = dryRun ? LABELS[step.state].planned : LABELS[step.state].done;
    const note = step.note ? ` (${terminalSafe(step.note)})` : '';
    io.stdout.write(`${label.padEnd(width)}  ${step.what}: ${terminalSafe(step.target, PATH_CHARS)}${note}\n`);
  }
  const changed = steps.filter((s) => s.state === 'pending').length;
  if (dryRun) {
    io.stdout.write(`dry run: ${changed} change(s) planned, nothing written\n`);
    for (const step of steps) {
      if (step.state !== 'pending' || step.file === undefined) continue;
      const mode = step.file.mode.toString(8).padStart(4, '0');
      io.stdout.write(`\n--- ${step.target} (mode ${mode}), as it would be written ---\n${showFile(step.file.content)}\n--- end of ${step.target} ---\n`);
    }
  } else if (changed === 0) {
    io.stdout.write('everything already in place\n');
  }
  return { dryRun, steps: steps.map(({ apply: _apply, file: _file, ...rest }) => rest), changed, exitCode: 0 };
}

export async function installAction(opts: InstallOptions, io: CommandIo): Promise<InstallResult> {
  const ctx = contextFor(opts);
  return execute(planInstall(ctx), opts.dryRun, io);
}

export async function uninstallAction(opts: InstallOptions, io: CommandIo): Promise<InstallResult> {
  const ctx = contextFor(opts);
  return execute(planUninstall(ctx), opts.dryRun, io);
}
