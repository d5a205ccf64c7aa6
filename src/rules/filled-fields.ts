/**
 * The ECS fields execwarden's process events carry (src/ecs builds them the way Elastic Defend
 * writes Linux process events). A rule that reads a field outside this list can still load, but
 * that part of its query never sees a value here, so the loader warns about it.
 *
 * Keep in step with the ECS builder: a field added there belongs here.
 */
const PROCESS_IDENTITY = ['pid', 'name', 'entity_id'] as const;
const PROCESS_IMAGE = ['executable', 'args', 'args_count', 'command_line'] as const;

function prefixed(prefix: string, names: readonly string[]): string[] {
  return names.map((name) => `${prefix}.${name}`);
}

export const FILLED_FIELDS: ReadonlySet<string> = new Set<string>([
  '@timestamp',
  'message',
  'ecs.version',
  'event.kind',
  'event.category',
  'event.type',
  'event.action',
  'event.created',
  'event.sequence',
  'event.id',
  'event.dataset',
  'event.module',
  'agent.id',
  'agent.name',
  'agent.type',
  'agent.version',
  'host.name',
  'host.hostname',
  'host.id',
  'host.architecture',
  ...prefixed('host.os', ['type', 'kernel', 'name', 'family', 'version', 'platform', 'full']),
  ...prefixed('process', [...PROCESS_IDENTITY, ...PROCESS_IMAGE]),
  ...prefixed('process', ['working_directory', 'start', 'interactive', 'tty', 'exit_code', 'ppid', 'pgid']),
  'process.tty.char_device.major',
  'process.tty.char_device.minor',
  ...prefixed('process.previous', ['args', 'args_count', 'executable']),
  ...prefixed('process.parent', [...PROCESS_IDENTITY, ...PROCESS_IMAGE, 'start']),
  ...prefixed('process.session_leader', PROCESS_IDENTITY),
  ...prefixed('process.group_leader', PROCESS_IDENTITY),
  ...prefixed('process.real_user', ['id', 'name']),
  ...prefixed('process.real_group', ['id', 'name']),
  'user.id',
  'user.name',
  'group.id',
  'group.name',
]);

/** The fields in `fields` that execwarden never fills, sorted. */
export function unfilledFields(fields: Iterable<string>): string[] {
  const missing = new Set<string>();
  for (const field of fields) if (!FILLED_FIELDS.has(field)) missing.add(field);
  return [...missing].sort();
}
