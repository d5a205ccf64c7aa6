/**
 * Reads NDJSON from files or stdin (`-`, or no file at all) one line at a time, so inputs of any
 * size stream through. A line that is not a JSON object is reported with its file and line
 * number and skipped; blank lines are ignored. Also the one place commands write lines with
 * backpressure respected.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { ExecwardenError } from '../errors.js';
import { toJsonLine } from '../outputs/json-line.js';

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

export async function* readNdjson(
  inputs: readonly string[],
  stdin: NodeJS.ReadableStream | undefined,
  onMalformed: (problem: MalformedLine) => void,
): AsyncGenerator<NdjsonRecord> {
  const sources = inputs.length === 0 ? [STDIN] : inputs;
  for (const source of sources) {
    let input: NodeJS.ReadableStream;
    if (source === STDIN) {
      if (stdin === undefined) throw new ExecwardenError('USAGE', 'no standard input to read events from');
      input = stdin;
    } else {
      input = createReadStream(source);
    }
    const lines = createInterface({ input, crlfDelay: Infinity });
    let line = 0;
    try {
      for await (const text of lines) {
        line++;
        if (text.trim() === '') continue;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (error) {
          onMalformed({ source, line, message: `not JSON (${(error as Error).message})` });
          continue;
        }
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          onMalformed({ source, line, message: 'not a JSON object' });
          continue;
        }
        yield { value: value as Record<string, unknown>, source, line };
      }
    } catch (error) {
      if (error instanceof ExecwardenError) throw error;
      throw new ExecwardenError('INPUT_UNREADABLE', `cannot read ${source}: ${(error as Error).message}`, { cause: error });
    }
  }
}

export function formatMalformed(problem: MalformedLine): string {
  return `${problem.source}:${problem.line}: skipped malformed line: ${problem.message}`;
}

/** The event records of a command's inputs; each malformed line is reported on stderr and counted. */
export function readEvents(
  inputs: readonly string[],
  io: { stdin?: NodeJS.ReadableStream; stderr: NodeJS.WritableStream },
  counts: { malformed: number },
): AsyncGenerator<NdjsonRecord> {
  return readNdjson(inputs, io.stdin, (problem) => {
    counts.malformed++;
    io.stderr.write(`execwarden: ${formatMalformed(problem)}\n`);
  });
}

/** Writes text, waiting for the stream to drain when its buffer is full. */
export async function writeText(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (!stream.write(text)) await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
}

/** Writes one document as one JSON line. */
export function writeJsonLine(stream: NodeJS.WritableStream, doc: unknown): Promise<void> {
  return writeText(stream, `${toJsonLine(doc)}\n`);
}
