/** Reads an ECS field from a document that may be nested (`process.parent.name` as objects) or flat. */
export function docField(doc: Record<string, unknown>, path: string): unknown {
  if (path in doc) return doc[path];
  let current: unknown = doc;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}
