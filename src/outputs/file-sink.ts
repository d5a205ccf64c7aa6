/**
 * NDJSON appended to a file that only root can read (created 0600 in a directory created 0700 if
 * missing; an existing file keeps the mode its owner gave it). reopen() closes and reopens the
 * path, which is what logrotate needs: after it renames the file and sends SIGHUP, the agent calls
 * reopen() and the next alert lands in a fresh file at the configured path.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { toJsonLine } from './json-line.js';
import { QueuedSink, type RetryPolicy, type SinkErrorHandler, type SinkTransport } from './queued-sink.js';

export const FILE_MODE = 0o600;
export const DIRECTORY_MODE = 0o700;

export interface FileSinkOptions {
  path: string;
  maxQueued?: number;
  retry?: Partial<RetryPolicy>;
  onError?: SinkErrorHandler;
}

class AppendFileTransport implements SinkTransport<string> {
  private handle: FileHandle | null = null;

  constructor(private readonly path: string) {}

  async open(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: DIRECTORY_MODE });
    this.handle = await open(this.path, 'a', FILE_MODE);
  }

  async send(line: string): Promise<void> {
    if (!this.handle) await this.open();
    await (this.handle as FileHandle).write(line);
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
    });
    this.path = options.path;
  }
}
