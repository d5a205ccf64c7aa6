/**
 * The shared test corpus (../shared/corpus, beside the project). A user's clone does not have it:
 * there tests that read it skip with a message saying so; in CI (CI=true) it must be there, and a
 * missing corpus fails the tests instead of skipping them.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'vitest';

export const CORPUS_DIR = path.resolve(process.cwd(), '..', 'shared', 'corpus');

/** `describe` that runs only where the corpus exists, with the skip-or-fail rule above. */
export function describeWithCorpus(name: string, body: () => void): void {
  if (existsSync(CORPUS_DIR)) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('finds the corpus', () => {
        throw new Error(`${name}: ${CORPUS_DIR} is missing, and CI=true forbids skipping`);
      });
    });
    return;
  }
  describe.skip(`${name} (skipped: no test corpus at ${CORPUS_DIR}; it is not part of a clone)`, body);
}
