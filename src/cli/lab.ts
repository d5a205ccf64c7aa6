/**
 * `execwarden lab [--storm] [--json] [NAME…]`: the self-test. Runs every simulation against a live
 * detector in this process and prints whether each was caught (or, for look-alikes, left alone).
 * Exit status 0 only when every expectation is met.
 */
import { formatLabTable } from '../lab/report-table.js';
import { type LabDetector, type LabReport, runLab } from '../lab/run-lab.js';
import type { CommandIo } from './io.js';

export interface LabCommandOptions {
  storm: boolean;
  json: boolean;
  /** Variant names; all when empty. */
  names: string[];
}

export interface LabCommandDeps {
  /** Builds the detector under test (the agent's live pipeline). */
  createDetector: () => LabDetector | Promise<LabDetector>;
}

export interface LabCommandResult {
  exitCode: number;
  report: LabReport;
}

export async function labAction(opts: LabCommandOptions, io: CommandIo, deps: LabCommandDeps): Promise<LabCommandResult> {
  const detector = await deps.createDetector();
  if (!opts.json) io.stderr.write(`running the lab${opts.storm ? ' (calm, then under an exec storm)' : ''}…\n`);
  const report = await runLab({ detector, storm: opts.storm, variants: opts.names });
  io.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatLabTable(report));
  return { exitCode: report.passed ? 0 : 1, report };
}
