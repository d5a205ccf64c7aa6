/**
 * NDJSON appended to a file that only root can read (created 0600 in a directory created 0700 if
 * missing; an existing file keeps the mode its owner gave it). reopen() closes and reopens the
 * path, which is what logrotate needs: after it renames the file and sends SIGHUP, the agent calls
 * reopen() and the next alert lands in a fresh file at the configured path.
 *
 * A record is written whole or not at all. A write to a full disk can be short (the kernel takes
 * what fits, then refuses the rest): the remainder is written until it fails, and a failed record
 * is cut off again by truncating the file back to where the record began, so the retry (or the
 * next record) starts on a line of its own. If even that truncate fails, the next write starts
 * with a newline, so a torn record never shares its line with a whole one.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { toJsonLine } from './json-line.js';
import { QueuedSink, type RetryPolicy, type SinkErrorHandler, type SinkTransport } from './queued-sink.js';
import type { MinSeverity } from './severity.js';

export const FILE_MODE = 0o600;
export const DIRECTORY_MODE = 0o700;

export interface FileSinkOptions {
  path: string;
  maxQueued?: number;
  retry?: Partial<RetryPolicy>;
  onError?: SinkErrorHandler;
  /** Alerts below this are counted as filtered, not written. Default low: every alert. */
  minSeverity?: MinSeverity;
}

class AppendFileTransport implements SinkTransport<string> {
  private handle: FileHandle | null = null;
  /** A torn record could not be cut off: the next write must begin a new line. */
  private torn = false;

  constructor(private readonly path: string) {}

  async open(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: DIRECTORY_MODE });
    this.handle = await open(this.path, 'a', FILE_MODE);
  }

  async send(line: string): Promise<void> {
    if (!this.handle) await this.open();
    const handle = this.handle as FileHandle;
    const record = Buffer.from(this.torn ? `\n${line}` : line);
    const start = (await handle.stat()).size;
    let written = 0;
    try {
      while (written < record.length) {
        const { bytesWritten } = await handle.write(record, written, record.length - written);
        if (bytesWritten === 0) throw new Error('the file took no bytes');
        written += bytesWritten;
      }
      this.torn = false;
    } catch (error) {
      if (written > 0) {
        try {
          await handle.truncate(start);
        } catch {
          this.torn = true;
        }
      }
      throw error;
    }
  }

  async reopen(): Promise<void> {
    await this.close();
    await this.open();
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }
}

export class FileSink extends QueuedSink<string> {
  readonly path: string;

  constructor(options: FileSinkOptions) {
    super({
      name: 'file',
      transport: new AppendFileTransport(options.path),
      encode: (doc) => `${toJsonLine(doc)}\n`,
      maxQueued: options.maxQueued,
      retry: options.retry,
      onError: options.onError,
      minSeverity: options.minSeverity,
    });
    this.path = options.path;
  }
}
