/**
 * The rules shipped in the package's rules/ folder. Found from this module's own location by
 * walking up to the package.json named `execwarden`, so it works from src/ (tests) and dist/src/
 * (the built package) alike.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExecwardenError } from '../errors.js';

export const BUNDLED_RULESET = 'execwarden';

let cachedRoot: string | undefined;

export function packageRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'execwarden') return (cachedRoot = dir);
      } catch {
        // Not ours or unreadable: keep walking up.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new ExecwardenError('PACKAGE_ROOT_NOT_FOUND', `cannot find the execwarden package root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export function bundledRulesDir(): string {
  return join(packageRoot(), 'rules');
}
