/**
 * `execwarden status` (alias `doctor`): one screen that says whether this host is protected and
 * what to do if not. It gathers the facts (src/status/gather.ts), judges them with pure functions
 * (src/status/report.ts and the *-checks.ts beside it), prints the checks and a verdict, and exits
 * 0 only when the verdict is "protected". `--json` prints the same report as one JSON object.
 */
import { gatherStatusFacts, type GatherOptions } from '../status/gather.js';
import type { StatusFacts } from '../status/facts.js';
import { assessStatus, renderStatusText, statusJson, type StatusReport } from '../status/report.js';
import type { CommandIo } from './io.js';
import { writeText } from './ndjson.js';

export interface StatusOptions {
  json?: boolean;
  /** Judge this config file instead of the service's. */
  config?: string;
  /** False: do not subscribe to the proc connector to prove it works. */
  probe?: boolean;
}

export interface StatusResult {
  exitCode: number;
  report: StatusReport;
}

export interface StatusDeps {
  /** Replaces the host: tests hand in facts made up for the case. */
  gather?: (options: GatherOptions) => Promise<StatusFacts>;
}

export async function statusAction(options: StatusOptions, io: CommandIo, deps: StatusDeps = {}): Promise<StatusResult> {
  const gather = deps.gather ?? gatherStatusFacts;
  const facts = await gather({
    ...(options.config === undefined ? {} : { config: options.config }),
    probe: options.probe !== false,
  });
  const report = assessStatus(facts);
  const text = options.json ? `${JSON.stringify(statusJson(report, facts), null, 2)}\n` : renderStatusText(report);
  await writeText(io.stdout, text);
  return { exitCode: report.verdict.exitCode, report };
}
