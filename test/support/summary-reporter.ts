/*
 * Prints one plain closing line, `N passed, N failed, N skipped`, after vitest's own summary, so
 * that anything reading the last line of `npm test` (CI among them) gets the counts without
 * parsing vitest's formatted output. A file that fails to load counts as one failure.
 */
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of testModules) {
      let cases = 0;
      for (const test of module.children.allTests()) {
        cases += 1;
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed += 1;
        else skipped += 1;
      }
      if (cases === 0 && module.state() === 'failed') failed += 1;
      else if (module.state() === 'failed') {
        // Errors outside any test (at import, or in a hook of the file or of a describe block, which
        // then skips its tests) fail the file without failing a case: count the file once.
        const anyCaseFailed = [...module.children.allTests()].some((t) => t.result().state === 'failed');
        const suiteFailed = [...module.children.allSuites()].some((suite) => suite.state() === 'failed');
        if (!anyCaseFailed && (module.errors().length > 0 || suiteFailed)) failed += 1;
      }
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
