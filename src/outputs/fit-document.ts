/**
 * Makes a document fit an output's size limit instead of losing it: a syslog datagram holds at
 * most 65,000 bytes, and journald splits a stdout line longer than its LineMax (48 KiB). An alert
 * on a process with a huge argv would otherwise vanish, or arrive as two broken halves.
 *
 * The longest strings and string arrays are shortened first, each keeping its head and its tail
 * with a marker in the middle saying how much was cut (a payload hidden behind padding sits at the
 * end of a command line, so the tail matters as much as the head); arrays keep their first and
 * last elements around one marker element. Rounds repeat until the JSON fits, with a smaller share
 * kept each round. The document is copied, never changed: other outputs still get it whole. The
 * copy says what happened in `execwarden.output`: `shortened` (the dotted paths cut) and
 * `original_bytes`.
 */
import { toJsonLine } from './json-line.js';

const MARKER_PREFIX = '…[execwarden: ';
/** Strings and arrays this small are never cut. */
const MIN_CUT_CHARS = 256;
const MIN_CUT_ELEMENTS = 8;
const MAX_ROUNDS = 12;

export interface FitResult {
  json: string;
  doc: Record<string, unknown>;
  shortened: boolean;
}

interface Candidate {
  parent: Record<string, unknown> | unknown[];
  key: string | number;
  path: string;
  size: number;
}

function candidates(value: unknown, path: string, out: Candidate[], parent?: Record<string, unknown> | unknown[], key?: string | number): void {
  if (typeof value === 'string') {
    if (parent !== undefined && key !== undefined && value.length > MIN_CUT_CHARS) out.push({ parent, key, path, size: value.length });
    return;
  }
  if (Array.isArray(value)) {
    if (parent !== undefined && key !== undefined && value.length > MIN_CUT_ELEMENTS && value.every((v) => typeof v === 'string')) {
      out.push({ parent, key, path, size: (value as string[]).reduce((sum, v) => sum + v.length + 3, 0) });
    }
    value.forEach((item, index) => candidates(item, path, out, value, index));
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [name, child] of Object.entries(value)) candidates(child, path === '' ? name : `${path}.${name}`, out, value as Record<string, unknown>, name);
  }
}

/** Keeps `keep` characters of `text`: its head and tail around a marker. */
function cutString(text: string, keep: number): string {
  const half = Math.max(1, Math.floor(keep / 2));
  return `${text.slice(0, half)}${MARKER_PREFIX}${text.length - 2 * half} characters cut]${text.slice(text.length - half)}`;
}

/** Keeps `keep` elements of `items`: the first and last ones around a marker element. */
function cutArray(items: string[], keep: number): string[] {
  const half = Math.max(1, Math.floor(keep / 2));
  return [...items.slice(0, half), `${MARKER_PREFIX}${items.length - 2 * half} elements cut]`, ...items.slice(items.length - half)];
}

/** `doc` as one JSON line of at most `maxBytes` (see the module header). */
export function fitDocument(doc: Record<string, unknown>, maxBytes: number): FitResult {
  const json = toJsonLine(doc);
  const originalBytes = Buffer.byteLength(json);
  if (originalBytes <= maxBytes) return { json, doc, shortened: false };
  const copy = structuredClone(doc);
  const shortened = new Set<string>();
  let current = json;
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    const found: Candidate[] = [];
    candidates(copy, '', found);
    if (found.length === 0) break;
    found.sort((a, b) => b.size - a.size);
    const excess = Buffer.byteLength(current) - maxBytes;
    // Each round keeps a smaller share of each of the largest values, until the excess is gone.
    const share = 1 / 2 ** round;
    let removed = 0;
    for (const candidate of found) {
      if (removed >= excess) break;
      const value = (candidate.parent as Record<string | number, unknown>)[candidate.key];
      if (typeof value === 'string') {
        const keep = Math.max(MIN_CUT_CHARS / 2, Math.floor(value.length * share));
        if (keep >= value.length - MARKER_PREFIX.length - 24) continue;
        (candidate.parent as Record<string | number, unknown>)[candidate.key] = cutString(value, keep);
        removed += value.length - keep;
      } else if (Array.isArray(value)) {
        const keep = Math.max(MIN_CUT_ELEMENTS / 2, Math.floor(value.length * share));
        if (keep >= value.length - 1) continue;
        (candidate.parent as Record<string | number, unknown>)[candidate.key] = cutArray(value as string[], keep);
        removed += candidate.size * (1 - keep / value.length);
      }
      shortened.add(candidate.path);
    }
    const execwarden = (copy.execwarden ?? {}) as Record<string, unknown>;
    copy.execwarden = { ...execwarden, output: { shortened: [...shortened].sort(), original_bytes: originalBytes } };
    current = toJsonLine(copy);
    if (Buffer.byteLength(current) <= maxBytes) return { json: current, doc: copy, shortened: true };
  }
  return { json: current, doc: copy, shortened: true };
}
