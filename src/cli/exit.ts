/**
 * The one place that turns an error escaping a command into a message and an exit status.
 * Expected failures (ExecwardenError) print their code and message; anything else is a bug and
 * prints its stack.
 */
import { CommanderError } from 'commander';
import { ExecwardenError } from '../errors.js';

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
