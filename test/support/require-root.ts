/**
 * Real-kernel and service tests need root. Outside CI they skip with a message saying so; in CI
 * (CI=true) a missing root is a failure, because there a skipped test would hide a broken feature.
 */
import { describe, it } from 'vitest';

export const isRoot = process.getuid?.() === 0;

/** `describe` that runs only as root, with the skip-or-fail rule above. */
export function describeAsRoot(name: string, body: () => void): void {
  if (isRoot) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('runs as root', () => {
        throw new Error(`${name}: needs root, and CI=true forbids skipping`);
      });
    });
    return;
  }
  describe.skip(`${name} (skipped: needs root; run the tests as root)`, body);
}
