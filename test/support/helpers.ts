/** Small helpers several test files share: a port nobody listens on, a text-collecting stream, EQL errors. */
import { createServer, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { EqlError } from '../../src/eql/index.js';

/** A loopback TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A writable stream that keeps everything written to it as text. */
export class TextSink extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
  lines(): string[] {
    return this.text.split('\n').filter((line) => line !== '');
  }
}

/** The EqlError `run` throws (anything else is rethrown; no error at all fails). */
export function eqlErrorOf(run: () => unknown): EqlError {
  try {
    run();
  } catch (error) {
    if (error instanceof EqlError) return error;
    throw error;
  }
  throw new Error('expected an EqlError');
}
