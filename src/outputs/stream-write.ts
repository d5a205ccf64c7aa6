/**
 * Writing to Node streams the process does not own (its stdout above all). Node ignores SIGPIPE,
 * so a write to a pipe whose reader has exited (`execwarden … | head -1`) does not end the process
 * the way it ends `cat`: the write fails with EPIPE, and the stream then emits 'error', which ends
 * the process with a stack trace unless someone listens. Whoever writes to such a stream listens.
 */

/** Writes to a Node stream and resolves once the stream has taken the chunk (its callback ran). */
export function writeToStream(stream: NodeJS.WritableStream, chunk: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    stream.write(chunk, (error?: Error | null) => (error ? reject(error) : resolve()));
  });
}

/**
 * Whether a write error means the stream's reader has gone for good: EPIPE (the last reader of a
 * pipe or socket closed it) or ECONNRESET (a socket peer reset it). Nothing written later can
 * reach anyone.
 */
export function isReaderGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'EPIPE' || code === 'ECONNRESET';
}
