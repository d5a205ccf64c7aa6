/**
 * Checks a document against ECS's field definitions (EcsFlat from @elastic/ecs): every leaf must
 * be an ECS field, its value of the field's type, and an array only where ECS expects one.
 * Paths under a custom namespace given in `customPrefixes` are left out, as ECS allows.
 */
import { EcsFlat } from '@elastic/ecs';

type FieldDef = { type: string; normalize: string[] };
const FIELDS = EcsFlat as unknown as Record<string, FieldDef>;

function typeFits(type: string, value: unknown): boolean {
  switch (type) {
    case 'keyword': case 'wildcard': case 'constant_keyword': case 'match_only_text': case 'text': case 'ip':
      return typeof value === 'string';
    case 'long': case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'float': case 'double': case 'scaled_float':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'date':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value)) && /^\d{4}-\d{2}-\d{2}T/.test(value);
    default:
      return false;
  }
}

export function ecsProblems(doc: Record<string, unknown>, customPrefixes: string[] = []): string[] {
  const problems: string[] = [];
  const visit = (value: unknown, path: string): void => {
    if (customPrefixes.some((p) => path === p || path.startsWith(`${p}.`))) return;
    const def = FIELDS[path];
    if (def !== undefined && (def.type === 'flattened' || def.type === 'object' || def.type === 'nested')) return;
    if (Array.isArray(value)) {
      if (value.length > 0 && value.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v))) {
        for (const v of value) visit(v, path);
        return;
      }
      if (def === undefined) problems.push(`${path}: not an ECS field`);
      else if (!def.normalize.includes('array')) problems.push(`${path}: ECS does not expect an array`);
      else for (const v of value) if (!typeFits(def.type, v)) problems.push(`${path}: ${JSON.stringify(v)} is not ${def.type}`);
      return;
    }
    if (typeof value === 'object' && value !== null) {
      for (const [key, child] of Object.entries(value)) visit(child, path === '' ? key : `${path}.${key}`);
      return;
    }
    if (def === undefined) problems.push(`${path}: not an ECS field`);
    else if (!typeFits(def.type, value)) problems.push(`${path}: ${JSON.stringify(value)} is not ${def.type}`);
  };
  visit(doc, '');
  return problems;
}
