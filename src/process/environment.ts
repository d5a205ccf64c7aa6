/**
 * The environment variables execwarden reads at exec: an allow-list, never the whole environment
 * (it holds secrets: tokens, passwords, keys).
 *
 * The default list is the names Elastic's Linux rules read in `process.env_vars` (counted over
 * Elastic's detection-rules and Defend's behavior rules: LD_PRELOAD 42 times, LD_LIBRARY_PATH, the
 * HIST* variables a shell uses to stop recording, the proxy variables a tunnelled tool obeys,
 * RUNNER_TRACKING_ID that a GitHub runner sets). One of Elastic's rules spells "LD_PRELAOD"; that
 * misspelling names nothing a loader reads and is left out. Elastic Defend itself collects nothing
 * by default and at most five names (`linux.advanced.capture_env_vars`, Elastic Security docs,
 * "Capture environment variables"); execwarden collects these by default because the rules that
 * read them would otherwise never fire.
 *
 * SSH_CONNECTION is always read as well, for `process.entry_leader.entry_meta.source.ip` of ssh
 * sessions, and written to `process.env_vars` only when it is on the configured list.
 *
 * Bounds (the same in the native reader and in the /proc scanner): at most `scanMaxBytes` of
 * environ are read, each kept "NAME=value" is cut at `valueMaxBytes`, at most `maxEntries` are
 * kept, and past that the last slot holds the latest one, so padding with duplicates cannot push
 * out the occurrence the loader honours (the last LD_PRELOAD). Anything cut sets `truncated`.
 */
import { isIP } from 'node:net';

export const DEFAULT_ENV_VARS: readonly string[] = Object.freeze([
  'LD_PRELOAD',
  'LD_LIBRARY_PATH',
  'HISTFILE',
  'HISTFILESIZE',
  'HISTSIZE',
  'HISTCONTROL',
  'http_proxy',
  'HTTPS_PROXY',
  'ALL_PROXY',
  'RUNNER_TRACKING_ID',
]);

/** Read for the session data even when not on the configured list. */
export const SESSION_ENV_VARS: readonly string[] = Object.freeze(['SSH_CONNECTION']);

export interface EnvironLimits {
  scanMaxBytes: number;
  valueMaxBytes: number;
  maxEntries: number;
}

export const DEFAULT_ENVIRON_LIMITS: Readonly<EnvironLimits> = Object.freeze({
  scanMaxBytes: 1024 * 1024,
  valueMaxBytes: 1024,
  maxEntries: 16,
});

/** Names longer than this, empty, or holding '=' or NUL cannot be on the list. */
export const ENV_NAME_MAX_BYTES = 128;
export const ENV_NAMES_MAX = 256;

/** Why a name cannot be on the allow-list, or null when it can. */
export function envNameProblem(name: string): string | null {
  if (name === '' || Buffer.byteLength(name) > ENV_NAME_MAX_BYTES) return `must be 1 to ${ENV_NAME_MAX_BYTES} bytes`;
  if (name.includes('=') || name.includes('\0')) return "must not contain '=' or NUL";
  return null;
}

/** The names the reader is asked for: the configured list plus what the session data needs. */
export function namesToRead(configured: readonly string[]): string[] {
  return [...new Set([...configured, ...SESSION_ENV_VARS])];
}

export interface FilteredEnviron {
  env: string[];
  truncated: boolean;
}

/** Picks the allow-listed "NAME=value" entries out of raw environ bytes (see the module header). */
export function filterEnviron(bytes: Buffer, names: ReadonlySet<string>, limits: EnvironLimits = DEFAULT_ENVIRON_LIMITS): FilteredEnviron {
  const env: string[] = [];
  let truncated = bytes.length > limits.scanMaxBytes;
  const end = Math.min(bytes.length, limits.scanMaxBytes);
  let start = 0;
  while (start < end) {
    let stop = bytes.indexOf(0, start);
    if (stop < 0 || stop > end) stop = end;
    const equals = bytes.indexOf(0x3d, start);
    if (equals >= start && equals < stop && names.has(bytes.toString('utf8', start, equals))) {
      let entryEnd = stop;
      if (entryEnd - start > limits.valueMaxBytes) {
        entryEnd = start + limits.valueMaxBytes;
        truncated = true;
      }
      const entry = bytes.toString('utf8', start, entryEnd);
      if (env.length < limits.maxEntries) {
        env.push(entry);
      } else {
        env[env.length - 1] = entry;
        truncated = true;
      }
    }
    start = stop + 1;
  }
  return { env, truncated };
}

/** The entries of `env` whose name is in `names`. */
export function envForOutput(env: readonly string[], names: ReadonlySet<string>): string[] {
  return env.filter((entry) => {
    const equals = entry.indexOf('=');
    return equals > 0 && names.has(entry.slice(0, equals));
  });
}

/** The value of the last `name=` entry, or null. */
export function envValue(env: readonly string[] | null, name: string): string | null {
  if (env === null) return null;
  const prefix = `${name}=`;
  for (let i = env.length - 1; i >= 0; i--) if (env[i].startsWith(prefix)) return env[i].slice(prefix.length);
  return null;
}

/**
 * The client address of an ssh session from SSH_CONNECTION ("client_ip client_port server_ip
 * server_port", set by sshd for the session's shell, see sshd(8) ENVIRONMENT); null unless it
 * is a well-formed IP address.
 */
export function sshClientIp(env: readonly string[] | null): string | null {
  const value = envValue(env, 'SSH_CONNECTION');
  if (value === null) return null;
  const ip = value.trim().split(/\s+/)[0] ?? '';
  return isIP(ip) !== 0 ? ip : null;
}
