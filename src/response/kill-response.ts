/**
 * The opt-in response: kill the process a rule caught (`[response] kill_process = true`; off by
 * default, when rules' actions are only listed on their alerts).
 *
 * What is killed:
 * - for an Elastic Defend behavior rule, each `[[actions]]` entry with `action = "kill_process"`:
 *   the process named by `field` (`process.entity_id` or `process.parent.entity_id`) in the event
 *   of sequence stage `state`, as Defend does;
 * - for a rule listed in `[response] kill_rules` (any format, by rule id), the process of the event
 *   that completed the match (`process.entity_id`, last stage).
 *
 * How: the entity id names a process by pid and start time. The process table must still hold
 * that entity under the pid, with a start time read from /proc (not estimated); the kill then goes
 * through a pidfd and only if the pid still holds the process with that start time
 * (native/process_kill.h), so a pid handed to another process is never hit.
 *
 * Never killed, whatever a rule says: the agent itself, pid 0, 1 and 2 and kernel threads
 * (children of kthreadd, or PF_KTHREAD), and any executable on `[response] never_kill`
 * (absolute paths, compared with the executable /proc reported at exec). Names are not accepted
 * there: a process can give itself any name.
 *
 * Each attempt is recorded on the alert as an entry of `execwarden.response` (see ResponseOutcome).
 * Defend's behavior alerts carry theirs as `Responses` (elastic/endpoint-package's documentation of
 * the Malicious Behavior alert, logs-endpoint.alerts-*: `Responses.@timestamp`, `.action.action`,
 * `.action.field`, `.action.state`, `.message`, `.process.entity_id|name|pid`, `.result`, a number
 * whose codes it does not document). ECS has no such field, so the same facts sit under
 * execwarden's own namespace, with the result named rather than numbered.
 */
import type { Clock } from '../clock.js';
import type { EqlEvent } from '../eql/index.js';
import type { ProcessEntry } from '../process/process-table.js';
import type { RuleMatch } from '../rules/rule-set.js';
import type { RuleAction } from '../rules/rule-types.js';
import { docField } from '../doc-field.js';

export interface ResponseConfig {
  /** Perform kill_process responses. Off by default. */
  killProcess: boolean;
  /** Rule ids whose matched process is killed although the rule lists no action. */
  killRules: string[];
  /** Absolute executable paths that are never killed. */
  neverKill: string[];
  /**
   * Only processes whose event lists this environment variable in process.env_vars are killed
   * (not a config key: the lab sets it to its marker variable, so that its response check can
   * kill nothing but its own simulations, whatever else on the host its rules catch meanwhile).
   */
  onlyWithEnv?: string;
}

export const DEFAULT_RESPONSE_CONFIG: ResponseConfig = { killProcess: false, killRules: [], neverKill: [] };

/** What the native kill reported (native/process_kill.h). */
export type NativeKillOutcome = 'killed' | 'gone' | 'pid_reused' | 'kernel_thread' | 'unsupported' | 'failed';

/** Every result an attempt can have (a kernel thread is reported as refused). */
export const RESPONSE_RESULTS = ['killed', 'gone', 'pid_reused', 'refused', 'unsupported', 'failed'] as const;
export type ResponseResult = (typeof RESPONSE_RESULTS)[number];

export interface ResponseOutcome {
  action: string;
  field: string;
  state: number;
  /** The process aimed at, when the event named one. */
  target?: { pid: number; entity_id: string; executable?: string };
  /**
   * killed; gone (exited, or no longer under that pid); pid_reused; refused (a protected process:
   * see `reason`); unsupported (no pidfd on this kernel, or an action other than kill_process);
   * failed (see `reason`).
   */
  result: ResponseResult;
  reason?: string;
  /** When the attempt was made (ISO 8601). */
  '@timestamp': string;
}

export interface ResponseDeps {
  /** The process table's entry for a pid. */
  lookup(pid: number): ProcessEntry | undefined;
  /** SIGKILL through a pidfd if `pid` still holds the process that started at `startTicks`. */
  kill(pid: number, startTicks: number): { outcome: NativeKillOutcome; errno: number };
  clock: Clock;
  /** The agent's own pid (never killed). */
  selfPid: number;
}

export interface ResponseStats {
  attempts: number;
  byResult: Record<string, number>;
}

/**
 * Whether the event's process (only it: a parent's environment is not on the event) lists `name`
 * among its process.env_vars ("NAME=value" entries).
 */
function carriesEnv(event: EqlEvent, name: string, field: string): boolean {
  if (field !== 'process.entity_id') return false;
  const vars = docField(event, 'process.env_vars');
  return Array.isArray(vars) && vars.some((v) => typeof v === 'string' && v.startsWith(`${name}=`));
}

/** Pid 2 is kthreadd, the parent of every kernel thread. */
const KTHREADD = 2;

export class Responder {
  private readonly killRules: ReadonlySet<string>;
  private readonly neverKill: ReadonlySet<string>;
  private readonly onlyWithEnv: string | undefined;
  private readonly counts: Record<string, number> = {};
  private attempts = 0;

  constructor(
    config: ResponseConfig,
    private readonly deps: ResponseDeps,
  ) {
    this.killRules = new Set(config.killRules);
    this.neverKill = new Set(config.neverKill);
    this.onlyWithEnv = config.onlyWithEnv;
  }

  /** Performs the responses the match asks for; empty when it asks for none. */
  respond(match: RuleMatch): ResponseOutcome[] {
    const actions: RuleAction[] = [...match.rule.actions];
    if (this.killRules.has(match.rule.ruleId) && !actions.some((a) => a.action === 'kill_process')) {
      actions.push({ action: 'kill_process', field: 'process.entity_id', state: match.events.length - 1 });
    }
    const outcomes: ResponseOutcome[] = [];
    for (const action of actions) {
      const outcome = this.perform(action, match.events);
      this.attempts++;
      this.counts[outcome.result] = (this.counts[outcome.result] ?? 0) + 1;
      outcomes.push(outcome);
    }
    return outcomes;
  }

  stats(): ResponseStats {
    return { attempts: this.attempts, byResult: { ...this.counts } };
  }

  private perform(action: RuleAction, events: readonly EqlEvent[]): ResponseOutcome {
    const base = { action: action.action, field: action.field, state: action.state };
    const outcome = (result: ResponseOutcome['result'], reason?: string, target?: ResponseOutcome['target']): ResponseOutcome => ({
      ...base,
      ...(target ? { target } : {}),
      result,
      ...(reason ? { reason } : {}),
      '@timestamp': new Date(this.deps.clock.nowMs()).toISOString(),
    });
    if (action.action !== 'kill_process') return outcome('unsupported', `execwarden performs only kill_process, not ${action.action}`);
    const event = events[action.state];
    if (!event) return outcome('failed', `the match has no stage ${action.state}`);
    if (!action.field.endsWith('entity_id')) return outcome('failed', `${action.field} does not name a process`);
    const entityId = docField(event, action.field);
    const pid = docField(event, `${action.field.slice(0, -'entity_id'.length)}pid`);
    if (typeof entityId !== 'string' || typeof pid !== 'number' || !Number.isInteger(pid)) {
      return outcome('failed', `the event has no ${action.field} with its pid`);
    }
    const entry = this.deps.lookup(pid);
    const target = { pid, entity_id: entityId, ...(entry?.image.executable ? { executable: entry.image.executable } : {}) };
    if (pid <= KTHREADD) return outcome('refused', `pid ${pid} is never killed`, target);
    if (pid === this.deps.selfPid) return outcome('refused', 'the agent itself is never killed', target);
    if (!entry || entry.entityId !== entityId || entry.exitedAtMs !== null) return outcome('gone', 'the process has exited', target);
    if (entry.ppid === KTHREADD) return outcome('refused', 'kernel threads are never killed', target);
    if (entry.image.executable !== null && this.neverKill.has(entry.image.executable)) {
      return outcome('refused', `${entry.image.executable} is on [response] never_kill`, target);
    }
    if (this.onlyWithEnv !== undefined && !carriesEnv(event, this.onlyWithEnv, action.field)) {
      return outcome('refused', `not a process of this run (no ${this.onlyWithEnv} in its environment)`, target);
    }
    if (entry.startEstimated) return outcome('refused', 'its start time is not known exactly, so the pid could not be checked', target);
    let result: { outcome: NativeKillOutcome; errno: number };
    try {
      result = this.deps.kill(pid, entry.startTicks);
    } catch (error) {
      return outcome('failed', (error as Error).message, target);
    }
    const reasons: Partial<Record<NativeKillOutcome, string>> = {
      pid_reused: 'the pid now belongs to another process',
      kernel_thread: 'kernel threads are never killed',
      unsupported: 'this kernel has no pidfd_open (Linux 5.3), and killing by pid alone could hit another process',
      failed: `errno ${result.errno}`,
    };
    if (result.outcome === 'kernel_thread') return outcome('refused', reasons.kernel_thread, target);
    return outcome(result.outcome, reasons[result.outcome], target);
  }
}
