/**
 * What systemd says about execwarden.service, read with one `systemctl show` and parsed here.
 * The unit text is the host owner's (drop-ins) or anyone's who could write it, so every value is
 * treated as untrusted: lines and values are bounded, numbers are checked, and nothing read here
 * is printed without going through `shown`. A host without systemd (a container, a minimal VM)
 * is a fact like any other, not an error: `systemd` says which case applies.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { UNIT_NAME } from '../cli/install.js';

/** The unit `install` writes. */
export const UNIT = UNIT_NAME;

/** Where a unit file can live; the first that exists is reported (none: not installed). */
export const UNIT_FILE_PATHS = [
  `/etc/systemd/system/${UNIT}`,
  `/usr/lib/systemd/system/${UNIT}`,
  `/lib/systemd/system/${UNIT}`,
] as const;

/** The properties read; each one is used by service-checks.ts. */
export const SHOW_PROPERTIES = [
  'LoadState',
  'UnitFileState',
  'ActiveState',
  'SubState',
  'Result',
  'MainPID',
  'NRestarts',
  'ActiveEnterTimestampMonotonic',
  'FragmentPath',
  'ExecStart',
  'User',
  'DynamicUser',
  'AmbientCapabilities',
  'CapabilityBoundingSet',
  'CPUQuotaPerSecUSec',
  'LogsDirectory',
  'StateDirectory',
  'ReadWritePaths',
  'IPAddressDeny',
  'IPAddressAllow',
] as const;

export type ShowProperty = (typeof SHOW_PROPERTIES)[number];

export type ServiceFacts =
  /** systemd is not the init system here (or systemctl is missing); `unitFile` when one is on disk anyway. */
  | { systemd: 'absent'; unitFile: string | null; detail: string }
  /** systemctl ran but failed (no bus, a timeout): nothing is known about the unit. */
  | { systemd: 'unreachable'; unitFile: string | null; detail: string }
  | { systemd: 'running'; properties: Partial<Record<ShowProperty, string>> };

/** What the other checks ask of the unit: loaded, active (or reloading), and its main process. */
export function serviceState(service: ServiceFacts): { loaded: boolean; active: boolean; mainPid: number | null } {
  if (service.systemd !== 'running') return { loaded: false, active: false, mainPid: null };
  const p = service.properties;
  const loaded = p.LoadState === 'loaded';
  return { loaded, active: loaded && (p.ActiveState === 'active' || p.ActiveState === 'reloading'), mainPid: mainPidOf(p) };
}

/** MainPID as a pid, or null when systemd reports none (0) or something else. */
export function mainPidOf(properties: Partial<Record<ShowProperty, string>>): number | null {
  const value = properties.MainPID ?? '';
  if (!/^\d+$/.test(value)) return null;
  const pid = Number(value);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

/** Longest property value kept; a longer one is cut (ExecStart of a sane unit is far shorter). */
export const MAX_PROPERTY_CHARS = 4096;

/** `Key=value` lines of `systemctl show` into the known properties; unknown keys are ignored. */
export function parseShowOutput(text: string): Partial<Record<ShowProperty, string>> {
  const known = new Set<string>(SHOW_PROPERTIES);
  const properties: Partial<Record<ShowProperty, string>> = {};
  for (const line of text.slice(0, 64 * 1024).split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    if (!known.has(key)) continue;
    properties[key as ShowProperty] = line.slice(eq + 1, eq + 1 + MAX_PROPERTY_CHARS);
  }
  return properties;
}

/**
 * The program and argv of the first ExecStart= command, from systemctl's rendering
 * `{ path=/usr/bin/node ; argv[]=/usr/bin/node /opt/…/execwarden.js run --config /etc/… ; … }`.
 */
export function parseExecStart(value: string | undefined): { path: string; argv: string[] } | null {
  if (value === undefined) return null;
  const path = /path=([^ ;]+)/.exec(value)?.[1];
  const argv = /argv\[\]=([^;]*)/.exec(value)?.[1];
  if (path === undefined || argv === undefined) return null;
  return { path, argv: argv.trim().split(/\s+/).filter((a) => a !== '') };
}

/** The unit's ExecStart paths that no longer exist on disk (node, then the script). */
export function missingExecPaths(execStart: string | undefined, exists: (path: string) => boolean): string[] {
  const parsed = parseExecStart(execStart);
  if (parsed === null) return [];
  const paths = [parsed.path, ...parsed.argv.slice(1, 2).filter((a) => a.startsWith('/'))];
  return paths.filter((path) => !exists(path));
}

/** The value of `--config`/`-c` in an argv, or null. */
export function configArgument(argv: readonly string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if ((arg === '--config' || arg === '-c') && i + 1 < argv.length) return argv[i + 1];
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  return null;
}

/** systemd's names of capabilities (`cap_net_admin …`) as upper-case names. */
export function capabilityNames(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(/\s+/)
    .filter((c) => /^cap_[a-z_]+$/.test(c))
    .map((c) => c.toUpperCase());
}

/** ReadWritePaths= entries without their `-`/`+` prefixes. */
export function readWritePaths(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(/\s+/)
    .map((p) => p.replace(/^[-+]+/, ''))
    .filter((p) => p.startsWith('/'));
}

export type SystemctlRunner = (args: string[]) => { status: number | null; stdout: string; stderr: string; error?: string };

const SYSTEMCTL_TIMEOUT_MS = 3000;

function realSystemctl(args: string[]): ReturnType<SystemctlRunner> {
  const run = spawnSync('systemctl', args, { encoding: 'utf8', timeout: SYSTEMCTL_TIMEOUT_MS, maxBuffer: 256 * 1024 });
  return { status: run.status, stdout: run.stdout ?? '', stderr: run.stderr ?? '', ...(run.error ? { error: run.error.message } : {}) };
}

function unitFileOnDisk(root: string): string | null {
  return UNIT_FILE_PATHS.find((path) => existsSync(root + path)) ?? null;
}

export function readServiceFacts(options: { systemctl?: SystemctlRunner; root?: string } = {}): ServiceFacts {
  const root = options.root ?? '';
  // The same test systemd itself documents (sd_booted): this directory exists only when it is init.
  if (!existsSync(`${root}/run/systemd/system`)) {
    return { systemd: 'absent', unitFile: unitFileOnDisk(root), detail: 'systemd is not the init system of this host' };
  }
  const run = (options.systemctl ?? realSystemctl)(['show', UNIT, '--no-pager', ...SHOW_PROPERTIES.map((p) => `--property=${p}`)]);
  if (run.error !== undefined && /ENOENT/.test(run.error)) {
    return { systemd: 'absent', unitFile: unitFileOnDisk(root), detail: 'systemctl is not installed' };
  }
  if (run.status !== 0) {
    const why = run.error ?? (run.stderr.trim().split('\n')[0] || `systemctl exited with status ${run.status}`);
    return { systemd: 'unreachable', unitFile: unitFileOnDisk(root), detail: why };
  }
  return { systemd: 'running', properties: parseShowOutput(run.stdout) };
}
