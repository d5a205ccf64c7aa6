/**
 * Base class for every error execwarden raises on purpose. `code` is stable and documented; the
 * message is for people. The CLI maps codes to exit statuses in one place (src/cli/exit.ts).
 */
export class ExecwardenError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
