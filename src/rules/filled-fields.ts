/**
 * The ECS fields execwarden's process events carry (src/ecs builds them the way Elastic Defend
 * writes Linux process events). A rule that reads a field outside this list can still load, but
 * that part of its query never sees a value here, so the loader warns about it.
 *
 * Keep in step with the ECS builder (src/ecs/process-event.ts): a field added there belongs here.
 */
const IMAGE = ['name', 'executable', 'args', 'args_count', 'command_line', 'working_directory'] as const;
/** What the builder writes for the process and for its parent (describeProcess). */
const DESCRIBED = ['pid', ...IMAGE, 'entity_id', 'start', 'interactive', 'user.id', 'user.name', 'group.id', 'group.name'] as const;
const LEADER = ['pid', 'name', 'entity_id', 'start'] as const;

function prefixed(prefix: string, names: readonly string[]): string[] {
  return names.map((name) => `${prefix}.${name}`);
}

export const FILLED_FIELDS: ReadonlySet<string> = new Set<string>([
  '@timestamp',
  'ecs.version',
  ...prefixed('event', ['kind', 'category', 'type', 'action', 'created', 'sequence', 'module', 'dataset']),
  ...prefixed('agent', ['id', 'name', 'type', 'version']),
  ...prefixed('host', ['name', 'hostname', 'id', 'architecture']),
  ...prefixed('host.os', ['type', 'kernel', 'name', 'family', 'version', 'platform', 'full']),
  ...prefixed('process', [...DESCRIBED, 'exit_code', 'end', 'tty.char_device.major', 'tty.char_device.minor']),
  ...prefixed('process.previous', ['args', 'args_count', 'executable']),
  ...prefixed('process.parent', DESCRIBED),
  ...prefixed('process.session_leader', LEADER),
  ...prefixed('process.group_leader', LEADER),
  ...prefixed('process.real_user', ['id', 'name']),
  ...prefixed('process.real_group', ['id', 'name']),
  ...prefixed('user', ['id', 'name']),
  ...prefixed('group', ['id', 'name']),
]);
/** The fields in `fields` that execwarden never fills, sorted. */
export function unfilledFields(fields: Iterable<string>): string[] {
  const missing = new Set<string>();
  for (const field of fields) if (!FILLED_FIELDS.has(field)) missing.add(field);
  return [...missing].sort();
}
