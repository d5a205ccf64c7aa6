/**
 * `execwarden lab [--storm] [--json] [NAME…]`: the self-test. Runs every simulation against a live
 * detector in this process and prints whether each was caught (or, for look-alikes, left alone).
 * Exit status 0 only when every expectation is met.
 */
import { formatLabTable } from '../lab/report-table.js';
import { type LabDetector, type LabReport, RESPONSE_VARIANTS, runLab } from '../lab/run-lab.js';
import { selectVariants } from '../lab/simulation.js';
import type { CommandIo } from './io.js';

export interface LabCommandOptions {
  storm: boolean;
  json: boolean;
  /** Then the response phase (run-lab.ts). */
  response?: boolean;
  /** Variant names; all when empty. */
  names: string[];
}

export interface LabCommandDeps {
  /** Builds the detector under test (the agent's live pipeline). */
  createDetector: () => LabDetector | Promise<LabDetector>;
  /** The detector of the response phase, killing what these rules catch. */
  createResponseDetector?: (killRules: string[]) => LabDetector | Promise<LabDetector>;
}

export interface LabCommandResult {
  exitCode: number;
  report: LabReport;
}

export async function labAction(opts: LabCommandOptions, io: CommandIo, deps: LabCommandDeps): Promise<LabCommandResult> {
  const detector = await deps.createDetector();
  let response: { detector: LabDetector; variants: string[] } | undefined;
  if (opts.response && deps.createResponseDetector) {
    // The named simulations that connect and should be caught, or the default set.
    const named = selectVariants(opts.names).filter((v) => opts.names.length > 0 && v.connects && v.expectAlert);
    const variants = named.length > 0 ? named : selectVariants([...RESPONSE_VARIANTS]);
    const killRules = [...new Set(variants.flatMap((v) => v.mustFire))];
    response = { detector: await deps.createResponseDetector(killRules), variants: variants.map((v) => v.name) };
  }
  const phases = [opts.storm ? 'calm, then under an exec storm' : '', response ? 'then the kill response' : ''].filter(Boolean).join('; ');
  if (!opts.json) io.stderr.write(`running the lab${phases ? ` (${phases})` : ''}…\n`);
  const report = await runLab({ detector, storm: opts.storm, variants: opts.names, ...(response ? { response } : {}) });
  io.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatLabTable(report));
  return { exitCode: report.passed ? 0 : 1, report };
}
