/**
 * The one place that turns an error escaping a command into a message and an exit status.
 * Expected failures (ExecwardenError) print their code and message; anything else is a bug and
 * prints its stack.
 *
 * A failed write to standard output is decided here too (stdoutFailureStatus). For a one-shot
 * command (query, replay, rules, capture, …) a reader that went away, as in `execwarden query … |
 * head -1`, is how pipelines end: the command exits 0 at once and says nothing, as a program killed
 * by SIGPIPE would (Node ignores SIGPIPE, so the write fails with EPIPE instead). Any other write
 * failure (a full disk, /dev/full) is a failure: one line on stderr, exit 1. `run` is not decided
 * here: its stdout is one of the agent's outputs, whose sink counts the failure and keeps going.
 */
import { CommanderError } from 'commander';
import { ExecwardenError } from '../errors.js';
import { describeError } from '../outputs/errors.js';
import { isReaderGone } from '../outputs/stream-write.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERNAL = 70;

/** Error codes that mean "the user asked for something malformed" rather than "it failed". */
const USAGE_CODES = new Set(['CONFIG_INVALID', 'USAGE']);

export function exitCodeFor(error: unknown, stderr: NodeJS.WritableStream): number {
  if (error instanceof CommanderError) {
    // commander already printed its message; help and version exit 0.
    return error.exitCode;
  }
  if (error instanceof ExecwardenError) {
    stderr.write(`execwarden: ${error.message} [${error.code}]\n`);
    return USAGE_CODES.has(error.code) || error.code.startsWith('EQL') ? EXIT_USAGE : EXIT_FAILURE;
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  stderr.write(`execwarden: internal error: ${text}\n`);
  return EXIT_INTERNAL;
}

/** Standard output could not be written: the command's output is incomplete. */
export class StdoutWriteError extends ExecwardenError {
  constructor(cause: unknown) {
    super('OUTPUT_WRITE_FAILED', `cannot write to standard output: ${describeError(cause)}`, { cause });
  }
}

/** The exit status of a one-shot command whose stdout failed with `error`; prints why when it is a failure. */
export function stdoutFailureStatus(error: unknown, stderr: NodeJS.WritableStream): number {
  if (isReaderGone(error)) return EXIT_OK;
  return exitCodeFor(new StdoutWriteError(error), stderr);
}
