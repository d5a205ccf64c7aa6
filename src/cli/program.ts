/**
 * The command-line program: commands and their options, nothing else. Each action lives in its
 * own file and returns an exit status; errors escaping an action are turned into a message and a
 * status in one place (exit.ts). Long-running commands get an AbortSignal tied to SIGINT/SIGTERM.
 * Actions other than `run` and `rules` are imported when their command runs: the agent's process
 * does not hold the lab, the installer or `status` in memory.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { readAgentVersion } from '../ecs/agent.js';
import { exitCodeFor } from './exit.js';
import type { CommandIo } from './io.js';
import { addRuleSelectionOptions, repeatable, ruleSelectionOf, rulesListAction, rulesTestAction, rulesValidateAction, type RuleSelectionFlags } from './rules.js';
import { RULE_SEVERITIES, type RuleFormat, type RuleSeverity } from '../rules/rule-types.js';
import { resolveConfig } from '../agent/config.js';
import { runAction } from './run.js';
import { RESPONSE_BOUND_MS } from '../lab/response-bound.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}


/** Once `run` has stopped: how long the process may still take to exit on its own. */
const RUN_EXIT_GRACE_MS = 500;
let exitBound: number | null = null;

/** Set after `run` returned: the process must be gone within this many ms. Null otherwise. */
export function boundedExitMs(): number | null {
  return exitBound;
}

/** An AbortSignal aborted by the first SIGINT or SIGTERM while the command runs. */
function stopSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

function onSighup(reload: () => void): () => void {
  process.on('SIGHUP', reload);
  return () => process.off('SIGHUP', reload);
}

/**
 * Parses argv, runs the chosen command and resolves to its exit status. `io` replaces the
 * process streams in tests; `exitOverride` keeps commander from exiting the process.
 */
export async function runCli(argv: readonly string[], io: CommandIo): Promise<number> {
  let status = 0;
  const program = new Command('execwarden')
    .description('Catches malicious process launches on Linux: proc connector capture, ECS events, Elastic EQL rules, real-time alerts.')
    .version(readAgentVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)');

  const longRunning = async (action: (signal: AbortSignal) => Promise<number>): Promise<void> => {
    const stop = stopSignal();
    try {
      status = await action(stop.signal);
    } finally {
      stop.dispose();
    }
  };

  const run = program
    .command('run')
    .description('run the agent: capture every program start, evaluate the rules, write alerts (default: bundled rules, NDJSON to stdout)')
    .option('-c, --config <file>', 'TOML config file (default: /etc/execwarden/config.toml when it exists)')
    .option('-r, --rules <path>', 'rule file or folder (repeatable; replaces the configured paths)', repeatable)
    .option('--exceptions <file>', 'exceptions (allow-list) file')
    .option('--pretty', 'one readable, coloured line per alert on stdout')
    .option('--events', 'also write every ECS process event to the outputs')
    .option('--metrics <host:port>', 'serve Prometheus metrics on this address (e.g. 127.0.0.1:9464)')
    .option('--receive-buffer <bytes>', 'proc connector socket receive buffer', positiveInt)
    .option('--no-realtime', 'do not raise the reader thread to SCHED_FIFO')
    .option('--max-processes <n>', 'process table size cap', positiveInt);
  addRuleSelectionOptions(run)
    .action(async (opts: { config?: string; rules?: string[]; exceptions?: string; pretty?: boolean; events?: boolean; metrics?: string; receiveBuffer?: number; realtime: boolean; maxProcesses?: number } & RuleSelectionFlags) => {
      await longRunning((signal) =>
        runAction(
          {
            config: opts.config,
            rules: opts.rules,
            exceptions: opts.exceptions,
            pretty: opts.pretty,
            events: opts.events,
            metrics: opts.metrics,
            receiveBuffer: opts.receiveBuffer,
            // Only an explicit --no-realtime overrides the config file.
            realtime: opts.realtime === false ? false : undefined,
            maxProcesses: opts.maxProcesses,
            // They add to the config file's [rules] selection.
            ...ruleSelectionOf(opts),
          },
          { ...io, signal },
          { onReload: onSighup },
        ),
      );
      exitBound = RUN_EXIT_GRACE_MS;
    });

  program
    .command('capture')
    .description('stream ECS process events, one JSON document per line, until interrupted')
    .option(
      '-a, --actions <list>',
      'event actions to show: exec, fork, end, ptrace, uid_change, gid_change, session_id_change (comma-separated)',
      'exec,fork,end,ptrace,uid_change,gid_change,session_id_change',
    )
    .option('--pretty', 'one readable line per event')
    .option('--receive-buffer <bytes>', 'proc connector socket receive buffer', positiveInt)
    .option('--no-realtime', 'do not raise the reader thread to SCHED_FIFO')
    .action(async (opts: { actions: string; pretty?: boolean; receiveBuffer?: number; realtime: boolean }) => {
      const { captureAction } = await import('./capture.js');
      await longRunning((signal) =>
        captureAction(
          { actions: [opts.actions], pretty: opts.pretty === true, receiveBufferBytes: opts.receiveBuffer, realtime: opts.realtime },
          { ...io, signal },
        ),
      );
    });

  program
    .command('query')
    .description("run an EQL query over ECS events (NDJSON files, or '-' for stdin) and print the matches")
    .argument('<eql>', 'the EQL query')
    .argument('[files...]', "NDJSON files ('-' or none: stdin)")
    .action(async (eql: string, files: string[]) => {
      status = (await (await import('./query.js')).queryAction({ query: eql, files }, io)).exitCode;
    });

  const replay = program
    .command('replay')
    .description('run a rule set over recorded ECS events and print the alerts as NDJSON')
    .option('-r, --rules <path>', 'rule file or folder (repeatable; default: the bundled rules)', repeatable)
    .option('--exceptions <file>', 'exceptions (allow-list) file')
    .argument('<files...>', "NDJSON event files ('-' for stdin)");
  addRuleSelectionOptions(replay)
    .action(async (files: string[], opts: { rules?: string[]; exceptions?: string } & RuleSelectionFlags) => {
      // Read the way run reads them: each name checked (empty, too long, control characters).
      const selection = resolveConfig({}, null, ruleSelectionOf(opts)).rules.selection;
      status = (await (await import('./replay.js')).replayAction({ files, rules: opts.rules ?? [], exceptions: opts.exceptions, selection }, io)).exitCode;
    });

  const rules = program.command('rules').description('check, list and test detection rules');
  rules
    .command('validate')
    .description('load rule files and print every error and warning (exit 1 on any error)')
    .option('--exceptions <file>', 'also validate this exceptions file against the rules')
    .argument('[paths...]', 'rule files or folders (default: the bundled rules)')
    .action(async (paths: string[], opts: { exceptions?: string }) => {
      status = (await rulesValidateAction({ paths, exceptions: opts.exceptions }, io)).exitCode;
    });
  const rulesList = rules
    .command('list')
    .description('list rules: id, name, severity, tactics; rules the selection leaves out are marked')
    .option('--json', 'one JSON object per rule')
    .option('-c, --config <file>', "start from this config file's [rules]: paths (unless given), Defend severity, rule selection")
    .option('--id <id>', 'show only this rule (repeatable)', repeatable)
    .option('--tag <tag>', 'show only rules carrying this tag (repeatable)', repeatable)
    .addOption(new Option('--severity <level>', 'show only rules at least this severe').choices(RULE_SEVERITIES))
    .addOption(new Option('--format <format>', 'show only rules of this format').choices(['detection-rules', 'defend']))
    .argument('[paths...]', 'rule files or folders (default: the bundled rules)');
  addRuleSelectionOptions(rulesList)
    .action(async (paths: string[], opts: { json?: boolean; config?: string; id?: string[]; tag?: string[]; severity?: RuleSeverity; format?: RuleFormat } & RuleSelectionFlags) => {
      const filters = {
        ...(opts.id === undefined ? {} : { ids: opts.id }),
        ...(opts.tag === undefined ? {} : { tags: opts.tag }),
        ...(opts.severity === undefined ? {} : { minSeverity: opts.severity }),
        ...(opts.format === undefined ? {} : { format: opts.format }),
      };
      status = (await rulesListAction({ paths, json: opts.json === true, config: opts.config, ...filters, ...ruleSelectionOf(opts) }, io)).exitCode;
    });
  const rulesTest = rules
    .command('test')
    .description("run each rule's test cases (of the rules the selection keeps)")
    .option('-c, --config <file>', "start from this config file's [rules]: paths (unless given), Defend severity, rule selection")
    .argument('[paths...]', 'rule files or folders (default: the bundled rules)');
  addRuleSelectionOptions(rulesTest)
    .action(async (paths: string[], opts: { config?: string } & RuleSelectionFlags) => {
      status = (await rulesTestAction({ paths, config: opts.config, ...ruleSelectionOf(opts) }, io)).exitCode;
    });

  program
    .command('simulate')
    .description('launch harmless simulated reverse shells against a listener on 127.0.0.1')
    .option('-l, --list', 'list the simulations')
    .argument('[names...]', 'simulations to run (default: all)')
    .action(async (names: string[], opts: { list?: boolean }) => {
      status = (await (await import('./simulate.js')).simulateAction({ list: opts.list === true, names }, io)).exitCode;
    });

  program
    .command('lab')
    .description('self-test: run every simulation against the live pipeline and check what is caught')
    .option('--storm', 'repeat the run under a background exec storm')
    .option('--json', 'print the result table as JSON')
    .option('--response', `then check the kill response: reverse shells against an agent with [response] kill_process on, each killed within ${RESPONSE_BOUND_MS} ms of its exec`)
    .option('-r, --rules <path>', 'rule file or folder (repeatable; default: the bundled rules)', repeatable)
    .argument('[names...]', 'simulations to run (default: all)')
    .action(async (names: string[], opts: { storm?: boolean; json?: boolean; response?: boolean; rules?: string[] }) => {
      const { labAction } = await import('./lab.js');
      const { createLiveDetector } = await import('../agent/lab-detector.js');
      const result = await labAction(
        { storm: opts.storm === true, json: opts.json === true, response: opts.response === true, names },
        io,
        {
          createDetector: () => createLiveDetector({ rules: opts.rules }),
          createResponseDetector: (killRules) =>
            createLiveDetector({ rules: opts.rules, response: { killProcess: true, killRules, neverKill: [] } }),
        },
      );
      status = result.exitCode;
    });

  program
    .command('status')
    .alias('doctor')
    .description('say whether this host is protected: kernel, privileges, service, counters, config, rules, outputs (exit 0 only when protected)')
    .option('--json', 'print the report as JSON')
    .option('-c, --config <file>', "judge this config file (default: the service's, else /etc/execwarden/config.toml when it exists)")
    .option('--no-probe', 'do not subscribe to the proc connector for a moment to prove it works')
    .action(async (opts: { json?: boolean; config?: string; probe: boolean }) => {
      status = (await (await import('./status.js')).statusAction({ json: opts.json === true, config: opts.config, probe: opts.probe }, io)).exitCode;
    });

  program
    .command('install')
    .description('install the systemd service, default config and rules (root)')
    .option('-n, --dry-run', 'print the plan and change nothing')
    .action(async (opts: { dryRun?: boolean }) => {
      status = (await (await import('./install.js')).installAction({ dryRun: opts.dryRun === true }, io)).exitCode;
    });

  program
    .command('uninstall')
    .description('stop and remove the systemd service (root); keeps config and logs')
    .option('-n, --dry-run', 'print the plan and change nothing')
    .action(async (opts: { dryRun?: boolean }) => {
      status = (await (await import('./install.js')).uninstallAction({ dryRun: opts.dryRun === true }, io)).exitCode;
    });

  try {
    await program.parseAsync(argv as string[], { from: 'node' });
  } catch (error) {
    return exitCodeFor(error, io.stderr);
  }
  return status;
}
