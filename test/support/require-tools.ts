/**
 * Tests that run programs the host may lack (the lab's interpreters). Outside CI a missing program
 * skips the test and says which; in CI (CI=true) it is a failure, because .ci/run installs every
 * program the tests use except those named optional, and there a skip would hide a broken feature.
 */
import { it } from 'vitest';

export const inCi = process.env.CI === 'true';

/** Whether a test missing `missing` may be skipped here: outside CI, or when all of them are optional. */
export function maySkip(missing: readonly string[], optional: ReadonlySet<string>): boolean {
  return !inCi || missing.every((name) => optional.has(name));
}

/** `it` that runs when nothing is missing, with the skip-or-fail rule above otherwise. */
export function itWithTools(
  name: string,
  missing: readonly string[],
  optional: ReadonlySet<string>,
  body: () => Promise<void>,
  timeoutMs?: number,
): void {
  if (missing.length === 0) {
    it(name, body, timeoutMs);
    return;
  }
  if (!maySkip(missing, optional)) {
    it(name, () => {
      throw new Error(`${name}: ${missing.join(', ')} not installed, and CI=true forbids skipping (.ci/run installs it)`);
    });
    return;
  }
  it.skip(`${name} (skipped: ${missing.join(', ')} not installed)`, body);
}
