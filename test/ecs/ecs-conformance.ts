/**
 * Checks a document against the official ECS field definitions (EcsFlat from @elastic/ecs):
 * every leaf is an ECS field with a value of its type, arrays only where ECS says the field is
 * an array, allowed values respected. `execwarden.*` is the one custom namespace allowed, besides
 * the few Elastic Defend extension fields listed here.
 * process.previous is an array of objects (ECS reuses process as process.previous with
 * normalize: array; EcsFlat lists its leaves).
 */
import { EcsFlat } from '@elastic/ecs';

interface FieldDef {
  type: string;
  normalize?: string[];
  allowed_values?: Array<{ name: string }>;
}

/**
 * Elastic Defend's own extensions, written because Defend's events carry them and its rules read
 * them (elastic/endpoint-package custom_schemas: custom_user.yml, custom_group.yml; process.Ext).
 */
const DEFEND_EXTENSIONS: Record<string, FieldDef> = {
  'user.Ext.real.id': { type: 'keyword' },
  'user.Ext.real.name': { type: 'keyword' },
  'group.Ext.real.id': { type: 'keyword' },
  'group.Ext.real.name': { type: 'keyword' },
  'process.Ext.memfd.name': { type: 'keyword' },
  'process.Ext.ptrace.child_pid': { type: 'long' },
};

const fields = { ...(EcsFlat as unknown as Record<string, FieldDef>), ...DEFEND_EXTENSIONS };
const OBJECT_ARRAYS = new Set(['process.previous']);
const CUSTOM_PREFIX = 'execwarden.';

function typeMatches(type: string, value: unknown): boolean {
  switch (type) {
    case 'keyword':
    case 'wildcard':
    case 'match_only_text':
    case 'constant_keyword':
    case 'ip':
      return typeof value === 'string';
    case 'date':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value)) && /^\d{4}-\d\d-\d\dT/.test(value);
    case 'long':
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'float':
    case 'double':
    case 'scaled_float':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    default:
      return false;
  }
}

/** Returns a list of problems; empty when the document conforms. */
export function ecsProblems(doc: unknown): string[] {
  const problems: string[] = [];
  const visit = (value: unknown, path: string): void => {
    if (path.startsWith(CUSTOM_PREFIX)) {
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        for (const [k, v] of Object.entries(value)) visit(v, `${path}.${k}`);
      } else if (Array.isArray(value) ? !value.every((v) => typeof v === 'string') : !['string', 'number', 'boolean'].includes(typeof value)) {
        problems.push(`${path}: custom field must be a scalar`);
      }
      return;
    }
    if (Array.isArray(value)) {
      if (OBJECT_ARRAYS.has(path)) {
        value.forEach((item) => {
          if (item === null || typeof item !== 'object' || Array.isArray(item)) problems.push(`${path}: expected objects`);
          else for (const [k, v] of Object.entries(item)) visit(v, `${path}.${k}`);
        });
        return;
      }
      const def = fields[path];
      if (!def) problems.push(`${path}: not an ECS field`);
      else if (!def.normalize?.includes('array')) problems.push(`${path}: ECS field is not an array`);
      else value.forEach((item) => checkLeaf(item, path, def));
      return;
    }
    if (value !== null && typeof value === 'object') {
      if (fields[path]?.type === 'object' && Object.keys(value).length === 0) return;
      for (const [k, v] of Object.entries(value)) visit(v, path === '' ? k : `${path}.${k}`);
      return;
    }
    const def = fields[path];
    if (!def) problems.push(`${path}: not an ECS field`);
    else checkLeaf(value, path, def);
  };
  const checkLeaf = (value: unknown, path: string, def: FieldDef): void => {
    if (!typeMatches(def.type, value)) problems.push(`${path}: ${JSON.stringify(value)} is not ${def.type}`);
    if (def.allowed_values && !def.allowed_values.some((v) => v.name === value)) {
      problems.push(`${path}: ${JSON.stringify(value)} is not an allowed value`);
    }
  };
  visit(doc, '');
  return problems;
}
