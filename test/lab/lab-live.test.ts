/**
 * The lab end to end on the real pipeline: live proc-connector capture, the bundled rules and the
 * engine in this process, every simulation run for real, calm and then under an exec storm.
 */
import { expect, it } from 'vitest';
import { createLiveDetector } from '../../src/agent/lab-detector.js';
import { formatLabTable } from '../../src/lab/report-table.js';
import { runLab } from '../../src/lab/run-lab.js';
import { describeAsRoot } from '../systemd/require-root.js';

describeAsRoot('execwarden lab on the live pipeline', () => {
  it('meets every expectation, calm and under an exec storm', async () => {
    const report = await runLab({ detector: createLiveDetector(), storm: true });
    const table = formatLabTable(report);
    expect(report.passed, table).toBe(true);
    const ran = report.rows.filter((r) => r.status !== 'skipped');
    // bash and sh variants exist everywhere; both phases ran them.
    expect(ran.filter((r) => r.phase === 'calm').length, table).toBeGreaterThanOrEqual(17);
    expect(ran.filter((r) => r.phase === 'storm').length, table).toBe(ran.filter((r) => r.phase === 'calm').length);
    for (const row of ran.filter((r) => r.expected)) {
      expect(row.latencyMs, `${row.phase} ${row.variant}`).not.toBeNull();
    }
  }, 600_000);
});
