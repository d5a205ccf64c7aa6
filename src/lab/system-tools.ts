/**
 * Where the simulations find shells and helpers. They search the standard system directories
 * rather than the caller's PATH, so a lab run means the same thing under sudo, in CI and from a
 * developer's shell with version-manager shims, and children get the same PATH.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';

export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Absolute path of an executable named `name` on SYSTEM_PATH, or null when not installed. */
export function findExecutable(name: string): string | null {
  for (const dir of SYSTEM_PATH.split(':')) {
    const candidate = join(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

const probeResults = new Map<string, boolean>();

/**
 * Whether `interpreter` (on SYSTEM_PATH) runs `args` and exits 0: how a library it must load is
 * checked (lua5.1 `-e 'require("socket")'`). Answered once per process.
 */
export function interpreterRuns(interpreter: string, args: readonly string[]): boolean {
  const key = JSON.stringify([interpreter, ...args]);
  const known = probeResults.get(key);
  if (known !== undefined) return known;
  const path = findExecutable(interpreter);
  const ok = path !== null && spawnSync(path, args, { stdio: 'ignore', timeout: 5000, env: { PATH: SYSTEM_PATH, LANG: 'C' } }).status === 0;
  probeResults.set(key, ok);
  return ok;
}
