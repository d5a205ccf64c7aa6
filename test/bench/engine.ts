/**
 * Engine benchmark: rule evaluation alone (no capture, no outputs) over a generated mix of
 * realistic exec events, with the bundled rules, with Elastic's 266 Linux process rules from the
 * corpus, and with those plus the 174 Elastic Defend behavior rules of the corpus that read only
 * process events (their lineage tracker included). Prints events/s and µs/event, the median of several runs on one core. Time is the
 * process's own CPU time (user + system), so other work on a shared machine inflates it less than
 * wall time would (not entirely: caches and memory bandwidth are shared); the wall-clock rate and
 * the best run are printed beside it.
 *
 *   npx tsc -p tsconfig.build.json && node dist/test/bench/engine.js
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundledRulesDir, loadRules, loadRuleText, packageRoot, RuleSet, type LoadedRule } from '../../src/rules/index.js';

/** Rules whose every stage reads process events (any category aside). */
function readsOnlyProcessEvents(rule: LoadedRule): boolean {
  const categories = rule.compiled.kind === 'event' ? [rule.compiled.category] : rule.compiled.categories;
  return categories.every((category) => category === 'process');
}
import { execMix } from '../rules/support/exec-mix.js';

const EVENTS = 50_000;
const RUNS = 7;
const TARGET_EVENTS_PER_SECOND = 100_000;

interface RunFigures {
  rules: number;
  /** Per CPU-second of this process. */
  eventsPerSecond: number;
  /** The fastest run, per CPU-second: the least disturbed by other work on the machine. */
  bestEventsPerSecond: number;
  wallEventsPerSecond: number;
  microsPerEvent: number;
  matchesPerRun: number;
  candidatesPerEvent: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function measure(rules: readonly LoadedRule[], events: Record<string, unknown>[]): RunFigures {
  const cpuMicros: number[] = [];
  const wallNs: number[] = [];
  let matches = 0;
  let evaluations = 0;
  for (let run = -1; run < RUNS; run++) {
    // A fresh set per run: sequence state must not carry over. Run -1 warms the JIT.
    const set = new RuleSet(rules);
    let found = 0;
    const cpuStart = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (const event of events) found += set.evaluate(event).length;
    const elapsed = Number(process.hrtime.bigint() - start);
    const cpu = process.cpuUsage(cpuStart);
    if (run < 0) continue;
    cpuMicros.push(cpu.user + cpu.system);
    wallNs.push(elapsed);
    matches = found;
    evaluations = set.stats().evaluations;
  }
  const micros = median(cpuMicros);
  return {
    rules: rules.length,
    eventsPerSecond: Math.round(events.length / (micros / 1e6)),
    bestEventsPerSecond: Math.round(events.length / (Math.min(...cpuMicros) / 1e6)),
    wallEventsPerSecond: Math.round(events.length / (median(wallNs) / 1e9)),
    microsPerEvent: Number((micros / events.length).toFixed(3)),
    matchesPerRun: matches,
    candidatesPerEvent: Number((evaluations / events.length).toFixed(1)),
  };
}

/**
 * A sequence whose first stage every process start takes, and whose second none does: past the
 * first 10,000 starts its open partials sit at their cap, and every start evicts the oldest. The
 * state a local user fills by starting processes; what one event costs there.
 */
function sequenceAtCap(): LoadedRule {
  const text = [
    '[metadata]',
    'creation_date = "2026/11/30"',
    'maturity = "development"',
    'updated_date = "2026/11/30"',
    '[rule]',
    'author = ["execwarden"]',
    'license = "Apache-2.0"',
    'name = "bench: a sequence held at its cap"',
    'rule_id = "00000000-0000-4000-8000-000000000001"',
    'description = "bench"',
    'risk_score = 21',
    'severity = "low"',
    'type = "eql"',
    'language = "eql"',
    'query = \'\'\'',
    'sequence by process.entity_id with maxspan=5m',
    '  [process where event.type == "start"]',
    '  [process where event.type == "end" and process.exit_code == 137]',
    '\'\'\'',
  ].join('\n');
  const loaded = loadRuleText(text, 'bench-sequence-at-cap.toml');
  if (loaded.rule === null) throw new Error(`bench rule did not load: ${JSON.stringify(loaded.diagnostics)}`);
  return loaded.rule;
}

export async function runEngineBench(): Promise<Record<string, unknown>> {
  const events = execMix(EVENTS, 42);
  const corpus = join(packageRoot(), '..', 'shared', 'corpus');
  const bundled = await loadRules([bundledRulesDir()]);
  const elastic = await loadRules([join(corpus, 'elastic-linux-process'), join(corpus, 'elastic-linux-sequence')]);
  const defend = (await loadRules([join(corpus, 'elastic-defend-linux')])).rules.filter(readsOnlyProcessEvents);
  const figures: Record<string, unknown> = { events: EVENTS, runs: RUNS };
  figures.bundled = measure(bundled.rules, events);
  figures['sequence at its cap'] = measure([sequenceAtCap()], events);
  if (elastic.rules.length > 0) figures.corpus = measure(elastic.rules, events);
  else figures.corpus = `not run: no corpus rules under ${corpus}`;
  if (elastic.rules.length > 0 && defend.length > 0) figures['corpus+defend'] = measure([...elastic.rules, ...defend], events);
  else figures['corpus+defend'] = `not run: no Defend rules under ${corpus}`;
  for (const [label, f] of Object.entries(figures)) {
    if (typeof f !== 'object' || f === null) continue;
    const r = f as RunFigures;
    const verdict = label !== 'bundled' && label !== 'sequence at its cap' ? (r.eventsPerSecond >= TARGET_EVENTS_PER_SECOND ? ' (target >= 100,000: met)' : ' (target >= 100,000: NOT met)') : '';
    process.stdout.write(
      `engine ${label}: ${r.rules} rules, ${r.eventsPerSecond.toLocaleString('en-US')} events/s (CPU time; best run ${r.bestEventsPerSecond.toLocaleString('en-US')}; ${r.wallEventsPerSecond.toLocaleString('en-US')} wall), ${r.microsPerEvent} µs/event, ` +
        `${r.candidatesPerEvent} candidate rules/event, ${r.matchesPerRun} matches per ${EVENTS} events${verdict}\n`,
    );
  }
  return figures;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runEngineBench();
}
