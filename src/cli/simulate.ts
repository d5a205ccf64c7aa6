/**
 * `execwarden simulate [--list] [NAME…]`: run harmless simulated reverse shells against loopback
 * listeners this command opens and closes itself. It does not watch for alerts: run it while the
 * agent is running (or use `execwarden lab`) to see them caught.
 */
import { LAB_VARIANTS, missingTools } from '../lab/variants.js';
import { runSimulations, selectVariants, type SimulationResult } from '../lab/simulation.js';
import type { CommandIo } from './io.js';

export interface SimulateOptions {
  list: boolean;
  names: string[];
}

export interface SimulateResult {
  exitCode: number;
  results: SimulationResult[];
}

function listVariants(io: CommandIo): void {
  const width = Math.max(...LAB_VARIANTS.map((v) => v.name.length));
  for (const variant of LAB_VARIANTS) {
    const missing = missingTools(variant);
    const expects = variant.expectAlert ? 'alert' : 'none ';
    const note = missing.length > 0 ? `  [not runnable here: ${missing.join(', ')} not installed]` : '';
    io.stdout.write(`${variant.name.padEnd(width)}  expects ${expects}  ${variant.summary}${note}\n`);
  }
}

function describeResult(result: SimulationResult, expectAlert: boolean): string {
  if (result.status === 'skipped') return `skipped  ${result.variant}: ${result.skipReason}`;
  const outcome = result.problem ? `FAILED   ${result.variant}: ${result.problem}` : `ok       ${result.variant}`;
  const contact = result.connections > 0 ? `listener 127.0.0.1:${result.port} reached` : 'no connection';
  const leftovers = result.leftovers > 0 ? `, ${result.leftovers} leftover process(es) killed` : '';
  return `${outcome} (${contact}; should ${expectAlert ? '' : 'not '}alert; marker ${result.marker}${leftovers})`;
}

export async function simulateAction(opts: SimulateOptions, io: CommandIo): Promise<SimulateResult> {
  if (opts.list) {
    listVariants(io);
    return { exitCode: 0, results: [] };
  }
  const variants = selectVariants(opts.names);
  const byName = new Map(variants.map((v) => [v.name, v]));
  const results = await runSimulations(variants, {
    onResult: (r) => io.stdout.write(`${describeResult(r, byName.get(r.variant)!.expectAlert)}\n`),
  });
  const failed = results.filter((r) => r.problem !== undefined).length;
  const ran = results.filter((r) => r.status === 'ran').length;
  io.stdout.write(`${ran} simulation(s) run, ${results.length - ran} skipped, ${failed} failed\n`);
  return { exitCode: failed === 0 ? 0 : 1, results };
}
