/**
 * Where the simulations find shells and helpers. They search the standard system directories
 * rather than the caller's PATH, so a lab run means the same thing under sudo, in CI and from a
 * developer's shell with version-manager shims, and children get the same PATH.
 */
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
