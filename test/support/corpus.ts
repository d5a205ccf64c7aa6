/**
 * The shared test corpus: Elastic's published detection rules (Linux process and sequence rules),
 * Elastic Defend's Linux behavior rules and Elasticsearch's EQL query specs with their data, kept
 * beside the project in ../shared/corpus. A user's clone does not have it: there tests that read it
 * skip with one line saying so; in CI (CI=true) it must be there, and a missing corpus fails the
 * tests instead of skipping them.
 *
 * EXECWARDEN_TEST_CORPUS names another corpus directory (a copy elsewhere, or a missing path to
 * see what a fresh clone does). Tests should reach the corpus through CORPUS_DIR, so that the
 * override applies to them too; the skip rule holds for any test inside describeWithCorpus.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'vitest';

export const CORPUS_DIR = path.resolve(process.env.EXECWARDEN_TEST_CORPUS || path.join(process.cwd(), '..', 'shared', 'corpus'));

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
  // The body is not run at all: collecting it would already read the missing corpus. The reason
  // goes to stderr as well, since vitest's default reporter shows only the count of skipped tests.
  const reason = `needs the test corpus at ${CORPUS_DIR} (Elastic's rules and EQL specs), which a clone does not have`;
  process.stderr.write(`skipped "${name}": ${reason}\n`);
  describe(name, () => {
    it.skip(`skipped: ${reason}`, () => undefined);
  });
}

/** Whether the corpus is there (tests that read it at collection time check this first). */
export function corpusPresent(): boolean {
  return existsSync(CORPUS_DIR);
}
