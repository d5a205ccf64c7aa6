/**
 * Reads NDJSON from files or stdin (`-`, or no file at all) one line at a time, so inputs of any
 * size stream through. Lines end at `\n` (a `\r` before it is dropped); blank lines are ignored.
 * Also the one place commands write lines with backpressure respected.
 *
 * Input files are untrusted: a recording may come from a compromised host, or be anything at all.
 * A line that is not a usable JSON object is skipped, reported with its file and line number,
 * counted, and reading goes on. The limits in DEFAULT_NDJSON_LIMITS keep one hostile line from
 * costing more than that:
 * - Lines are split here rather than by readline, which buffers a line without bound: bytes past
 *   `maxLineBytes` are dropped as they arrive and the line is reported as too long.
 * - A value nested deeper than `maxDepth` is rejected before anything recurses over it. The depth
 *   is measured with an explicit stack, because a recursive walk would be the very crash it
 *   prevents.
 * - Messages quote the input (JSON.parse's message includes a snippet of the line), so they are
 *   made terminal-safe and cut to `maxMessageChars`; a command prints at most `maxMessages` of
 *   them and then only counts.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { ExecwardenError } from '../errors.js';
import { toJsonLine } from '../outputs/json-line.js';
import { terminalSafe } from '../outputs/terminal-text.js';

export interface NdjsonRecord {
  value: Record<string, unknown>;
  /** The file name, or `-` for stdin. */
  source: string;
  line: number;
}

export interface MalformedLine {
  source: string;
  line: number;
  message: string;
}

export const STDIN = '-';

/** Deepest accepted nesting of objects and arrays; a top-level object is 1. ECS documents nest about 6. */
export const MAX_DOCUMENT_DEPTH = 64;
/** Longest accepted line, counting every byte before its `\n`: 16 MiB. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;
/** Malformed-line messages one command prints; later malformed lines are only counted. */
export const MAX_MALFORMED_MESSAGES = 100;
/** Characters of a malformed line's message shown (after escaping), before a `…(+N chars)` marker. */
export const MAX_MESSAGE_CHARS = 200;

export interface NdjsonLimits {
  maxDepth: number;
  maxLineBytes: number;
  maxMessages: number;
  maxMessageChars: number;
}

export const DEFAULT_NDJSON_LIMITS: Readonly<NdjsonLimits> = Object.freeze({
  maxDepth: MAX_DOCUMENT_DEPTH,
  maxLineBytes: MAX_LINE_BYTES,
  maxMessages: MAX_MALFORMED_MESSAGES,
  maxMessageChars: MAX_MESSAGE_CHARS,
});

export async function* readNdjson(
  inputs: readonly string[],
  stdin: NodeJS.ReadableStream | undefined,
  onMalformed: (problem: MalformedLine) => void,
  limits: Partial<NdjsonLimits> = {},
): AsyncGenerator<NdjsonRecord> {
  const { maxDepth, maxLineBytes } = { ...DEFAULT_NDJSON_LIMITS, ...limits };
  const sources = inputs.length === 0 ? [STDIN] : inputs;
  for (const source of sources) {
    let chunks: AsyncIterable<Buffer | string>;
    if (source === STDIN) {
      if (stdin === undefined) throw new ExecwardenError('USAGE', 'no standard input to read events from');
      // Stopping early must not destroy the caller's stdin (readline only paused it).
      chunks = stdin instanceof Readable ? stdin.iterator({ destroyOnReturn: false }) : stdin;
    } else {
      chunks = createReadStream(source);
    }
    const toRecord = (piece: LinePiece): NdjsonRecord | null => {
      if (piece.kind === 'too-long') {
        onMalformed({ source, line: piece.line, message: `line longer than ${maxLineBytes} bytes` });
        return null;
      }
      if (piece.text.trim() === '') return null;
      const parsed = parseRecord(piece.text, maxDepth);
      if (parsed.ok) return { value: parsed.value, source, line: piece.line };
      onMalformed({ source, line: piece.line, message: parsed.message });
      return null;
    };
    try {
      const splitter = new LineSplitter(maxLineBytes);
      for await (const chunk of chunks) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
        for (const piece of splitter.push(bytes)) {
          const record = toRecord(piece);
          if (record !== null) yield record;
        }
      }
      for (const piece of splitter.end()) {
        const record = toRecord(piece);
        if (record !== null) yield record;
      }
    } catch (error) {
      if (error instanceof ExecwardenError) throw error;
      throw new ExecwardenError('INPUT_UNREADABLE', `cannot read ${source}: ${(error as Error).message}`, { cause: error });
    }
  }
}

type LinePiece = { kind: 'text'; line: number; text: string } | { kind: 'too-long'; line: number };

/**
 * Splits a byte stream into numbered lines, holding at most `maxLineBytes` of one line (plus the
 * chunk being read). An overlong line is reported once, as soon as it passes the limit, and its
 * remaining bytes are dropped up to the next `\n`. Splitting bytes at 0x0a is safe for UTF-8,
 * which never uses that byte inside a multi-byte character, so each line is decoded on its own.
 * Synchronous per chunk, so a line costs no extra trip through the event loop.
 */
class LineSplitter {
  private pieces: Buffer[] = [];
  private held = 0;
  private discarding = false;
  private line = 1;

  constructor(private readonly maxLineBytes: number) {}

  push(bytes: Buffer): LinePiece[] {
    const out: LinePiece[] = [];
    let start = 0;
    while (start < bytes.length) {
      const newline = bytes.indexOf(0x0a, start);
      const end = newline === -1 ? bytes.length : newline;
      if (!this.discarding) {
        if (this.held + (end - start) > this.maxLineBytes) {
          this.discarding = true;
          this.pieces = [];
          this.held = 0;
          out.push({ kind: 'too-long', line: this.line });
        } else if (end > start) {
          this.pieces.push(bytes.subarray(start, end));
          this.held += end - start;
        }
      }
      if (newline === -1) break;
      if (!this.discarding) out.push({ kind: 'text', line: this.line, text: decodeLine(this.pieces, this.held) });
      this.pieces = [];
      this.held = 0;
      this.discarding = false;
      this.line++;
      start = newline + 1;
    }
    return out;
  }

  /** The last line, when the input does not end with `\n`. */
  end(): LinePiece[] {
    return !this.discarding && this.held > 0 ? [{ kind: 'text', line: this.line, text: decodeLine(this.pieces, this.held) }] : [];
  }
}

function decodeLine(pieces: readonly Buffer[], length: number): string {
  const text = (pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, length)).toString('utf8');
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}

type ParsedLine = { ok: true; value: Record<string, unknown> } | { ok: false; message: string };

function parseRecord(text: string, maxDepth: number): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // V8's JSON.parse is iterative today; should deep input ever overflow its stack, the RangeError
    // is still one bad line, not the end of the command.
    const what = error instanceof RangeError ? 'too deeply nested to parse' : 'not JSON';
    return { ok: false, message: `${what} (${error instanceof Error ? error.message : String(error)})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, message: 'not a JSON object' };
  if (nestedDeeperThan(value, maxDepth)) return { ok: false, message: `nested deeper than ${maxDepth} levels` };
  return { ok: true, value: value as Record<string, unknown> };
}

/**
 * Whether objects and arrays in `value` nest more than `maxDepth` deep. Iterative on purpose, with
 * parallel stacks because it runs on every record. `for…in` is safe here: JSON.parse makes only
 * own, enumerable, plain-data properties (`__proto__` included).
 */
function nestedDeeperThan(value: object, maxDepth: number): boolean {
  const containers: object[] = [value];
  const depths: number[] = [1];
  const enter = (child: unknown, depth: number): void => {
    if (typeof child !== 'object' || child === null) return;
    containers.push(child);
    depths.push(depth);
  };
  while (containers.length > 0) {
    const container = containers.pop()!;
    const depth = depths.pop()!;
    if (depth > maxDepth) return true;
    if (Array.isArray(container)) for (const child of container) enter(child, depth + 1);
    else for (const key in container) enter((container as Record<string, unknown>)[key], depth + 1);
  }
  return false;
}

/** One line for stderr: the source and message made terminal-safe, the message cut to `maxMessageChars`. */
export function formatMalformed(problem: MalformedLine, maxMessageChars = MAX_MESSAGE_CHARS): string {
  return `${terminalSafe(problem.source)}:${problem.line}: skipped malformed line: ${terminalSafe(problem.message, maxMessageChars)}`;
}

/**
 * The event records of a command's inputs. Every malformed line is counted in `counts`; the first
 * `maxMessages` are reported on stderr, then one line says the rest are only counted.
 */
export function readEvents(
  inputs: readonly string[],
  io: { stdin?: NodeJS.ReadableStream; stderr: NodeJS.WritableStream },
  counts: { malformed: number },
  limits: Partial<NdjsonLimits> = {},
): AsyncGenerator<NdjsonRecord> {
  const { maxMessages, maxMessageChars } = { ...DEFAULT_NDJSON_LIMITS, ...limits };
  let reported = 0;
  return readNdjson(inputs, io.stdin, (problem) => {
    counts.malformed++;
    if (reported > maxMessages) return;
    const text = reported < maxMessages
      ? formatMalformed(problem, maxMessageChars)
      : `more than ${maxMessages} malformed lines; further ones are counted but not shown`;
    reported++;
    io.stderr.write(`execwarden: ${text}\n`);
  }, limits);
}

/**
 * Writes text, waiting for the stream to drain when its buffer is full, or to close or fail
 * (a destroyed stream never drains; the caller's error handling sees the failure).
 */
export async function writeText(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (stream.write(text)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
    stream.once('error', done);
  });
}

/** Writes one document as one JSON line. */
export function writeJsonLine(stream: NodeJS.WritableStream, doc: unknown): Promise<void> {
  return writeText(stream, `${toJsonLine(doc)}\n`);
}
