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
 *
 * Ids are strings (`user.id: "0"`): rules compare them as strings. Fields whose value is unknown
 * are left out rather than written empty. `user`/`group` are the effective ids; `real_user` and
 * `real_group` are written when they differ (setuid programs).
 *
 * Everything written is an ECS field of the same type (test/ecs checks every document against
 * EcsFlat), except the `execwarden.*` namespace, which carries what ECS has no field for:
 *   execwarden.process.args_truncated   the cmdline was longer than the capture cap
 *   execwarden.process.args_lossy       an argument was not valid UTF-8 (decoded with U+FFFD)
 *   execwarden.process.cmdline_base64   the exact cmdline bytes, when args_lossy
 *   execwarden.process.snapshot_missing the exec was seen but /proc was already gone
 *   execwarden.process.snapshot_stale   /proc was read after the process exec'd again: the
 *                                       document describes the later image (a wrapper lost)
 *   execwarden.process.start_estimated  start time (and entity id) from the event timestamp
 *
 * process.interactive is true when the process has a controlling terminal (stat's tty_nr); ECS
 * asks for stdin/stderr on that tty, which /proc cannot tell at exec time.
 */
import type { EcsEvent, EcsGroup, EcsHost, EcsUser } from '@elastic/ecs';
import type { ProcessEntry } from '../process/process-table.js';
import type { ProcessImage } from '../process/process-image.js';
import type { AgentInfo } from './agent.js';
import { ECS_VERSION } from './agent.js';
import type { AccountResolver, HostInfo } from './host.js';
import { isoDate } from './time-base.js';

export type ProcessAction = 'exec' | 'fork' | 'end';

export interface EcsPreviousImage {
  args?: string[];
  args_count?: number;
  executable?: string;
}

export interface EcsLeader {
  pid: number;
  name?: string;
  entity_id?: string;
  start?: string;
}

export interface EcsIdName {
  id: string;
  name?: string;
}

export interface EcsParentProcess {
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
}

export interface EcsProcessFields extends EcsParentProcess {
  tty?: { char_device: { major: number; minor: number } };
  previous?: EcsPreviousImage[];
  parent?: EcsParentProcess;
  session_leader?: EcsLeader;
  group_leader?: EcsLeader;
  real_user?: EcsIdName;
  real_group?: EcsIdName;
  exit_code?: number;
  end?: string;
}

export interface ExecwardenProcessFlags {
  args_truncated?: true;
  args_lossy?: true;
  cmdline_base64?: string;
  snapshot_missing?: true;
  snapshot_stale?: true;
  start_estimated?: true;
}

export interface EcsProcessEvent {
  '@timestamp': string;
  agent: AgentInfo;
  ecs: { version: string };
  event: EcsEvent & {
    kind: 'event';
    category: ['process'];
    type: ['start'] | ['end'];
    action: ProcessAction;
    created: string;
    sequence: number;
  };
  host: EcsHost & HostInfo;
  process: EcsProcessFields;
  user?: EcsUser & EcsIdName;
  group?: EcsGroup & EcsIdName;
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
}

export interface ProcessEventContext {
  host: HostInfo;
  agent: AgentInfo;
  accounts: AccountResolver;
}

/** tty_nr from stat -> device numbers (major in bits 8-15, minor in 0-7 and 20-31). */
export function ttyDevice(ttyNr: number): { major: number; minor: number } {
  return { major: (ttyNr >> 8) & 0xfff, minor: (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00) };
}

function idName(id: number, name: string | undefined): EcsIdName | undefined {
  if (id < 0) return undefined;
  return name === undefined ? { id: String(id) } : { id: String(id), name };
}

/** Assigns the image's known fields to a process-like object. */
function imageFields(image: ProcessImage): Partial<EcsParentProcess> {
  const fields: Partial<EcsParentProcess> = {};
  if (image.name !== null) fields.name = image.name;
  if (image.executable !== null) fields.executable = image.executable;
  if (image.args !== null) {
    fields.args = image.args;
    fields.args_count = image.args.length;
    fields.command_line = image.commandLine ?? image.args.join(' ');
  }
  if (image.workingDirectory !== null) fields.working_directory = image.workingDirectory;
  return fields;
}

function describeProcess(entry: ProcessEntry, accounts: AccountResolver): EcsParentProcess {
  const fields: EcsParentProcess = { pid: entry.pid, ...imageFields(entry.image) };
  fields.entity_id = entry.entityId;
  fields.start = isoDate(entry.startMs);
  fields.interactive = entry.ttyNr !== 0;
  const user = idName(entry.euid, accounts.userName(entry.euid));
  const group = idName(entry.egid, accounts.groupName(entry.egid));
  if (user) fields.user = user;
  if (group) fields.group = group;
  return fields;
}

function leader(entry: ProcessEntry | undefined, pid: number): EcsLeader | undefined {
  if (pid <= 0) return undefined;
  if (!entry) return { pid };
  const fields: EcsLeader = { pid, entity_id: entry.entityId, start: isoDate(entry.startMs) };
  if (entry.image.name !== null) fields.name = entry.image.name;
  return fields;
}

function previousImage(image: ProcessImage): EcsPreviousImage {
  const fields: EcsPreviousImage = {};
  if (image.args !== null) {
    fields.args = image.args;
    fields.args_count = image.args.length;
  }
  if (image.executable !== null) fields.executable = image.executable;
  return fields;
}

function flagsFor(entry: ProcessEntry | null, input: ProcessEventInput): ExecwardenProcessFlags | undefined {
  const flags: ExecwardenProcessFlags = {};
  if (entry?.image.argsTruncated) flags.args_truncated = true;
  if (entry?.image.cmdlineBase64) {
    flags.args_lossy = true;
    flags.cmdline_base64 = entry.image.cmdlineBase64;
  }
  if (input.snapshotMissing) flags.snapshot_missing = true;
  if (input.snapshotStale) flags.snapshot_stale = true;
  if (entry?.startEstimated) flags.start_estimated = true;
  return Object.keys(flags).length > 0 ? flags : undefined;
}

export function buildProcessEvent(input: ProcessEventInput, context: ProcessEventContext): EcsProcessEvent {
  const { entry, action } = input;
  const { accounts } = context;
  const process: EcsProcessFields = entry ? describeProcess(entry, accounts) : { pid: input.pid };
  if (entry) {
    if (entry.ttyNr !== 0) process.tty = { char_device: ttyDevice(entry.ttyNr) };
    const parent = entry.parent;
    if (parent) process.parent = describeProcess(parent, accounts);
    else if (entry.ppid > 0) process.parent = { pid: entry.ppid };
    const session = leader(input.sessionLeader, entry.sid);
    const group = leader(input.groupLeader, entry.pgid);
    if (session) process.session_leader = session;
    if (group) process.group_leader = group;
    if (action === 'exec' && entry.previous.length > 0) process.previous = entry.previous.map(previousImage);
    if (entry.ruid >= 0 && entry.ruid !== entry.euid) {
      process.real_user = idName(entry.ruid, accounts.userName(entry.ruid));
    }
    if (entry.rgid >= 0 && entry.rgid !== entry.egid) {
      process.real_group = idName(entry.rgid, accounts.groupName(entry.rgid));
    }
  }
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
      type: action === 'end' ? ['end'] : ['start'],
      action,
      created: isoDate(input.createdMs),
      sequence: input.sequence,
      module: 'execwarden',
      dataset: 'execwarden.process',
    },
    host: context.host,
    process,
  };
  if (process.user) doc.user = process.user;
  if (process.group) doc.group = process.group;
  const flags = flagsFor(entry, input);
  if (flags) doc.execwarden = { process: flags };
  return doc;
}
