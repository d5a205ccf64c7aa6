/**
 * Alerts (and events, with `--events`) on standard output: NDJSON for machines, or one readable,
 * optionally coloured line per document (`pretty`). The stream is never ended by close(): it
 * belongs to the process.
 *
 * Standard output is one output among others, and its failure is that output's failure, never the
 * agent's. A failed write is counted and retried like any sink's, except when the stream is done
 * for: its reader went away (EPIPE, as in `execwarden run | head -1`) or the stream destroyed
 * itself after an error. Then retrying cannot help, so the sink stops: the failure is counted and
 * reported once (the agent logs it as a warning); documents already queued behind it are refused
 * without a write (each a failure, dropped); every later document is dropped and counted at once,
 * without a write or another report. The agent keeps running on its other outputs, and keeps
 * running even when stdout was its only one: an output must not be able to take the agent down,
 * and its metrics, counters and log still show what was lost.
 *
 * The sink listens for 'error' on its stream from construction on, and never stops listening: a
 * stream that emits 'error' with no listener ends the process, and a write still in flight at
 * close() may fail after it.
 *
 * Under systemd, standard output is the journal (JOURNAL_STREAM names the stream), which splits a
 * line longer than its LineMax (48 KiB by default, journald.conf(5)) into several entries: half an
 * alert in each, neither of them JSON. There an NDJSON line is kept under that limit by shortening
 * the alert's longest fields (fit-document.ts), never by dropping or splitting it.
 */
import { fstatSync } from 'node:fs';
import { DeliveryRejectedError, describeError } from './errors.js';
import { fitDocument } from './fit-document.js';
import { formatPretty } from './pretty-format.js';
import { QueuedSink, type RetryPolicy, type SinkErrorHandler, type SinkTransport } from './queued-sink.js';
import type { MinSeverity } from './severity.js';
import type { SinkStats } from './sink.js';
import { isReaderGone, writeToStream } from './stream-write.js';

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
  /** Alerts below this are counted as filtered, not written. Default low: every alert. */
  minSeverity?: MinSeverity;
  env?: NodeJS.ProcessEnv;
  /** Longest NDJSON line (bytes, newline excluded). Default: journald's LineMax when stdout is the journal, else none. */
  maxLineBytes?: number;
}

/** journald's default LineMax (journald.conf(5)), less the newline. */
export const JOURNAL_LINE_MAX_BYTES = 48 * 1024 - 1;

/** Whether `fd` is the journal stream systemd connected (JOURNAL_STREAM is "device:inode", systemd.exec(5)). */
export function isJournalStream(fd: number, env: NodeJS.ProcessEnv = process.env): boolean {
  const match = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!match) return false;
  try {
    const stat = fstatSync(fd);
    return String(stat.dev) === match[1] && String(stat.ino) === match[2];
  } catch {
    return false;
  }
}

/** Whether pretty output gets ANSI colours. */
export function useColor(mode: ColorMode, stream: NodeJS.WritableStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (mode !== 'auto') return mode === 'always';
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '' && force !== '0' && force !== 'false') return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return (stream as NodeJS.WritableStream & { isTTY?: boolean }).isTTY === true;
}

/** The stream is done for: why, as the error the queue drops the document with. */
class StreamClosedError extends DeliveryRejectedError {
  constructor(cause: unknown) {
    const what = isReaderGone(cause) ? "standard output's reader is gone" : 'standard output failed for good';
    super(`${what} (${describeError(cause)}): the stdout output stops here; further documents are dropped and counted`);
  }
}

class StreamTransport implements SinkTransport<string> {
  /** Set once the stream is done for; every send after that fails with it, without writing. */
  closed: StreamClosedError | null = null;
  /** Whether a send has failed with `closed`, so the queue has counted and reported the end. */
  closedSeen = false;

  constructor(private readonly stream: NodeJS.WritableStream) {
    stream.on('error', (error: unknown) => this.failed(error));
  }

  async open(): Promise<void> {
    if (!this.stream.writable) throw new Error('stream is not writable');
  }

  async send(line: string): Promise<void> {
    let failure: unknown = this.closed;
    if (failure === null) {
      try {
        await writeToStream(this.stream, line);
        return;
      } catch (error) {
        failure = this.failed(error) ?? error;
      }
    }
    if (failure === this.closed) this.closedSeen = true;
    throw failure;
  }

  async close(): Promise<void> {}

  /** Notes a stream error; returns the error that ends the output when it is final, else null. */
  private failed(error: unknown): StreamClosedError | null {
    if (this.closed) return this.closed;
    if (!isReaderGone(error) && this.stream.writable) return null;
    this.closed = new StreamClosedError(error);
    return this.closed;
  }
}

export class StdoutSink extends QueuedSink<string> {
  readonly format: StdoutFormat;
  private readonly output: StreamTransport;
  /** Documents refused without a write because the stream was already done for. */
  private droppedClosed = 0;

  constructor(options: StdoutSinkOptions = {}) {
    const stream = options.stream ?? process.stdout;
    const format = options.format ?? 'ndjson';
    const color = format === 'pretty' && useColor(options.color ?? 'auto', stream, options.env);
    const transport = new StreamTransport(stream);
    const onError = options.onError;
    const maxLineBytes =
      options.maxLineBytes ?? (stream === process.stdout && isJournalStream(1, options.env) ? JOURNAL_LINE_MAX_BYTES : Infinity);
    let endReported = false;
    super({
      name: 'stdout',
      transport,
      encode: format === 'pretty' ? (doc) => `${formatPretty(doc, { color })}\n` : (doc) => `${fitDocument(doc, maxLineBytes).json}\n`,
      maxQueued: options.maxQueued,
      retry: options.retry,
      minSeverity: options.minSeverity,
      onError: onError && ((name, error) => {
        // The end of the stream is reported once, not again for each document queued behind it.
        if (error === transport.closed) {
          if (endReported) return;
          endReported = true;
        }
        onError(name, error);
      }),
    });
    this.format = format;
    this.output = transport;
  }

  /** Whether the stream is done for (its reader went away, or it failed for good): the output has stopped. */
  get closed(): boolean {
    return this.output.closed !== null;
  }

  protected override accept(doc: Record<string, unknown>): void {
    // Until a send has failed on the closed stream (it may have closed under someone else's
    // write), documents still go to the queue, so that the failure is counted and reported once.
    if (this.output.closedSeen) {
      this.droppedClosed += 1;
      return;
    }
    super.accept(doc);
  }

  override stats(): SinkStats {
    const stats = super.stats();
    return { ...stats, dropped: stats.dropped + this.droppedClosed };
  }
}
