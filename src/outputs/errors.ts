/**
 * Coded errors raised by the outputs. `CONFIG_INVALID` shares its code with the agent's own config
 * errors on purpose: to the user both are "the configuration is wrong" (exit status 2).
 */
import { ExecwardenError } from '../errors.js';

/** `[outputs]` holds an unknown key or a bad value; `issues` lists every problem, one per key path. */
export class OutputsConfigError extends ExecwardenError {
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super('CONFIG_INVALID', issues.join('; '));
    this.issues = issues;
  }
}

/** A sink cannot work at all when the agent starts (unwritable file, no syslog socket, bad URL). */
export class SinkStartError extends ExecwardenError {
  readonly sink: string;

  constructor(sink: string, message: string, options?: { cause?: unknown }) {
    super('OUTPUT_START_FAILED', `output ${sink}: ${message}`, options);
    this.sink = sink;
  }
}

/**
 * The receiver refused a document for good (e.g. HTTP 400): retrying cannot help, so the queue
 * drops it and counts it instead of retrying.
 */
export class DeliveryRejectedError extends ExecwardenError {
  constructor(message: string) {
    super('OUTPUT_DELIVERY_REJECTED', message);
  }
}

/** Short text for an unknown thrown value, with the errno code when there is one. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}
