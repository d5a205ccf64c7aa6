/**
 * Alerts (and events, with `--events`) on standard output: NDJSON for machines, or one readable,
 * optionally coloured line per document (`pretty`). The stream is never ended by close(): it
 * belongs to the process.
 */
import { toJsonLine } from './json-line.js';
import { formatPretty } from './pretty-format.js';
import { QueuedSink, type RetryPolicy, type SinkErrorHandler, type SinkTransport } from './queued-sink.js';
import { writeToStream } from './stream-write.js';

export type StdoutFormat = 'ndjson' | 'pretty';
export type ColorMode = 'auto' | 'always' | 'never';

export interface StdoutSinkOptions {
  format?: StdoutFormat;
  /** `auto`: colour when the stream is a TTY, unless NO_COLOR is set or FORCE_COLOR asks for it. */
  color?: ColorMode;
  stream?: NodeJS.WritableStream;
  maxQueued?: number;
  retry?: Partial<RetryPolicy>;
  onError?: SinkErrorHandler;
  env?: NodeJS.ProcessEnv;
}

/** Whether pretty output gets ANSI colours. */
export function useColor(mode: ColorMode, stream: NodeJS.WritableStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (mode !== 'auto') return mode === 'always';
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '' && force !== '0' && force !== 'false') return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return (stream as NodeJS.WritableStream & { isTTY?: boolean }).isTTY === true;
}

class StreamTransport implements SinkTransport<string> {
  constructor(private readonly stream: NodeJS.WritableStream) {}

  async open(): Promise<void> {
    if (!this.stream.writable) throw new Error('stream is not writable');
  }

  send(line: string): Promise<void> {
    return writeToStream(this.stream, line);
  }

  async close(): Promise<void> {}
}

export class StdoutSink extends QueuedSink<string> {
  readonly format: StdoutFormat;

  constructor(options: StdoutSinkOptions = {}) {
    const stream = options.stream ?? process.stdout;
    const format = options.format ?? 'ndjson';
    const color = format === 'pretty' && useColor(options.color ?? 'auto', stream, options.env);
    super({
      name: 'stdout',
      transport: new StreamTransport(stream),
      encode: format === 'pretty' ? (doc) => `${formatPretty(doc, { color })}\n` : (doc) => `${toJsonLine(doc)}\n`,
      maxQueued: options.maxQueued,
      retry: options.retry,
      onError: options.onError,
    });
    this.format = format;
  }
}
