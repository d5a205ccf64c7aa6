/** Writes to a Node stream and resolves once the stream has taken the chunk (its callback ran). */
export function writeToStream(stream: NodeJS.WritableStream, chunk: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    stream.write(chunk, (error?: Error | null) => (error ? reject(error) : resolve()));
  });
}
