/** The streams and stop signal a command runs with; tests pass in-memory ones. */
export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin?: NodeJS.ReadableStream;
  /** Aborted on SIGINT/SIGTERM for long-running commands. */
  signal?: AbortSignal;
}
