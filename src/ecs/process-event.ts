/**
 * ECS process documents shaped like Elastic Defend's Linux process events, so that Elastic's
 * detection rules match them unmodified:
 *
 * - exec: event.type ["start"], event.action "exec", process.previous = the images this pid ran
 *   before (the image inherited at fork first, then earlier execs; only args, args_count and
 *   executable, as Defend writes them).
 * - fork: event.type ["start"], event.action "fork"; process is the child, still running its
 *   parent's image.
 * - end: event.type ["end"], event.action "end", process.exit_code and process.end.
 * - uid_change, gid_change, session_id_change: event.type ["change"]; the process as it is after
 *   the change (user/group are the new effective ids). The proc connector reports setuid/setgid
 *   (new real and effective ids) and setsid; Elastic's rules and Defend's behavior rules read these
 *   actions (`event.type == "change" and event.action == "uid_change" and user.id == "0"`).
 * - ptrace: event.type ["start"], event.action "ptrace"; process is the tracer and
 *   process.Ext.ptrace.child_pid the process it attached to (Defend's behavior rule
 *   credential_access_potential_credential_access_via_ptrace reads exactly these; the proc
 *   connector reports attaches with the tracer's pid, detaches with 0, which are not written).
 *
 * Ids are strings (`user.id: "0"`): rules compare them as strings. Fields whose value is unknown
 * are left out rather than written empty, but a known value is always written, even when it
 * equals another: Elastic Defend always writes real, effective and saved ids, and a rule such as
 * `process.user.id == "0" and process.real_user.id != "0"` turns into a false alert when the
 * real id is missing (EQL's `!=` on a missing field is true).
 *
 * Identities (process, parent and every leader): `user`/`group` are the effective ids,
 * `real_user`/`real_group` and `saved_user`/`saved_group` the others. At the top level: `user`
 * and `group` (effective), `user.effective` (ECS), and Elastic Defend's `user.Ext.real` and
 * `group.Ext.real` (endpoint-package custom_schemas: "User info prior to any setuid
 * operations"), written the way Defend's events carry them.
 *
 * Session data (entry-leader.ts): `process.entry_leader` with `entry_meta.type` and, for ssh
 * sessions, `entry_meta.source.ip`; `session_leader` and `group_leader` described in full
 * (executable, args, identities, tty) with `same_as_process`; `parent.group_leader` (pid,
 * entity_id, start: what ECS has for it; ECS has no `parent.session_leader`). `interactive` is
 * true when the process has a controlling terminal of a known kind (Beats' rule; ECS asks for
 * stdin/stderr on that tty, which /proc cannot tell at exec time).
 *
 * Also: `process.thread.capabilities.effective/permitted` (names), `process.env_vars` (the
 * configured allow-list only), `container.id` and `container.security_context.privileged` (the
 * container keeps every capability in its bounding set), Defend's `process.Ext.memfd.name`.
 *
 * Everything written is an ECS field of the same type (test/ecs checks every document against
 * EcsFlat), except Defend's `Ext` fields above and the `execwarden.*` namespace, which carries
 * what ECS has no field for:
 *   execwarden.process.args_truncated   the cmdline was longer than the capture cap (args keeps
 *                                       what fits; args_count still counts every argument)
 *   execwarden.process.args_count_lower_bound  counting past the cap stopped at 16 MiB
 *   execwarden.process.args_cut_at      where in args the middle of a cut argv went: the args
 *                                       before are its head, from there on its end
 *   execwarden.process.args_lossy       an argument was not valid UTF-8 (decoded with U+FFFD)
 *   execwarden.process.cmdline_base64   the exact cmdline bytes, when args_lossy
 *   execwarden.process.snapshot_missing the exec was seen but /proc was already gone
 *   execwarden.process.snapshot_stale   /proc was read after the process exec'd again: the
 *                                       document describes the later image (a wrapper lost)
 *   execwarden.process.start_estimated  start time (and entity id) from the event timestamp
 *   execwarden.process.env_truncated    environ was longer than the scan cap, or a kept
 *                                       variable or the number kept was cut
 *   execwarden.process.executable_deleted the executable's file was deleted (or is a memfd)
 *   execwarden.process.comm_renamed     the process renamed itself before it was read; its
 *                                       name comes from the executable
 *   execwarden.process.recovered        found by a /proc rescan after a loss, not seen at its exec
 *                                       (the time is the rescan's)
 *   execwarden.process.stdio.{stdin,stdout,stderr}  what fds 0-2 were at this exec (socket,
 *                                       pipe, tty, file, ...; a socket's family and addresses)
 *   execwarden.process.parent.stdio.*   the parent's fds 0-2 at the same moment (exec events only;
 *                                       see src/process/stdio.ts)
 */
import type { EcsEvent, EcsHost } from '@elastic/ecs';
import { capabilityNames, hasEveryCapability } from '../process/capabilities.js';
import { envForOutput, sshClientIp } from '../process/environment.js';
import { ttyDevice, ttyKind, type EntryType } from '../process/entry-leader.js';
import { stdioForOutput, type EcsStdio } from '../process/stdio.js';
import type { ProcessEntry } from '../process/process-table.js';
import type { ProcessImage } from '../process/process-image.js';
import type { AgentInfo } from './agent.js';
import { ECS_VERSION } from './agent.js';
import type { AccountResolver, HostInfo } from './host.js';
import { isoDate } from './time-base.js';

export { ttyDevice };

export type ProcessAction = 'exec' | 'fork' | 'end' | 'ptrace' | 'uid_change' | 'gid_change' | 'session_id_change';

/** The actions that describe a change of a running process (event.type ["change"]). */
const CHANGE_ACTIONS: ReadonlySet<ProcessAction> = new Set<ProcessAction>(['uid_change', 'gid_change', 'session_id_change']);

/** event.type of an action's documents. */
export function eventTypeOf(action: ProcessAction): ['start'] | ['end'] | ['change'] {
  return action === 'end' ? ['end'] : CHANGE_ACTIONS.has(action) ? ['change'] : ['start'];
}

export interface EcsPreviousImage {
  args?: string[];
  args_count?: number;
  executable?: string;
}

export interface EcsIdName {
  id: string;
  name?: string;
}

export interface EcsTty {
  char_device: { major: number; minor: number };
}

/** What ECS lets every described process carry (process, parent, leaders). */
export interface EcsDescribedProcess {
  pid: number;
  name?: string;
  executable?: string;
  args?: string[];
  args_count?: number;
  command_line?: string;
  entity_id?: string;
  start?: string;
  interactive?: boolean;
  working_directory?: string;
  user?: EcsIdName;
  group?: EcsIdName;
  real_user?: EcsIdName;
  real_group?: EcsIdName;
  saved_user?: EcsIdName;
  saved_group?: EcsIdName;
  tty?: EcsTty;
}

export interface EcsLeader extends EcsDescribedProcess {
  same_as_process?: boolean;
}

export interface EcsEntryLeader extends EcsLeader {
  entry_meta?: { type: EntryType; source?: { ip: string } };
}

export interface EcsCapabilities {
  capabilities: { effective?: string[]; permitted?: string[] };
}

export interface EcsParentProcess extends EcsDescribedProcess {
  thread?: EcsCapabilities;
  group_leader?: { pid: number; entity_id?: string; start?: string };
}

export interface EcsProcessFields extends EcsDescribedProcess {
  thread?: EcsCapabilities;
  env_vars?: string[];
  previous?: EcsPreviousImage[];
  parent?: EcsParentProcess;
  session_leader?: EcsLeader;
  group_leader?: EcsLeader;
  entry_leader?: EcsEntryLeader;
  exit_code?: number;
  end?: string;
  /** Elastic Defend's extensions (endpoint-package custom schemas). */
  Ext?: { memfd?: { name: string }; ptrace?: { child_pid: number } };
}

export interface ExecwardenProcessFlags {
  args_truncated?: true;
  args_count_lower_bound?: true;
  args_cut_at?: number;
  args_lossy?: true;
  cmdline_base64?: string;
  snapshot_missing?: true;
  snapshot_stale?: true;
  start_estimated?: true;
  env_truncated?: true;
  executable_deleted?: true;
  comm_renamed?: true;
  recovered?: true;
  /** The standard streams at this exec (src/process/stdio.ts). */
  stdio?: EcsStdio;
  parent?: { stdio: EcsStdio };
}

export interface EcsTopUser extends EcsIdName {
  effective?: EcsIdName;
  /** Elastic Defend's extension: the real id ("prior to any setuid operations"). */
  Ext?: { real: EcsIdName };
}

export interface EcsTopGroup extends EcsIdName {
  Ext?: { real: EcsIdName };
}

export interface EcsContainer {
  id: string;
  security_context?: { privileged: boolean };
}

export interface EcsProcessEvent {
  '@timestamp': string;
  agent: AgentInfo;
  ecs: { version: string };
  event: EcsEvent & {
    kind: 'event';
    category: ['process'];
    type: ['start'] | ['end'] | ['change'];
    action: ProcessAction;
    created: string;
    sequence: number;
  };
  host: EcsHost & HostInfo;
  process: EcsProcessFields;
  user?: EcsTopUser;
  group?: EcsTopGroup;
  container?: EcsContainer;
  execwarden?: { process: ExecwardenProcessFlags };
}

export interface ProcessEventInput {
  action: ProcessAction;
  /** The subject; null for an exit of a process the table never knew. */
  entry: ProcessEntry | null;
  pid: number;
  timestampMs: number;
  createdMs: number;
  sequence: number;
  /** The exec had no usable /proc snapshot. */
  snapshotMissing?: boolean;
  snapshotStale?: boolean;
  exitCode?: number | null;
  sessionLeader?: ProcessEntry;
  groupLeader?: ProcessEntry;
  /** The parent's group leader, when the parent is known. */
  parentGroupLeader?: ProcessEntry;
  /** ptrace: the process the subject attached to. */
  ptraceChildPid?: number;
  /** Found by a /proc rescan after a loss, not seen at its exec. */
  recovered?: boolean;
}

export interface ProcessEventContext {
  host: HostInfo;
  agent: AgentInfo;
  accounts: AccountResolver;
  /** Environment variable names written to process.env_vars. Default: none. */
  envVars?: ReadonlySet<string>;
  /** Highest capability bit of this kernel (/proc/sys/kernel/cap_last_cap). Default 40. */
  capabilityLastBit?: number;
}

const DEFAULT_CAPABILITY_LAST_BIT = 40;
const NO_ENV_VARS: ReadonlySet<string> = new Set();

function idName(id: number, name: string | undefined): EcsIdName | undefined {
  if (id < 0) return undefined;
  return name === undefined ? { id: String(id) } : { id: String(id), name };
}

/** Assigns the image's known fields to a process-like object. */
function imageFields(image: ProcessImage, fields: EcsDescribedProcess): void {
  if (image.name !== null) fields.name = image.name;
  if (image.executable !== null) fields.executable = image.executable;
  if (image.args !== null) {
    fields.args = image.args;
    fields.args_count = image.argsCount ?? image.args.length;
    fields.command_line = image.commandLine ?? image.args.join(' ');
  }
  if (image.workingDirectory !== null) fields.working_directory = image.workingDirectory;
}

/**
 * The fields every described process carries. One event describes the same entry up to four
 * times (process, parent, leaders): `memo` builds each once per event; callers copy before adding.
 */
function describeProcess(entry: ProcessEntry, accounts: AccountResolver, memo: Map<ProcessEntry, EcsDescribedProcess>): EcsDescribedProcess {
  const known = memo.get(entry);
  if (known) return known;
  const fields: EcsDescribedProcess = { pid: entry.pid };
  imageFields(entry.image, fields);
  fields.entity_id = entry.entityId;
  fields.start = isoDate(entry.startMs);
  fields.interactive = ttyKind(entry.ttyNr) !== 'none';
  const user = idName(entry.euid, accounts.userName(entry.euid));
  const group = idName(entry.egid, accounts.groupName(entry.egid));
  const realUser = idName(entry.ruid, accounts.userName(entry.ruid));
  const realGroup = idName(entry.rgid, accounts.groupName(entry.rgid));
  const savedUser = idName(entry.suid, accounts.userName(entry.suid));
  const savedGroup = idName(entry.sgid, accounts.groupName(entry.sgid));
  if (user) fields.user = user;
  if (group) fields.group = group;
  if (realUser) fields.real_user = realUser;
  if (realGroup) fields.real_group = realGroup;
  if (savedUser) fields.saved_user = savedUser;
  if (savedGroup) fields.saved_group = savedGroup;
  if (entry.ttyNr !== 0) fields.tty = { char_device: ttyDevice(entry.ttyNr) };
  memo.set(entry, fields);
  return fields;
}

function capabilities(entry: ProcessEntry): EcsCapabilities | undefined {
  const effective = capabilityNames(entry.capEffective);
  const permitted = capabilityNames(entry.capPermitted);
  if (effective === null && permitted === null) return undefined;
  const caps: EcsCapabilities['capabilities'] = {};
  if (effective !== null) caps.effective = effective as string[];
  if (permitted !== null) caps.permitted = permitted as string[];
  return { capabilities: caps };
}

function leader(
  entry: ProcessEntry | undefined,
  pid: number,
  subject: ProcessEntry,
  accounts: AccountResolver,
  memo: Map<ProcessEntry, EcsDescribedProcess>,
): EcsLeader | undefined {
  if (pid <= 0) return undefined;
  if (!entry) return { pid };
  return { ...describeProcess(entry, accounts, memo), same_as_process: entry === subject };
}

function entryLeader(subject: ProcessEntry, accounts: AccountResolver, memo: Map<ProcessEntry, EcsDescribedProcess>): EcsEntryLeader | undefined {
  const entry = subject.entryLeader;
  if (entry === null || subject.entryType === null) return undefined;
  const fields: EcsEntryLeader = { ...describeProcess(entry, accounts, memo), same_as_process: entry === subject };
  const meta: NonNullable<EcsEntryLeader['entry_meta']> = { type: subject.entryType };
  if (subject.entryType === 'sshd') {
    const ip = sshClientIp(entry.image.env);
    if (ip !== null) meta.source = { ip };
  }
  fields.entry_meta = meta;
  return fields;
}

function previousImage(image: ProcessImage): EcsPreviousImage {
  const fields: EcsPreviousImage = {};
  if (image.args !== null) {
    fields.args = image.args;
    fields.args_count = image.argsCount ?? image.args.length;
  }
  if (image.executable !== null) fields.executable = image.executable;
  return fields;
}

function flagsFor(entry: ProcessEntry | null, input: ProcessEventInput): ExecwardenProcessFlags | undefined {
  const flags: ExecwardenProcessFlags = {};
  if (entry?.image.argsTruncated) flags.args_truncated = true;
  if (entry?.image.argsCountLowerBound) flags.args_count_lower_bound = true;
  if (entry?.image.argsCutAt !== null && entry?.image.argsCutAt !== undefined) flags.args_cut_at = entry.image.argsCutAt;
  if (entry?.image.cmdlineBase64) {
    flags.args_lossy = true;
    flags.cmdline_base64 = entry.image.cmdlineBase64;
  }
  if (input.snapshotMissing) flags.snapshot_missing = true;
  if (input.snapshotStale) flags.snapshot_stale = true;
  if (entry?.startEstimated) flags.start_estimated = true;
  if (entry?.image.envTruncated) flags.env_truncated = true;
  if (entry?.image.executableDeleted) flags.executable_deleted = true;
  if (entry?.image.commRenamed) flags.comm_renamed = true;
  if (input.recovered) flags.recovered = true;
  if (entry && input.action === 'exec') {
    const stdio = stdioForOutput(entry.image.stdio);
    if (stdio) flags.stdio = stdio;
    const parentStdio = stdioForOutput(entry.image.parentStdio);
    if (parentStdio) flags.parent = { stdio: parentStdio };
  }
  return Object.keys(flags).length > 0 ? flags : undefined;
}

function describeSubject(entry: ProcessEntry, input: ProcessEventInput, context: ProcessEventContext): EcsProcessFields {
  const { accounts } = context;
  const memo = new Map<ProcessEntry, EcsDescribedProcess>();
  const process: EcsProcessFields = { ...describeProcess(entry, accounts, memo) };
  const thread = capabilities(entry);
  if (thread) process.thread = thread;
  if (entry.image.env !== null) {
    const env = envForOutput(entry.image.env, context.envVars ?? NO_ENV_VARS);
    if (env.length > 0) process.env_vars = env;
  }
  if (entry.image.memfdName !== null) process.Ext = { memfd: { name: entry.image.memfdName } };
  if (input.ptraceChildPid !== undefined) process.Ext = { ...process.Ext, ptrace: { child_pid: input.ptraceChildPid } };
  const parent = entry.parent;
  if (parent) {
    const fields: EcsParentProcess = { ...describeProcess(parent, accounts, memo) };
    const parentThread = capabilities(parent);
    if (parentThread) fields.thread = parentThread;
    const parentGroup = input.parentGroupLeader;
    if (parentGroup) fields.group_leader = { pid: parentGroup.pid, entity_id: parentGroup.entityId, start: isoDate(parentGroup.startMs) };
    else if (parent.pgid > 0) fields.group_leader = { pid: parent.pgid };
    process.parent = fields;
  } else if (entry.ppid > 0) {
    process.parent = { pid: entry.ppid };
  }
  const session = leader(input.sessionLeader, entry.sid, entry, accounts, memo);
  const group = leader(input.groupLeader, entry.pgid, entry, accounts, memo);
  const entryFields = entryLeader(entry, accounts, memo);
  if (session) process.session_leader = session;
  if (group) process.group_leader = group;
  if (entryFields) process.entry_leader = entryFields;
  if (input.action === 'exec' && entry.previous.length > 0) process.previous = entry.previous.map(previousImage);
  return process;
}

/**
 * The few fields of an event's document that the rule index reads before anything else (its
 * memo fields: event category, type and action, host.os.type, the names and executables of the
 * process and its parent, user.id), with exactly the values buildProcessEvent writes for them
 * and nothing else. When no rule could take an event with these values, no rule can take its
 * document, so the document need not be built (most execs of a busy host: a compiler run by
 * make is no shell, no interpreter, no network tool). test/ecs/event-probe.test.ts holds the
 * two to the same values.
 */
export interface ProcessEventProbe {
  event: { kind: 'event'; category: ['process']; type: ['start'] | ['end'] | ['change']; action: ProcessAction };
  host: HostInfo;
  process: { name?: string; executable?: string; parent?: { name?: string; executable?: string } };
  user?: { id: string };
}

function probeNames(image: ProcessImage): { name?: string; executable?: string } {
  const names: { name?: string; executable?: string } = {};
  if (image.name !== null) names.name = image.name;
  if (image.executable !== null) names.executable = image.executable;
  return names;
}

/** A probe's `event` part, one per action (probes only read it). */
const PROBE_EVENTS = new Map<ProcessAction, ProcessEventProbe['event']>();

export function processEventProbe(action: ProcessAction, entry: ProcessEntry | null, host: HostInfo): ProcessEventProbe {
  let event = PROBE_EVENTS.get(action);
  if (event === undefined) {
    event = Object.freeze({ kind: 'event', category: Object.freeze(['process']), type: Object.freeze(eventTypeOf(action)), action }) as ProcessEventProbe['event'];
    PROBE_EVENTS.set(action, event);
  }
  const probe: ProcessEventProbe = { event, host, process: entry ? probeNames(entry.image) : {} };
  if (entry) {
    if (entry.parent) probe.process.parent = probeNames(entry.parent.image);
    if (entry.euid >= 0) probe.user = { id: String(entry.euid) };
  }
  return probe;
}

export function buildProcessEvent(input: ProcessEventInput, context: ProcessEventContext): EcsProcessEvent {
  const { entry, action } = input;
  const process: EcsProcessFields = entry ? describeSubject(entry, input, context) : { pid: input.pid };
  if (!entry && input.ptraceChildPid !== undefined) process.Ext = { ptrace: { child_pid: input.ptraceChildPid } };
  if (action === 'end') {
    if (input.exitCode !== undefined && input.exitCode !== null) process.exit_code = input.exitCode;
    process.end = isoDate(input.timestampMs);
  }

  const doc: EcsProcessEvent = {
    '@timestamp': isoDate(input.timestampMs),
    agent: context.agent,
    ecs: { version: ECS_VERSION },
    event: {
      kind: 'event',
      category: ['process'],
      type: eventTypeOf(action),
      action,
      created: isoDate(input.createdMs),
      sequence: input.sequence,
      module: 'execwarden',
      dataset: 'execwarden.process',
    },
    host: context.host,
    process,
  };
  if (process.user) {
    const user: EcsTopUser = { ...process.user, effective: { ...process.user } };
    if (process.real_user) user.Ext = { real: process.real_user };
    doc.user = user;
  }
  if (process.group) {
    const group: EcsTopGroup = { ...process.group };
    if (process.real_group) group.Ext = { real: process.real_group };
    doc.group = group;
  }
  if (entry?.containerId) {
    doc.container = { id: entry.containerId };
    if (entry.capBounding >= 0) {
      const lastBit = context.capabilityLastBit ?? DEFAULT_CAPABILITY_LAST_BIT;
      doc.container.security_context = { privileged: hasEveryCapability(entry.capBounding, lastBit) };
    }
  }
  const flags = flagsFor(entry, input);
  if (flags) doc.execwarden = { process: flags };
  return doc;
}
