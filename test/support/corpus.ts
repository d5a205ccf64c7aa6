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
  // The body is not run at all: collecting it would already read the missing corpus.
  describe(name, () => {
    it.skip(`needs the test corpus at ${CORPUS_DIR}, which is not part of a clone`, () => undefined);
  });
}

/** Whether the corpus is there (tests that read it at collection time check this first). */
export function corpusPresent(): boolean {
  return existsSync(CORPUS_DIR);
}
